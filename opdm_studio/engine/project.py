"""The project document of one cut: its frames, keyframes, settings and per-frame results.

A project lives in its output folder (``opdm-project.json``, beside the exported layers), never in
the cut's source folder unless the caller asks for it. The JSON is versioned, written atomically
(temporary name + ``os.replace``) and the previous good copy is kept as ``opdm-project.json.bak``:
a crash or a full disk never leaves a project that cannot be opened.

Frames are addressed by their *index* in the cut (0-based, natural file order) in the API; the file
stores frame *names* as well, so a project still opens when frames were renamed-free but re-sorted,
and refuses (``ProjectError``) when the cut no longer holds a frame it refers to.

Internal per-frame results (the colour-only layer and the confidence map at full resolution) are
stored under ``opdm-data/`` in the project folder so ``opdm-studio export`` can re-export any layer,
naming or format later without colouring again.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from opdm_studio.errors import CutError, ProjectError
from opdm_studio.fileio import atomic_path, write_text_atomic
from opdm_studio.imaging.export import DEFAULT_TEMPLATE

PROJECT_FILENAME = "opdm-project.json"
DATA_DIRNAME = "opdm-data"
FORMAT = "opdm-studio-project"
FORMAT_VERSION = 1

METHODS = ("opdm", "flow")
SNAP_MODES = ("auto", "off", "all")
LAYERS = ("composite", "color", "lines")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "fp32", "bf16", "fp16")

# Result statuses: "done" = coloured by a method, "keyframe" = copied through from a keyframe,
# "held" = same drawing as an earlier frame whose colours it reuses.
STATUSES = ("done", "keyframe", "held")


@dataclass
class ColorizeSettings:
    """How a cut is coloured and exported (one per project; the CLI and the GUI edit it)."""

    method: str = "opdm"                 # "opdm" (the network) or "flow" (optical flow, no model)
    model: str | None = None             # None = shipped default; a checkpoint path; or an installed name
    steps: int = 10                      # DDIM steps (paper: 10)
    seed: int = 0                        # base seed; each frame derives its own so resumes are identical
    device: str = "auto"
    dtype: str = "auto"
    working_size: int = 224              # short side of the network's input (paper: 224)
    flow_size: int = 540                 # short side the `flow` method works at (0 = full resolution)
    snap: str = "auto"                   # region snapping to the keyframes' palette: auto | off | all
    gap: int = 3                         # gap closing (px) when finding closed regions
    layers: list[str] = field(default_factory=lambda: ["composite"])
    template: str = DEFAULT_TEMPLATE     # file naming of exported layers
    output_dir: str | None = None        # where layers are written; None = the project folder
    psd: bool = False                    # also write one layered PSD per frame

    def validate(self) -> "ColorizeSettings":
        """Raise :class:`ProjectError` naming the first setting that is out of range."""
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
        if not isinstance(self.template, str) or ("{frame" not in self.template
                                                   and "{name" not in self.template):
            raise bad("template", self.template, "it must contain {frame} or {name}, e.g. "
                      + DEFAULT_TEMPLATE)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    def recipe(self) -> dict[str, Any]:
        """The settings that decide a coloured frame's colours (not device, layers or naming).

        A result made with another recipe is kept and shown but is out of date: the next run
        colours it again. A refine-mode model (the shipped default) runs the steps stored in it,
        so the steps setting is not part of its recipe.
        """
        r: dict[str, Any] = {"method": self.method, "snap": self.snap, "gap": self.gap}
        if self.method == "opdm":
            r.update(model=self.model or None, seed=self.seed, working_size=self.working_size)
            if not _runs_stored_steps(self.model):
                r["steps"] = self.steps
        else:
            r["flow_size"] = self.flow_size
        return r

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColorizeSettings":
        """Build from a dict, ignoring unknown keys (written by a newer version)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
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


