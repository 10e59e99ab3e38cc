"""Colour frames between keyframes: per frame (:class:`FrameColorizer`) and per cut (:class:`Colorizer`).

Per frame, method ``opdm``: the drawing and the two keyframes are brought to the working size
(short side ``settings.working_size``, aspect kept, padded to a multiple of 16), the DDIM sampler
runs ``settings.steps`` steps, the guess is cropped and resized back to the drawing's full
resolution, every closed region of the drawing is snapped to the two keyframes' palette
(``imaging.regions``) and the original lines are put on top. Method ``flow`` replaces the network by
line-art optical flow from both keyframes (``imaging.flow.propagate_two``); the rest is the same.

Per cut, :meth:`Colorizer.run` is a generator of :class:`ProgressEvent`: it follows a
:mod:`~opdm_studio.engine.plan`, writes each finished frame (layers + stored result + project file)
before starting the next, and checks a :class:`CancelToken` between sampler steps. A cancelled
frame is discarded, finished frames stay, the project file is valid at every instant, and a later
run resumes with the frames that have no finished result.

No Qt here: the GUI drives :meth:`Colorizer.run` from its worker thread and throttles the events.
"""
from __future__ import annotations

import hashlib
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Iterator

import cv2
import numpy as np

from opdm_studio.engine.plan import PlanItem, make_plan
from opdm_studio.engine.project import DATA_DIRNAME, ColorizeSettings, FrameResult, Project
from opdm_studio.errors import Cancelled, ExportError, ProjectError

SIZE_MULTIPLE = 16


class CancelToken:
    """Thread-safe stop flag: the GUI or a signal handler sets it, the engine checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at the next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the work should stop."""
        if self._event.is_set():
            raise Cancelled("stopped by the user; finished frames are kept")


@dataclass
class FrameOutput:
    """Everything one coloured frame yields, at the drawing's full resolution."""

    composite: np.ndarray        # uint8 (H, W, 3): colours with the original lines on top
    color_only: np.ndarray       # uint8 (H, W, 3): flat colours, no lines (compositor's colour layer)
    raw: np.ndarray              # uint8 (H, W, 3): the method's guess before snapping
    confidence_map: np.ndarray   # float32 (H, W) in [0, 1]
    confidence: float            # area-weighted mean region confidence
    flagged: int                 # regions flagged for review
    regions: int                 # closed regions in the drawing


@dataclass(slots=True)
class ProgressEvent:
    """One progress report of :meth:`Colorizer.run` (cheap: no image copies).

    kind: "start" (plan ready), "frame" (a frame starts), "step" (a sampler step finished),
    "done" (a frame finished and is saved; ``result`` and ``output`` set), "skip" (already
    finished earlier), "finished" (all done), "cancelled" (stopped; finished frames kept).
    """

    kind: str
    frame: int                   # 1-based position in the plan (0 for start/finished)
    frames: int                  # number of frames in the plan
    index: int = -1              # frame index in the cut
    name: str = ""
    step: int = 0                # 1-based sampler step within the frame
    steps: int = 0
    elapsed: float = 0.0         # seconds since run() started
    eta: float | None = None     # seconds left (None until one frame has been timed)
    result: FrameResult | None = None
    output: FrameOutput | None = None
    message: str = ""
    completed: int | None = None  # frames finished or finishing (the engine sets it; None = use frame)

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1] (finished frames, refined by the sampler's steps)."""
        if self.frames <= 0 or self.kind == "finished":
            return 1.0
        inner = (self.step / self.steps) if (self.kind == "step" and self.steps) else 0.0
        if self.completed is not None:
            # A frame can still be finishing in the background while the next one samples.
            return min(1.0, (self.completed + inner) / self.frames)
        done = self.frame if self.kind in ("done", "skip") else max(0, self.frame - 1) + inner
        return min(1.0, done / self.frames)


# ---------------------------------------------------------------------- geometry helpers

def working_geometry(width: int, height: int, short_side: int = 224,
                     multiple: int = SIZE_MULTIPLE) -> tuple[int, int, int, int]:
    """(rw, rh, pw, ph): resized size keeping aspect with short side ``short_side``, and the
    padded size (multiples of ``multiple``) the network runs at."""
    scale = short_side / float(min(width, height))
    rw = max(1, int(round(width * scale)))
    rh = max(1, int(round(height * scale)))
    pw = int(math.ceil(rw / multiple) * multiple)
    ph = int(math.ceil(rh / multiple) * multiple)
    return rw, rh, pw, ph


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (w, h) with area averaging when shrinking (keeps thin lines as gray)."""
    h, w = img.shape[:2]
    if (w, h) == size:
        return img
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


def _pad(img: np.ndarray, pw: int, ph: int, value: int | None) -> np.ndarray:
    """Pad right/bottom to (pw, ph): constant ``value`` (paper) or edge replication (colours)."""
    h, w = img.shape[:2]
    if (w, h) == (pw, ph):
        return img
    if value is None:
        return cv2.copyMakeBorder(img, 0, ph - h, 0, pw - w, cv2.BORDER_REPLICATE)
    return cv2.copyMakeBorder(img, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=value)


def line_mask_of(line_u8: np.ndarray) -> np.ndarray:
    """Ink mask (True on ink) of a gray line drawing (imaging's drawing threshold)."""
    from opdm_studio.imaging.lineart import line_mask_from_drawing
    return line_mask_from_drawing(line_u8)


def _fingerprint(*arrays: np.ndarray) -> bytes:
    """Cheap identity of key images (for caches when the caller gives no key ids)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a[::7, ::7]).tobytes())
    return h.digest()


def frame_seed(base_seed: int, index: int) -> int:
    """Seed of frame ``index``: fixed per frame so a resumed or re-run cut gives the same result."""
    return (int(base_seed) * 1_000_003 + int(index) * 7919 + 12345) % (2 ** 31 - 1)


# ---------------------------------------------------------------------- per-frame colouriser

def drive_sampler(sampler: Iterator[Any], device: Any, dtype: Any,
                  cancel: "CancelToken | None") -> Generator[tuple[int, int], None, Any]:
    """Step a DDIM generator under inference mode, yield (step, total) after each step and check
    the cancel token between steps; return the last x0 prediction.

    Inference mode / autocast cover only the sampler's own work: the caller's code between steps
    must not run under them.
    """
    from opdm_studio.core.device import inference
    x0 = None
    while True:
        with inference(device, dtype):
            try:
                step = next(sampler)
            except StopIteration:
                break
        x0 = step.x0
        yield (step.index + 1, step.total)
        if cancel is not None and step.index + 1 < step.total:
            cancel.raise_if_cancelled()
    assert x0 is not None, "the sampler made no step"
    return x0


class FrameColorizer:
    """Colours one drawing from two keyframes; reusable across frames (caches per key pair).

    ``method`` "opdm" needs ``model`` (an :class:`~opdm_studio.core.model.OPDM` in eval mode);
    "flow" needs none. The evaluation command uses this class directly, the cut-level
    :class:`Colorizer` drives it for every planned frame.
    """

    def __init__(self, method: str = "opdm", model: Any = None,
                 settings: ColorizeSettings | None = None) -> None:
        self.settings = (settings or ColorizeSettings(method=method)).validate()
        self.method = method
        if method not in ("opdm", "flow"):
            raise ProjectError(f"unknown colouring method {method!r}: use opdm or flow")
        if method == "opdm" and model is None:
            raise ValueError("method 'opdm' needs a model")
        self.model = model
        self._pair_key: Any = None
        self._pair: dict[str, Any] = {}
        self._torch: dict[str, Any] = {}
        self._refine: Any = None
        if method == "opdm":
            from opdm_studio.engine.refine import refine_mode_of
            # Models trained to correct the flow propagation (issue 9) say so in their config.
            self._refine = refine_mode_of(model)
            self._setup_torch()

    # -- torch setup (only for opdm) ---------------------------------------------------------
    def _setup_torch(self) -> None:
        import torch

        from opdm_studio.core.device import pick_device, pick_dtype, prepare_for_inference
        from opdm_studio.core.diffusion import GaussianDiffusion
        try:
            device = pick_device(self.settings.device)
            dtype = pick_dtype(device, self.settings.dtype)
        except ValueError as exc:   # e.g. --device cuda on a machine without a GPU
            raise ProjectError(f"cannot colour on device {self.settings.device!r}: {exc}") from exc
        if dtype == torch.float32 and any(p.dtype != torch.float32 for p in self.model.parameters()):
            # The cached model was prepared in bf16 by an earlier run; fp32 was asked now.
            self.model = self.model.float()
        model = prepare_for_inference(self.model, device, dtype)
        cfg = getattr(model, "config", None)
        diff = GaussianDiffusion.from_config(cfg) if cfg is not None else GaussianDiffusion()
        self.model = model
        self._torch = {"torch": torch, "device": device, "dtype": dtype, "diff": diff.to(device)}

    @property
    def device(self) -> Any:
        """The torch device (None for ``flow``)."""
        return self._torch.get("device")

    @property
    def dtype(self) -> Any:
        """The torch compute dtype (None for ``flow``)."""
        return self._torch.get("dtype")

    # -- public ----------------------------------------------------------------------------
    def colorize(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                 prev_line_u8: np.ndarray | None = None, next_line_u8: np.ndarray | None = None,
                 t: float = 0.5, cancel: CancelToken | None = None,
                 on_step: Callable[[int, int], None] | None = None,
                 line_rgb: np.ndarray | None = None, seed: int | None = None,
                 pair_id: Any = None) -> FrameOutput:
        """Colour ``line_u8`` (uint8 H,W; 255 paper) between ``prev_rgb`` and ``next_rgb``.

        ``prev_line_u8``/``next_line_u8`` are the keys' drawings (needed by ``flow``; extracted
        from the key colours when missing). ``t`` in [0, 1] is the position between the keys.
        ``on_step(j, k)`` is called after sampler step j of k; ``cancel`` is checked between
        steps and raises :class:`Cancelled`. ``pair_id`` names the key pair for the caches (a
        fingerprint of the key images is used when None). ``seed`` defaults to settings.seed.
        """
        gen = self.iter_colorize(line_u8, prev_rgb, next_rgb, prev_line_u8, next_line_u8, t,
                                 cancel, line_rgb, seed, pair_id)
        while True:
            try:
                j, k = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_step is not None:
                on_step(j, k)

    def iter_colorize(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                      prev_line_u8: np.ndarray | None = None, next_line_u8: np.ndarray | None = None,
                      t: float = 0.5, cancel: CancelToken | None = None,
                      line_rgb: np.ndarray | None = None, seed: int | None = None,
                      pair_id: Any = None) -> Generator[tuple[int, int], None, FrameOutput]:
        """Like :meth:`colorize` but a generator: yields ``(step, steps)`` after every sampler
        step and returns the :class:`FrameOutput` (``StopIteration.value``)."""
        guess = yield from self.iter_guess(line_u8, prev_rgb, next_rgb, prev_line_u8,
                                           next_line_u8, t, cancel, seed, pair_id)
        return self.finish(guess, line_u8, line_rgb)

    def iter_guess(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                   prev_line_u8: np.ndarray | None = None, next_line_u8: np.ndarray | None = None,
                   t: float = 0.5, cancel: CancelToken | None = None, seed: int | None = None,
                   pair_id: Any = None) -> Generator[tuple[int, int], None, np.ndarray]:
        """The method's full-resolution colour guess, before snapping: a generator of
        ``(step, steps)`` returning uint8 (H, W, 3). Selects the key pair :meth:`finish` snaps to."""
        h, w = line_u8.shape[:2]
        for name, img in (("previous keyframe", prev_rgb), ("next keyframe", next_rgb)):
            if img.shape[:2] != (h, w):
                raise ProjectError(f"the {name} is {img.shape[1]}x{img.shape[0]} but the drawing "
                                   f"is {w}x{h}")
        self._use_pair(pair_id if pair_id is not None else _fingerprint(prev_rgb, next_rgb),
                       prev_rgb, next_rgb, prev_line_u8, next_line_u8)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if self.method == "flow":
            guess = self._guess_flow(line_u8, prev_rgb, next_rgb, t)
            yield (1, 1)
        elif self._refine is not None:
            from opdm_studio.engine.refine import iter_refine_guess
            guess = yield from iter_refine_guess(self, self._refine, line_u8, prev_rgb, next_rgb,
                                                 self._pair["prev_line"], self._pair["next_line"],
                                                 t, cancel, self.settings.seed if seed is None else seed)
        else:
            guess = yield from self._guess_opdm(line_u8, prev_rgb, next_rgb, cancel,
                                                self.settings.seed if seed is None else seed)
        return guess

    @property
    def palette(self) -> Any:
        """Merged palette of the current key pair (``imaging.regions.Palette``), or None."""
        return self._pair.get("palette")

    def finish(self, guess: np.ndarray, line_u8: np.ndarray,
               line_rgb: np.ndarray | None = None, palette: Any = None) -> FrameOutput:
        """Snap a full-resolution guess to the key pair's palette and put the lines on top.

        ``line_rgb`` is the drawing's own line colours; without it the ink pixels take the guess's
        colour there (the keys' line colour carried by the method). ``palette`` defaults to the current pair's; pass it explicitly when finishing a frame
        in another thread while this colouriser already moved on to another pair.
        """
        from opdm_studio.imaging.regions import find_regions, snap_to_palette
        if palette is None:
            palette = self._pair["palette"]
        mask = line_mask_of(line_u8)
        if line_rgb is None:
            # No line colours given (a bare drawing, e.g. line art extracted from finished frames):
            # the ink keeps the colour the method carried over from the painted keys -- their line
            # colour -- instead of black, which would paint coloured or anti-aliased key lines black.
            line_rgb = np.full_like(guess, 255)
            line_rgb[mask] = guess[mask]
        regions = find_regions(mask, gap=self.settings.gap)
        res = snap_to_palette(guess, regions, palette, mode=self.settings.snap,
                              line_mask=mask, line_rgb=line_rgb)
        # Mean over paint regions (label 0 is the lines), weighted by area.
        conf = np.asarray(res.confidence, dtype=np.float64)[1:]
        areas = np.asarray(regions.areas, dtype=np.float64)[1:len(conf) + 1]
        mean_conf = float((conf * areas).sum() / areas.sum()) if areas.sum() > 0 else 1.0
        return FrameOutput(composite=res.image, color_only=res.color_only, raw=guess,
                           confidence_map=np.asarray(res.confidence_map, dtype=np.float32),
                           confidence=mean_conf, flagged=int(np.count_nonzero(res.flagged)),
                           regions=int(getattr(regions, "count", len(conf))))

    def reset(self) -> None:
        """Forget the cached key pair (reference features, palette)."""
        self._pair_key = None
        self._pair = {}

    # -- per key pair ------------------------------------------------------------------------
    def _use_pair(self, key: Any, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                  prev_line: np.ndarray | None, next_line: np.ndarray | None) -> None:
        if key == self._pair_key:
            return
        from opdm_studio.imaging.lineart import darkness_to_lineart, extract_lines
        from opdm_studio.imaging.regions import extract_palette, merge_palettes
        if prev_line is None:
            prev_line = darkness_to_lineart(extract_lines(prev_rgb))
        if next_line is None:
            next_line = darkness_to_lineart(extract_lines(next_rgb))
        pal_p = extract_palette(prev_rgb, line_mask=line_mask_of(prev_line))
        pal_n = pal_p if next_rgb is prev_rgb else extract_palette(next_rgb, line_mask=line_mask_of(next_line))
        # Drop the previous pair's big arrays before building the next (memory stays flat).
        self._pair = {"palette": merge_palettes(pal_p, pal_n), "prev_line": prev_line,
                      "next_line": next_line}
        self._pair_key = key

    # -- methods -----------------------------------------------------------------------------
    def _guess_flow(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                    t: float) -> np.ndarray:
        from opdm_studio.imaging.flow import propagate_two
        h, w = line_u8.shape[:2]
        size = self.settings.flow_size
        if size and min(w, h) > size:
            # Flow at a reduced size (about 4x faster at 1080p for a ~1 % loss before snapping):
            # snapping at full resolution restores crisp region colours afterwards.
            scale = size / float(min(w, h))
            small = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
            if self._pair.get("flow_small") is None or self._pair["flow_small"][0] != small:
                self._pair["flow_small"] = (small, _resize(prev_rgb, small), _resize(next_rgb, small),
                                            _resize(self._pair["prev_line"], small),
                                            _resize(self._pair["next_line"], small))
            _, pr, nr, pl, nl = self._pair["flow_small"]
            prop = propagate_two(_resize(line_u8, small), pr, pl, nr, nl, t)
            return cv2.resize(prop.rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        prop = propagate_two(line_u8, prev_rgb, self._pair["prev_line"], next_rgb,
                             self._pair["next_line"], t)
        return prop.rgb

    def _guess_opdm(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                    cancel: CancelToken | None,
                    seed: int) -> Generator[tuple[int, int], None, np.ndarray]:
        from opdm_studio.core.device import inference, prepare_inputs
        from opdm_studio.core.diffusion import ddim_sample
        torch = self._torch["torch"]
        device, dtype, diff = self._torch["device"], self._torch["dtype"], self._torch["diff"]
        h, w = line_u8.shape[:2]
        rw, rh, pw, ph = working_geometry(w, h, self.settings.working_size)

        def to_tensor(img: np.ndarray, pad_value: int | None) -> Any:
            small = _pad(_resize(img, (rw, rh)), pw, ph, pad_value)
            arr = small.astype(np.float32) / 127.5 - 1.0
            arr = arr[None, None] if arr.ndim == 2 else arr.transpose(2, 0, 1)[None]
            return prepare_inputs(torch.from_numpy(np.ascontiguousarray(arr)), device, dtype)

        model = self.model
        line_t = to_tensor(line_u8, 255)
        # The torch contexts are entered around each piece of work, never held across a yield:
        # the caller's code between steps must not run under inference mode or autocast.
        with inference(device, dtype):
            if self._pair.get("geometry") != (pw, ph, rw, rh):
                self._pair["prev_t"] = to_tensor(prev_rgb, None)
                self._pair["next_t"] = to_tensor(next_rgb, None)
                # Reference features F_r depend only on the key pair: computed once per pair.
                self._pair["refs"] = model.encode_references(self._pair["prev_t"], self._pair["next_t"])
                self._pair["geometry"] = (pw, ph, rw, rh)
            prev_t, next_t = self._pair["prev_t"], self._pair["next_t"]
            # F_r + F_o once per frame, reused by every sampler step.
            cond = model.encode_conditions(line_t, prev_t, next_t, refs=self._pair["refs"])
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        sampler = ddim_sample(model, diff, line_t, prev_t, next_t, steps=self.settings.steps,
                              generator=gen, cond=cond)
        x0 = yield from drive_sampler(sampler, device, dtype, cancel)
        with inference(device, dtype):
            out = x0[0, :, :rh, :rw].float().clamp(-1, 1)
            small = ((out + 1.0) * 127.5).permute(1, 2, 0).cpu().numpy()
        # Back to the drawing's full resolution; snapping then makes region colours exact.
        big = cv2.resize(np.ascontiguousarray(small), (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(big + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------- layer files

def layer_paths(project: Project, index: int, layers: Iterable[str], out_dir: Path,
                template: str, psd: bool) -> dict[str, Path]:
    """Output file of each requested layer (and "psd") of frame ``index``."""
    from opdm_studio.imaging.export import frame_filename
    info = project.cut.frames[index]
    cut_name = project.cut.name
    stem = Path(info.name).stem
    out: dict[str, Path] = {}
    for layer in layers:
        out[layer] = out_dir / frame_filename(cut_name, info.number, template, layer=layer, name=stem)
    if psd:
        base = frame_filename(cut_name, info.number, template, layer=None, name=stem)
        out["psd"] = out_dir / (Path(base).stem + ".psd")
    return out


def _check_free(targets: Iterable[Path], owned: set[str], overwrite: bool) -> None:
    """Refuse (before any work) to replace files the project did not write, unless ``overwrite``."""
    if overwrite:
        return
    clash = [p for p in targets if p.exists() and str(p.resolve()) not in owned]
    if clash:
        more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
        raise ExportError(f"{clash[0]} already exists{more}; choose another output folder or "
                          "allow overwriting (--overwrite)")


def _write_layers(project: Project, index: int, color_only: np.ndarray,
                  composite: np.ndarray | None, targets: dict[str, Path]) -> dict[str, str]:
    """Write the requested layers of one frame atomically; returns layer -> absolute path."""
    from opdm_studio.imaging.export import make_layers, write_png_atomic, write_psd
    cut = project.cut
    layers = None
    if any(layer != "composite" for layer in targets) or composite is None:
        # Only built when needed: the composite alone is already at hand for coloured frames.
        layers = make_layers(color_only, line_mask_of(cut.line(index)), cut.line_rgb(index))
    protected = [project.cut_dir] + ([project.key_dir] if project.key_dir else [])
    written: dict[str, str] = {}
    for layer, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if layer == "psd":
            assert layers is not None
            write_psd(path, layers.color, layers.lines, overwrite=True, protected=protected)
        else:
            if layer == "composite" and composite is not None:
                img = composite
            else:
                assert layers is not None
                img = layers.get(layer)
            write_png_atomic(path, img, overwrite=True, protected=protected)
        written[layer] = str(path.resolve())
    return written


def _store_result(project: Project, index: int, color_only: np.ndarray,
                  confidence_map: np.ndarray) -> tuple[str, str]:
    """Keep the colour-only layer and the confidence map in the project (for re-export, review)."""
    from opdm_studio.imaging.export import write_png_atomic
    stem = Path(project.frame_name(index)).stem
    color_rel = f"{DATA_DIRNAME}/color/{stem}.png"
    conf_rel = f"{DATA_DIRNAME}/confidence/{stem}.png"
    (project.root / color_rel).parent.mkdir(parents=True, exist_ok=True)
    (project.root / conf_rel).parent.mkdir(parents=True, exist_ok=True)
    conf8 = np.clip(confidence_map * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Fast compression: these are internal files, read back only for export and review.
    write_png_atomic(project.root / color_rel, color_only, overwrite=True, compress_level=1)
    write_png_atomic(project.root / conf_rel, conf8, overwrite=True, compress_level=1)
    return color_rel, conf_rel


def key_layers(project: Project, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(colour-only, composite) of keyframe ``index``.

    A painted key that already shows the drawing's lines is its own composite, byte for byte
    (the colourist's paint is the truth); a colour-only key (a promoted result, or a paint file
    without lines) gets the original lines put on top.
    """
    from opdm_studio.imaging.export import make_layers
    from opdm_studio.imaging.lineart import luminance
    from opdm_studio.imaging.regions import fill_line_pixels
    rgb = project.key_color(index)
    cut = project.cut
    mask = line_mask_of(cut.line(index))
    color_only = fill_line_pixels(rgb, mask)
    source = project.keyframes[index].source
    # Lines are present when most ink pixels of the drawing are dark in the key image too.
    has_lines = bool(mask.any()) and float(np.mean(luminance(rgb)[mask] < 128)) > 0.5
    if source != "result" and has_lines:
        return color_only, rgb
    return color_only, make_layers(color_only, mask, cut.line_rgb(index)).composite


# ---------------------------------------------------------------------- cut-level colouriser

class _FileHolds:
    """``hold_of`` from the drawings' file contents: a frame whose file is byte-identical to the
    previous frame's repeats its drawing.

    Decoding every drawing to compare pixels (``Cut.hold_of``) costs ~0.3 s per 2K frame before
    the first frame can start; hashing the files costs milliseconds. Identical bytes always mean
    an identical drawing; the rare re-saved held drawing with different bytes is merely coloured
    twice, never wrongly reused.
    """

    def __init__(self, cut: Any) -> None:
        self._cut = cut
        self._digest: dict[int, bytes] = {}
        self._head: dict[int, int] = {}

    def _d(self, i: int) -> bytes:
        if i not in self._digest:
            path = self._cut.frames[i].path
            h = hashlib.blake2b(digest_size=16)
            try:
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError:
                h.update(str(path).encode())   # unreadable: unique, reported when it is coloured
            self._digest[i] = h.digest()
        return self._digest[i]

    def __call__(self, i: int) -> int:
        if i in self._head:
            return self._head[i]
        j = i
        while j > 0 and self._d(j) == self._d(j - 1):
            j -= 1
            if j in self._head:
                j = self._head[j]
                break
        self._head[i] = j
        return j


# Time of a held or key frame (copy + write) relative to a coloured one, for the ETA.
_LIGHT_WEIGHT = 0.05


class Colorizer:
    """Colours the frames of a :class:`Project` between its keyframes (see the module doc).

    ``model``: an OPDM instance to use instead of the project's model choice (tests, benchmarks,
    the GUI's already loaded model). ``overwrite``: replace existing files the project did not
    write. Not thread-safe; run it from one worker thread and cancel through the token.
    """

    def __init__(self, project: Project, model: Any = None, overwrite: bool = False) -> None:
        self.project = project
        self.overwrite = overwrite
        self._model = model
        self._fc: FrameColorizer | None = None

    # -- planning ----------------------------------------------------------------------------
    def plan(self, frames: Iterable[int] | None = None) -> list[PlanItem]:
        """The plan for ``frames`` (indices; None = the whole cut)."""
        cut = self.project.cut
        n = len(cut)
        return make_plan(range(n) if frames is None else frames, self.project.key_indices(), n,
                         hold_of=_FileHolds(cut))

    def frame_colorizer(self) -> FrameColorizer:
        """The per-frame colouriser for the project's settings (loads the model for ``opdm``)."""
        settings = self.project.settings
        if self._fc is not None and self._fc.settings == settings:
            return self._fc
        model = None
        if settings.method == "opdm":
            model = self._model
            if model is None:
                from opdm_studio.engine.models import load_model, resolve_model
                path = resolve_model(settings.model)
                model, _cfg, _meta = load_model(path)
        # A copy: later edits of the project's settings must not change a running colouriser.
        self._fc = FrameColorizer(settings.method, model, ColorizeSettings.from_dict(settings.to_dict()))
        return self._fc

    def _item_done(self, item: PlanItem) -> bool:
        res = self.project.results.get(item.index)
        if item.kind == "key":
            return res is not None and res.status == "keyframe"
        want = "done" if item.kind == "color" else "held"
        if res is None or res.status != want:
            return False
        if item.kind == "held" and res.source_index != item.source:
            return False
        return self.project.is_finished(item.index, item.keys)

    # -- running -----------------------------------------------------------------------------
    def run(self, frames: Iterable[int] | None = None, cancel: CancelToken | None = None,
            force: bool = False) -> Iterator[ProgressEvent]:
        """Colour ``frames`` (indices; None = all), yielding :class:`ProgressEvent` as it goes.

        Frames with a finished result are skipped (their missing layer files are re-written from
        the stored result) unless ``force``. Raises :class:`ExportError` before any work when an
        output file exists that this project did not write (unless ``overwrite``).
        """
        project = self.project
        settings = project.settings.validate()
        cancel = cancel or CancelToken()
        t0 = time.perf_counter()
        items = self.plan(frames)
        total = len(items)
        out_dir = project.output_dir
        targets = {it.index: layer_paths(project, it.index, settings.layers, out_dir,
                                         settings.template, settings.psd) for it in items}
        todo = [it for it in items if force or not self._item_done(it)]
        todo_set = {it.index for it in todo}
        _check_free([p for it in todo for p in targets[it.index].values()],
                    project.owned_outputs(), self.overwrite)
        fc: FrameColorizer | None = None
        if any(it.kind == "color" for it in todo):
            # Load the model (or fail: no model installed, bad checkpoint, no GPU) before
            # anything is written.
            fc = self.frame_colorizer()
            fc.reset()   # key images may have changed since the last run
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from exc
        project.save()   # the project exists (and is valid) before the first frame is written

        st = {"left": sum(1.0 if it.kind == "color" else _LIGHT_WEIGHT for it in todo),
              "done": 0.0, "completed": 0, "sampled": 0, "work_t0": None}
        last_output: list[tuple[int, FrameOutput]] = []   # colours reused by the next held frames
        pending: list[tuple[int, PlanItem, str, float, Future]] = []
        # One background thread snaps and writes frame i while the sampler works on frame i+1:
        # on a 2-core CPU the two overlap almost fully (OpenCV and zlib release the GIL).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opdm-finish")

        def eta(extra: float = 0.0) -> float | None:
            if st["work_t0"] is None or st["done"] + extra <= 0:
                return None
            rate = (time.perf_counter() - st["work_t0"]) / (st["done"] + extra)
            return max(0.0, (st["left"] - extra) * rate)

        def event(kind: str, pos: int, item: PlanItem | None = None, **kw: Any) -> ProgressEvent:
            return ProgressEvent(kind, pos, total, item.index if item else -1,
                                 project.frame_name(item.index) if item else "",
                                 elapsed=time.perf_counter() - t0, completed=st["sampled"], **kw)

        def record(item: PlanItem, output: FrameOutput, result: FrameResult,
                   frame_t0: float) -> None:
            result.seconds = time.perf_counter() - frame_t0
            result.finished = time.time()
            project.results[item.index] = result
            project.save()
            weight = 1.0 if item.kind == "color" else _LIGHT_WEIGHT
            st["done"] += weight
            st["left"] -= weight
            st["completed"] += 1
            if item.kind == "color":
                last_output[:] = [(item.index, output)]

        def settle() -> Iterator[ProgressEvent]:
            # The frame finishing in the background: wait, record, report (errors re-raise here).
            while pending:
                pos_, item_, _name, frame_t0, fut = pending.pop()
                output_, result_ = fut.result()
                record(item_, output_, result_, frame_t0)
                yield event("done", pos_, item_, step=1, steps=1, eta=eta(), result=result_,
                            output=output_)

        def finish_color(item: PlanItem, guess: np.ndarray, palette: Any) -> tuple[FrameOutput, FrameResult]:
            cut = project.cut
            output = fc.finish(guess, cut.line(item.index), cut.line_rgb(item.index), palette=palette)
            result = FrameResult(item.index, "done", keys=item.keys, method=settings.method,
                                 recipe=settings.recipe())
            self._write_frame(item, output, result, targets[item.index])
            return output, result

        try:
            yield event("start", 0, message=f"{len(todo)} of {total} frames to colour")
            for pos, item in enumerate(items, start=1):
                if item.index not in todo_set:
                    yield from settle()
                    res = project.results[item.index]
                    missing = {k: p for k, p in targets[item.index].items() if not p.exists()}
                    if missing:
                        self._rewrite_missing(item, res, missing)
                        project.save()
                    st["completed"] += 1
                    st["sampled"] += 1
                    yield event("skip", pos, item, eta=eta(), result=res)
                    continue
                if cancel.cancelled:
                    yield from settle()
                    yield from self._cancelled(event("cancelled", pos, item))
                    return
                frame_t0 = time.perf_counter()
                if st["work_t0"] is None:
                    st["work_t0"] = frame_t0
                yield event("frame", pos, item, eta=eta())
                if item.kind in ("key", "held"):
                    yield from settle()
                    if item.kind == "key":
                        output, result = self._key_frame(item)
                    else:
                        output, result = self._held_frame(item, last_output[0] if last_output else None)
                    self._write_frame(item, output, result, targets[item.index])
                    record(item, output, result, frame_t0)
                    st["sampled"] += 1
                    yield event("done", pos, item, step=1, steps=1, eta=eta(), result=result,
                                output=output)
                    continue
                assert fc is not None
                gen = self._color_guess(fc, item, cancel)
                try:
                    while True:
                        try:
                            j, k = next(gen)
                        except StopIteration as stop:
                            guess = stop.value
                            break
                        yield event("step", pos, item, step=j, steps=k, eta=eta(j / max(k, 1)))
                except Cancelled:
                    # The frame being sampled is dropped; the one finishing is kept.
                    yield from settle()
                    yield from self._cancelled(event("cancelled", pos, item))
                    return
                # Progress counts this frame from here: only snapping and writing are left.
                st["sampled"] += 1
                yield from settle()
                pending.append((pos, item, project.frame_name(item.index), frame_t0,
                                pool.submit(finish_color, item, guess, fc.palette)))
            yield from settle()
        finally:
            # Closed early (the GUI quit, an error): the frame in flight still gets recorded.
            for _pos, item_, _name, frame_t0, fut in pending:
                try:
                    output_, result_ = fut.result()
                    record(item_, output_, result_, frame_t0)
                except Exception:  # its error was or will be reported by the caller's path
                    pass
            pending.clear()
            pool.shutdown(wait=True)
        yield event("finished", total, eta=0.0,
                    message=f"{len(todo)} frames coloured in {time.perf_counter() - t0:.1f} s")

    def _write_frame(self, item: PlanItem, output: FrameOutput, result: FrameResult,
                     targets: dict[str, Path]) -> None:
        """Write a finished frame's layers and stored result (not yet recorded in the project)."""
        # The snapped image is the composite (lines over the colour layer); keys: the paint itself.
        result.outputs = _write_layers(self.project, item.index, output.color_only,
                                       output.composite, targets)
        if item.kind != "key":
            result.color_path, result.confidence_path = _store_result(
                self.project, item.index, output.color_only, output.confidence_map)
            result.confidence = output.confidence
            result.flagged = output.flagged
            result.regions = output.regions

    def _cancelled(self, ev: ProgressEvent) -> Iterator[ProgressEvent]:
        # The unfinished frame wrote nothing; the project file already holds every finished one.
        self.project.save()
        ev.message = f"stopped before {ev.name}; finished frames are kept"
        yield ev

    def _color_guess(self, fc: FrameColorizer, item: PlanItem,
                     cancel: CancelToken) -> Generator[tuple[int, int], None, np.ndarray]:
        """Generator of sampler steps returning the frame's full-resolution guess."""
        project = self.project
        cut = project.cut
        prev_rgb = project.key_color(item.prev)
        next_rgb = prev_rgb if item.next == item.prev else project.key_color(item.next)
        seed = frame_seed(project.settings.seed, item.index)
        return (yield from fc.iter_guess(cut.line(item.index), prev_rgb, next_rgb,
                                         cut.line(item.prev), cut.line(item.next), item.t, cancel,
                                         seed, pair_id=("project", id(project), item.keys)))

    def _key_frame(self, item: PlanItem) -> tuple[FrameOutput, FrameResult]:
        """A keyframe is copied through: its painted image is the composite, unchanged."""
        color_only, composite = key_layers(self.project, item.index)
        conf = np.ones(color_only.shape[:2], np.float32)
        out = FrameOutput(composite, color_only, composite, conf, 1.0, 0, 0)
        return out, FrameResult(item.index, "keyframe", keys=item.keys, method=None)

    def _held_frame(self, item: PlanItem,
                    last: tuple[int, FrameOutput] | None) -> tuple[FrameOutput, FrameResult]:
        """A held drawing takes the colours of its source frame (a key or a coloured frame)."""
        project = self.project
        src = item.source
        if src in project.keyframes:
            out, _ = self._key_frame(PlanItem(src, "key", src, src, 0.0, src))
        elif last is not None and last[0] == src:
            out = last[1]
        else:
            color = project.result_color(src)
            if color is None:
                raise ProjectError(f"frame {project.frame_name(src)} has no result to reuse for "
                                   f"{project.frame_name(item.index)}")
            from opdm_studio.imaging.export import make_layers
            conf = project.result_confidence(src)
            res = project.results[src]
            cut = project.cut
            # Same drawing as the source, so its lines go on top of the stored colours.
            composite = make_layers(color, line_mask_of(cut.line(item.index)),
                                    cut.line_rgb(item.index)).composite
            out = FrameOutput(composite, color, color, conf if conf is not None else
                              np.ones(color.shape[:2], np.float32), res.confidence or 0.0,
                              res.flagged, res.regions)
        from_key = src in project.keyframes      # a key's colours do not depend on the settings
        method = None if from_key else project.settings.method
        recipe = None if from_key else project.settings.recipe()
        return out, FrameResult(item.index, "held", keys=item.keys, method=method, source_index=src,
                                recipe=recipe)

    def _rewrite_missing(self, item: PlanItem, res: FrameResult, missing: dict[str, Path]) -> None:
        """Write layer files of a finished frame that are missing (e.g. a layer added later)."""
        project = self.project
        if res.status == "keyframe":
            out, _ = self._key_frame(item)
            color, composite = out.color_only, out.composite
        else:
            color = project.result_color(item.index)
            composite = None
        written = _write_layers(project, item.index, color, composite, missing)
        res.outputs.update(written)


# ---------------------------------------------------------------------- re-export

def export_results(project: Project, out_dir: Path, layers: Iterable[str] | None = None,
                   template: str | None = None, frames: Iterable[int] | None = None,
                   psd: bool = False, overwrite: bool = False,
                   cancel: CancelToken | None = None) -> Iterator[tuple[int, int, int]]:
    """Write the stored results of ``project`` again (other layers, naming or folder).

    Generator of ``(done, total, index)`` after each frame. Keyframes are written unchanged.
    Raises :class:`ExportError` before writing anything when a target exists (unless
    ``overwrite``) or when there is nothing to export. The project itself is not changed.
    """
    layers = list(layers or project.settings.layers)
    template = template or project.settings.template
    ColorizeSettings(layers=layers, template=template).validate()
    wanted = set(range(len(project.cut))) if frames is None else set(frames)
    indices = sorted(i for i in wanted if i in project.keyframes or (
        i in project.results and project.results[i].color_path is not None))
    if not indices:
        raise ExportError(f"the project {project.path} has no coloured frames to export"
                          + (" in that range" if frames is not None else "; colour it first"))
    out_dir = Path(out_dir)
    targets = {i: layer_paths(project, i, layers, out_dir, template, psd) for i in indices}
    _check_free([p for t in targets.values() for p in t.values()], set(), overwrite)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from exc
    total = len(indices)
    for n, i in enumerate(indices, start=1):
        if cancel is not None and cancel.cancelled:
            return
        if i in project.keyframes:
            color, composite = key_layers(project, i)
        else:
            color = project.result_color(i)
            composite = None
        _write_layers(project, i, color, composite, targets[i])
        yield n, total, i
