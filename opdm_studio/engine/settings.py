"""How a cut is coloured and exported: :class:`ColorizeSettings` (one per project).

The CLI and the GUI edit it; :meth:`ColorizeSettings.recipe` is the part that decides a coloured
frame's colours (a result made with another recipe is out of date).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from opdm_studio.errors import ExportError, ProjectError
from opdm_studio.imaging.export import DEFAULT_TEMPLATE, check_template
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines import METHODS, method_name

SNAP_MODES = ("auto", "off", "all")
LAYERS = ("composite", "color", "lines")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "fp32", "bf16", "fp16")


# Image formats a template could end in that OPDM Studio does not write (it writes PNG).
_OTHER_FORMATS = (".jpg", ".jpeg", ".tif", ".tiff", ".tga", ".bmp", ".webp", ".exr", ".psd",
                  ".gif", ".dpx")


def check_template_text(template: str) -> str:
    """``template`` if its text makes clean file names: no control characters (a newline),
    no space at either end, and no other image format's extension (every layer is a PNG);
    else :class:`ExportError` saying why."""
    if any(ord(c) < 32 or ord(c) == 127 for c in template):
        raise ExportError("the naming template holds a control character (a line break or a "
                          "tab); file names must not")
    if template != template.strip():
        raise ExportError("the naming template starts or ends with a space; remove it")
    lowered = template.lower()
    other = next((ext for ext in _OTHER_FORMATS if lowered.endswith(ext)), None)
    if other is not None:
        raise ExportError(f"the naming template ends in {other}, but OPDM Studio writes PNG "
                          "files: end it with .png")
    return template


@dataclass
class ColorizeSettings:
    """How a cut is coloured and exported (one per project; the CLI and the GUI edit it)."""

    method: str = "model"                # "model" (the network; its spec names the pipeline) or "flow"
    model: str | None = None             # None = shipped default; a checkpoint path; or an installed name
    steps: int = 10                      # DDIM steps (paper: 10)
    seed: int = 0                        # base seed; each frame derives its own so resumes are identical
    device: str = "auto"
    dtype: str = "auto"
    working_size: int = 224              # short side of the network's input (paper: 224)
    flow_size: int = FLOW_SIZE           # short side the `flow` method works at (0 = full resolution)
    snap: str = "auto"                   # region snapping to the keyframes' palette: auto | off | all
    gap: int = 3                         # gap closing (px) when finding closed regions
    layers: list[str] = field(default_factory=lambda: ["composite"])
    template: str = DEFAULT_TEMPLATE     # file naming of exported layers
    output_dir: str | None = None        # where layers are written; None = the project folder
    psd: bool = False                    # also write one layered PSD per frame

    def validate(self) -> ColorizeSettings:
        """Raise :class:`ProjectError` naming the first setting that is out of range (a method's
        old name, ``OLD_METHOD_NAMES``, becomes today's)."""
        self.method = method_name(self.method)
        def bad(name: str, value: Any, allowed: str) -> ProjectError:
            return ProjectError(f"setting {name}={value!r} is not valid: {allowed}")
        if self.method not in METHODS:
            raise bad("method", self.method, "use one of " + ", ".join(METHODS))
        if self.snap not in SNAP_MODES:
            raise bad("snap", self.snap, "use one of " + ", ".join(SNAP_MODES))
        if self.device not in DEVICES:
            raise bad("device", self.device, "use one of " + ", ".join(DEVICES))
        if self.dtype not in DTYPES:
            raise bad("dtype", self.dtype, "use one of " + ", ".join(DTYPES))
        if not isinstance(self.steps, int) or not 1 <= self.steps <= 500:
            raise bad("steps", self.steps, "use a whole number from 1 to 500")
        if not isinstance(self.working_size, int) or not 32 <= self.working_size <= 2048:
            raise bad("working_size", self.working_size, "use a whole number from 32 to 2048")
        if not isinstance(self.flow_size, int) or not (self.flow_size == 0 or 32 <= self.flow_size):
            raise bad("flow_size", self.flow_size, "use 0 (full resolution) or at least 32")
        if not isinstance(self.gap, int) or not 0 <= self.gap <= 64:
            raise bad("gap", self.gap, "use a whole number of pixels from 0 to 64")
        if not isinstance(self.seed, int):
            raise bad("seed", self.seed, "use a whole number")
        if not self.layers or any(layer not in LAYERS for layer in self.layers):
            raise bad("layers", ",".join(self.layers), "use one or more of " + ", ".join(LAYERS))
        try:
            check_template(self.template)
            check_template_text(self.template)
        except ExportError as exc:
            raise ProjectError(f"setting template={self.template!r} is not valid: {exc}") from None
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def recipe(self, max_working_size: int | None = None) -> dict[str, Any]:
        """The settings that decide a coloured frame's colours (not device, layers or naming).

        A result made with another recipe is kept and shown but is out of date: the next run
        colours it again. A refine-mode model (the shipped default) runs the steps stored in it,
        so the steps setting is not part of its recipe. ``max_working_size``: the drawing's short
        side, above which the network never works (a larger setting gives the same colours).
        """
        r: dict[str, Any] = {"method": self.method, "snap": self.snap, "gap": self.gap}
        if self.method == "model":
            size = self.working_size
            if max_working_size is not None:
                size = min(size, int(max_working_size))
            r.update(model=self.model or None, seed=self.seed, working_size=size)
            if not _runs_stored_steps(self.model):
                r["steps"] = self.steps
        else:
            r["flow_size"] = self.flow_size
        return r

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColorizeSettings:
        """Build from a dict, ignoring unknown keys (written by a newer version) and reading a
        method's old name (``OLD_METHOD_NAMES``)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("method"), str):
            kwargs["method"] = method_name(kwargs["method"])
        if "layers" in kwargs:
            kwargs["layers"] = list(kwargs["layers"])
        return cls(**kwargs)


def _runs_stored_steps(model: str | None) -> bool:
    """True when the chosen model's inference spec fixes its steps (the steps setting is unused)."""
    from opdm_studio.engine.models import inference_spec_of_file, resolve_model
    from opdm_studio.errors import OPDMError
    try:
        spec = inference_spec_of_file(resolve_model(model))
    except OPDMError:
        return False
    return spec is not None and spec.steps is not None