@dataclass
class KeyFrame:
    """A keyframe: which frame, and where its colour comes from."""

    index: int
    source: str = "cut"      # "cut" = the cut's colour folder; "file" = an explicit image; "result" = promoted result
    path: str | None = None  # colour image (absolute, or relative to the project folder for "result")

    def to_dict(self, name: str) -> dict[str, Any]:
        """JSON form (frames are stored by name as well as index)."""
        return {"name": name, "index": self.index, "source": self.source, "path": self.path}


@dataclass
class FrameResult:
    """What the engine produced for one frame."""

    index: int
    status: str                                        # see STATUSES
    keys: tuple[int, int] | None = None                # (prev, next) keyframe indices used
    method: str | None = None
    color_path: str | None = None                      # stored colour-only layer, relative to project
    confidence_path: str | None = None                 # stored confidence map (8-bit PNG), relative
    outputs: dict[str, str] = field(default_factory=dict)  # layer -> exported file (absolute)
    confidence: float | None = None                    # mean per-region confidence, area weighted
    flagged: int = 0                                   # regions flagged for review
    regions: int = 0                                   # closed regions in the drawing
    source_index: int | None = None                    # for "held": the frame whose colours it reuses
    recipe: dict[str, Any] | None = None               # ColorizeSettings.recipe() it was made with
    seconds: float = 0.0                               # time spent colouring it
    finished: float = 0.0                              # unix time

    def to_dict(self, names: list[str]) -> dict[str, Any]:
        """JSON form; frames are stored by name too so a re-sorted cut still maps correctly."""
        d = asdict(self)
        d["name"] = names[self.index]
        d["keys"] = list(self.keys) if self.keys is not None else None
        d["key_names"] = [names[k] for k in self.keys] if self.keys is not None else None
        d["source_name"] = names[self.source_index] if self.source_index is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: int) -> "FrameResult":
        """Build from JSON, with the index resolved against the current cut."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        kw["index"] = index
        if kw.get("keys") is not None:
            kw["keys"] = (int(kw["keys"][0]), int(kw["keys"][1]))
        if kw.get("status") not in STATUSES:
            raise ValueError(f"unknown status {kw.get('status')!r}")
        return cls(**kw)


def _same_folder(a: Path, b: Path) -> bool:
    """True when folders ``a`` and ``b`` are the same folder (after resolving links)."""
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


class Project:
    """The document of one cut: frames, keyframes and their colour sources, results, settings.

    Create with :meth:`create`, open with :meth:`load`, persist with :meth:`save`. Not thread-safe:
    the GUI's worker owns it while colouring and hands it back when done.
    """

    def __init__(self, root: Path, cut_dir: Path, key_dir: Path | None,
                 settings: ColorizeSettings, cut: Any | None = None):
        self.root = Path(root)
        self.cut_dir = Path(cut_dir)
        self.key_dir = Path(key_dir) if key_dir is not None else None
        self.settings = settings
        self.keyframes: dict[int, KeyFrame] = {}
        self.results: dict[int, FrameResult] = {}
        self._cut = cut
        self.created = time.time()
        # Layer files written for results that were dropped since (a frame became a keyframe):
        # still ours, so a later run may replace them without asking.
        self.retired_outputs: set[str] = set()

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, cut_dir: str | os.PathLike, out_dir: str | os.PathLike,
               keys: Iterable[int] = (), key_dir: str | os.PathLike | None = None,
               settings: ColorizeSettings | None = None, allow_in_source: bool = False,
               cut: Any | None = None) -> "Project":
        """A new project for the cut in ``cut_dir`` whose results go to ``out_dir``.

        ``keys`` are frame indices whose colour comes from the cut's colour folder (``key_dir``,
        or the one ``open_cut`` finds). Raises :class:`ProjectError` when ``out_dir`` is the
        source folder (unless ``allow_in_source``) or a project already exists there.
        """
        cut_dir, out_dir = Path(cut_dir), Path(out_dir)
        if not allow_in_source and _same_folder(out_dir, cut_dir):
            raise ProjectError(
                f"the output folder {out_dir} is the cut's source folder; choose another folder "
                "so the drawings stay untouched")
        if key_dir is not None and not allow_in_source and _same_folder(out_dir, Path(key_dir)):
            raise ProjectError(
                f"the output folder {out_dir} is the keyframe colour folder; choose another folder")
        if (out_dir / PROJECT_FILENAME).exists():
            raise ProjectError(f"{out_dir / PROJECT_FILENAME} already exists; open it instead")
        project = cls(out_dir, cut_dir, Path(key_dir) if key_dir else None,
                      (settings or ColorizeSettings()).validate(), cut=cut)
        color_dir = getattr(project.cut, "color_dir", None)
        if color_dir is not None and not allow_in_source and _same_folder(out_dir, Path(color_dir)):
            raise ProjectError(
                f"the output folder {out_dir} is the keyframe colour folder; choose another folder")
        if not allow_in_source and _same_folder(out_dir, Path(project.cut.folder)):
            raise ProjectError(
                f"the output folder {out_dir} is the cut's drawing folder; choose another folder "
                "so the drawings stay untouched")
        for index in keys:
            project.set_keyframe(index)
        return project

    @property
    def path(self) -> Path:
        """The project file."""
        return self.root / PROJECT_FILENAME

    @property
    def data_dir(self) -> Path:
        """Folder of stored per-frame results (colour-only layer, confidence)."""
        return self.root / DATA_DIRNAME

    @property
    def output_dir(self) -> Path:
        """Where exported layers go."""
        out = self.settings.output_dir
        return Path(out) if out else self.root

    @property
    def cut(self) -> Any:
        """The opened cut (``imaging.cut.Cut``), opened on first use."""
        if self._cut is None:
            from opdm_studio.imaging.cut import open_cut
            self._cut = open_cut(self.cut_dir, color_dir=self.key_dir)
        return self._cut

    def frame_name(self, index: int) -> str:
        """File name of frame ``index`` in the cut."""
        return self.cut.frames[index].name

    def index_of_number(self, number: int) -> int:
        """The index of the frame numbered ``number`` in its file name; ProjectError if none."""
        for f in self.cut.frames:
            if f.number == number:
                return f.index
        first, last = self.cut.frames[0], self.cut.frames[-1]
        raise ProjectError(
            f"the cut {self.cut_dir} has no frame numbered {number} "
            f"(its frames run from {first.name} to {last.name})")

    # ------------------------------------------------------------------ keyframes

    def set_keyframe(self, index: int, color_path: str | os.PathLike | None = None) -> None:
        """Make frame ``index`` a keyframe; colour from ``color_path`` or the cut's colour folder.

        Results that used a different keyframe layout are kept but no longer counted as finished
        (see :meth:`is_finished`), so the next run re-colours them.
        """
        self._check_index(index)
        if color_path is not None:
            path = Path(color_path)
            if not path.is_file():
                raise ProjectError(f"keyframe colour image {path} does not exist")
            self.keyframes[index] = KeyFrame(index, "file", str(path.resolve()))
        else:
            if not self.cut.has_color(index):
                raise ProjectError(
                    f"frame {self.frame_name(index)} has no colour image in "
                    f"{self.key_dir or 'the cut colour folder'}; paint it there or pass its file")
            self.keyframes[index] = KeyFrame(index, "cut", None)
        self._drop_result(index)

    def promote_result(self, index: int) -> None:
        """Make a coloured (and possibly corrected) frame a keyframe: its stored colour becomes truth."""
        res = self.results.get(index)
        if res is None or res.color_path is None or not (self.root / res.color_path).is_file():
            raise ProjectError(f"frame {self.frame_name(index)} has no result to promote")
        # A copy under keys/: re-colouring the frame later must not change the key's truth.
        rel = f"{DATA_DIRNAME}/keys/{Path(self.frame_name(index)).stem}.png"
        dst = self.root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with atomic_path(dst) as tmp:
                shutil.copyfile(self.root / res.color_path, tmp)
        except OSError as exc:
            raise ProjectError(f"cannot store the promoted keyframe {dst}: {exc.strerror or exc}") from exc
        self.keyframes[index] = KeyFrame(index, "result", rel)
        self._drop_result(index)

    def remove_keyframe(self, index: int) -> None:
        """Stop using frame ``index`` as a keyframe."""
        self.keyframes.pop(index, None)
        self._drop_result(index)

    def _drop_result(self, index: int) -> None:
        res = self.results.pop(index, None)
        if res is not None:
            self.retired_outputs.update(res.outputs.values())

    def owned_outputs(self) -> set[str]:
        """Absolute paths of every layer file this project wrote (current and dropped results)."""
        owned = set(self.retired_outputs)
        for res in self.results.values():
            owned.update(res.outputs.values())
        return {str(Path(p).resolve()) for p in owned}

    def key_indices(self) -> list[int]:
        """Sorted keyframe indices."""
        return sorted(self.keyframes)

    def key_color(self, index: int) -> np.ndarray:
        """The colour image of keyframe ``index`` as uint8 (H, W, 3), checked against the cut size."""
        from opdm_studio.imaging.cut import read_image
        key = self.keyframes.get(index)
        if key is None:
            raise ProjectError(f"frame {self.frame_name(index)} is not a keyframe")
        if key.source == "cut":
            rgb = self.cut.color(index)
            if rgb is None:
                raise ProjectError(f"keyframe {self.frame_name(index)} lost its colour image")
        else:
            path = Path(key.path) if key.source == "file" else self.root / str(key.path)
            rgb = read_image(path, mode="rgb")
            w, h = self.cut.size
            if rgb.shape[:2] != (h, w):
                raise ProjectError(
                    f"keyframe colour image {path} is {rgb.shape[1]}x{rgb.shape[0]} but the cut's "
                    f"drawings are {w}x{h}")
        return rgb

    # ------------------------------------------------------------------ results

    def is_finished(self, index: int, keys: tuple[int, int] | None = None) -> bool:
        """True if frame ``index`` has a stored result (made with ``keys`` when given)."""
        res = self.results.get(index)
        if res is None or res.status == "keyframe":
            return False
        if keys is not None and res.keys is not None and tuple(res.keys) != tuple(keys):
            return False
        if res.method is not None and res.method != self.settings.method:
            return False
        if res.recipe is not None and res.recipe != self.settings.recipe():
            return False
        return res.color_path is not None and (self.root / res.color_path).is_file()

    def is_outdated(self, index: int) -> bool:
        """True if frame ``index`` has a stored result that the current keyframes or colouring
        settings would no longer give (it stays visible; the next run colours it again)."""
        from opdm_studio.engine.plan import key_pair
        res = self.results.get(index)
        if res is None or res.status == "keyframe" or res.color_path is None:
            return False
        keys = self.key_indices()
        if not keys:
            return True
        if res.status == "held" and res.source_index is not None and res.source_index != index:
            src = res.source_index
            if res.method is None:                     # held from a keyframe's colours
                return src not in self.keyframes
            if src in self.keyframes or self.is_outdated(src):
                return True
        elif res.keys is not None and tuple(res.keys) != key_pair(index, keys)[:2]:
            return True
        if res.method is not None and res.method != self.settings.method:
            return True
        return res.recipe is not None and res.recipe != self.settings.recipe()

    def result_color(self, index: int) -> np.ndarray | None:
        """Stored colour-only layer (uint8 RGB, full resolution) of frame ``index``, or None."""
        from opdm_studio.imaging.cut import read_image
        res = self.results.get(index)
        if res is None or res.color_path is None:
            return None
        return read_image(self.root / res.color_path, mode="rgb")

    def result_confidence(self, index: int) -> np.ndarray | None:
        """Stored confidence map float32 (H, W) in [0, 1] of frame ``index``, or None."""
        from opdm_studio.imaging.cut import read_image
        res = self.results.get(index)
        if res is None or res.confidence_path is None:
            return None
        return read_image(self.root / res.confidence_path, mode="gray").astype(np.float32) / 255.0

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        names = [f.name for f in self.cut.frames]
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "saved": time.time(),
            "cut": {"folder": str(self.cut_dir.resolve()),
                    "key_dir": str(self.key_dir.resolve()) if self.key_dir else None,
                    "frames": names, "size": list(self.cut.size)},
            "settings": self.settings.to_dict(),
            "keyframes": [k.to_dict(names[i]) for i, k in sorted(self.keyframes.items())],
            "results": [r.to_dict(names) for _, r in sorted(self.results.items())],
            "retired_outputs": sorted(self.retired_outputs),
        }

    def save(self) -> Path:
        """Write the project file atomically; the previous good copy becomes ``.bak``."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1)
        path = self.path
        bak = path.with_name(path.name + ".bak")
        try:
            if path.exists() and _is_valid_project_text(path):
                # Copy (not move) so a project file exists at every instant.
                with atomic_path(bak) as tmp:
                    shutil.copyfile(path, tmp)
            write_text_atomic(path, text, fsync=True)
        except OSError as exc:
            raise ProjectError(f"cannot save the project file {path}: {exc.strerror or exc}") from exc
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, cut: Any | None = None) -> "Project":
        """Open a project file (or the folder holding one).

        A corrupt or foreign file raises :class:`ProjectError`; the ``.bak`` copy is left untouched
        and named in the message so the user can open it.
        """
        path = Path(path)
        if path.is_dir():
            path = path / PROJECT_FILENAME
        if not path.is_file():
            raise ProjectError(f"no project file at {path}")
        bak = path.with_name(path.name + ".bak")
        hint = (f"; the previous good copy is kept at {bak} (open that file instead)"
                if bak.is_file() else "")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProjectError(f"the project file {path} is corrupt ({exc}){hint}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProjectError(f"{path} is not an OPDM Studio project file{hint}")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ProjectError(
                f"the project file {path} was written by a newer OPDM Studio (format {version}); "
                "update the application to open it")
        try:
            cut_info = data["cut"]
            settings = ColorizeSettings.from_dict(data.get("settings", {})).validate()
            root = path.parent
            project = cls(root, Path(cut_info["folder"]),
                          Path(cut_info["key_dir"]) if cut_info.get("key_dir") else None,
                          settings, cut=cut)
            project.created = float(data.get("created", time.time()))
            project.retired_outputs = {str(x) for x in data.get("retired_outputs", [])}
            try:
                frames = project.cut.frames
            except CutError as exc:
                raise ProjectError(f"the project {path} refers to a cut that cannot be opened: {exc}") from exc
            by_name = {f.name: f.index for f in frames}

            def index_of(entry: dict[str, Any]) -> int:
                name = entry["name"]
                if name not in by_name:
                    raise ProjectError(
                        f"the project {path} refers to frame {name}, which is no longer in "
                        f"{project.cut_dir}")
                return by_name[name]

            for k in data.get("keyframes", []):
                i = index_of(k)
                project.keyframes[i] = KeyFrame(i, str(k.get("source", "cut")), k.get("path"))
            for r in data.get("results", []):
                i = index_of(r)
                res = FrameResult.from_dict(r, i)
                if r.get("key_names"):
                    kp, kn = r["key_names"]
                    res.keys = (index_of({"name": kp}), index_of({"name": kn}))
                if r.get("source_name"):
                    res.source_index = index_of({"name": r["source_name"]})
                project.results[i] = res
        except ProjectError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProjectError(f"the project file {path} is damaged ({exc!r}){hint}") from exc
        return project

    # ------------------------------------------------------------------ helpers

    def _check_index(self, index: int) -> None:
        n = len(self.cut.frames)
        if not isinstance(index, (int, np.integer)) or not 0 <= int(index) < n:
            raise ProjectError(f"frame index {index} is outside the cut (0..{n - 1})")


def _is_valid_project_text(path: Path) -> bool:
    """True if ``path`` parses as one of our project files (so it may become the backup)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT
