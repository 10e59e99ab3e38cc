"""Before and after on frames held back from the studio's cuts: the start model and the fine-tuned
model colour the same held-back in-betweens, and the user sees which is better.

Each model colours through the pipeline its inference spec names (what the app runs; palette
snapping and the line overlay, which are the engine's, are left out: they act the same on both).
Held-back cuts are cut into windows of up to ``gap`` + 1 frames; the first and last frame of a
window are the keys, the frames between are coloured from their drawings (the cut's line art, or
lines extracted as for training). PSNR and SSIM are computed on the whole frame resized to
224 x 224 (INTER_AREA; SSIM Gaussian 11 x 11, sigma 1.5), as the evaluation protocol's @224
figures are. A contact sheet shows drawing | start model | fine-tuned | truth for a few frames.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from opdm_studio.evaluation import metrics
from opdm_studio.evaluation.protocol import to224
from opdm_studio.fileio import write_text_atomic
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines.base import Interval
from training.data import CutSource

#: PSNR of identical frames (the evaluation's is infinite).
PSNR_CAP = 100.0
SHEET_ROWS = 4


@dataclass
class ModelScore:
    """A model's figures on the held-back frames."""

    model: str
    psnr: float
    ssim: float
    frames: int
    per_frame: list[float] = field(default_factory=list)   # PSNR of each frame, in window order


@dataclass
class Comparison:
    """Start model against fine-tuned model on the same held-back frames."""

    start: ModelScore
    finetuned: ModelScore
    gap: int
    held_back: list[str]
    sheet: str = ""

    @property
    def gain_db(self) -> float:
        """PSNR of the fine-tuned model minus the start model's."""
        return self.finetuned.psnr - self.start.psnr

    def to_json(self) -> str:
        """JSON text (comparison.json)."""
        return json.dumps({**asdict(self), "gain_db": round(self.gain_db, 3)}, indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        """Inverse of :meth:`to_json`."""
        return cls(ModelScore(**d["start"]), ModelScore(**d["finetuned"]), int(d["gap"]),
                   list(d["held_back"]), d.get("sheet", ""))


def windows(n_frames: int, gap: int) -> list[tuple[int, int]]:
    """Disjoint windows (first key, last key) of up to ``gap`` + 1 frames covering a cut."""
    g = max(2, min(gap, n_frames - 1))
    return [(a, a + g) for a in range(0, n_frames - g, g)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """The evaluation's PSNR in dB of two uint8 images, capped at 100 for identical ones (a mean
    over frames stays finite)."""
    return min(metrics.psnr(a, b), PSNR_CAP)


class ModelColorizer:
    """A model file colouring frames through the pipeline of its inference spec (no snapping)."""

    def __init__(self, path: str | Path, device: str = "auto", working_size: int = 224,
                 flow_size: int = FLOW_SIZE) -> None:
        from opdm_studio.engine.models import load_model
        from opdm_studio.pipelines import make_pipeline
        lm = load_model(path, device)              # the app's loading: checks, device, dtype, cache
        self.pipeline = make_pipeline("model", lm.inference, lm.model, lm.device, lm.dtype,
                                      working_size=working_size, flow_size=flow_size)
        self._paint: tuple[Any, np.ndarray | None] = (None, None)   # (key pair, its paint)

    def __call__(self, line: np.ndarray, prev_rgb: np.ndarray, prev_line: np.ndarray, next_rgb: np.ndarray,
                 next_line: np.ndarray, t: float, pair: Any = None, interval: Any = None) -> np.ndarray:
        """The colour guess (uint8 RGB at the drawing's size); ``interval`` (the drawings from key
        to key) lets the flow chain through them and the network adapt to the keys, as the app's
        cut run does. The keys' paint is given as the app gives it."""
        from opdm_studio.imaging.lineart import line_mask_from_drawing
        from opdm_studio.imaging.palette import key_pair_palette
        from opdm_studio.pipelines.base import FrameInputs
        if pair is None or self._paint[0] != pair:
            paint = key_pair_palette(prev_rgb, line_mask_from_drawing(prev_line), next_rgb,
                                     line_mask_from_drawing(next_line)).colors
            self._paint = (pair, paint)
        gen = self.pipeline(FrameInputs(line, prev_rgb, next_rgb, prev_line, next_line, t=t, pair=pair,
                                        interval=interval, paint=self._paint[1]))
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            return stop.value.rgb


def _drawings(cut: CutSource, a: int, b: int) -> list[np.ndarray]:
    """The drawings of frames ``a``..``b`` of ``cut`` (a key interval, keys included)."""
    return [cut.line(k) for k in range(a, b + 1)]


def score_model(path: str | Path, cuts: Sequence[CutSource], gap: int = 8, device: str = "auto",
                working_size: int = 224, flow_size: int = FLOW_SIZE, keep: set[tuple[int, int]] | None = None,
                shown: dict[tuple[int, int], np.ndarray] | None = None,
                should_stop: Callable[[], bool] | None = None) -> ModelScore:
    """PSNR / SSIM @224 of model ``path`` on the in-betweens of ``cuts``; frames whose
    (cut index, frame) is in ``keep`` are stored in ``shown`` (for the contact sheet)."""
    colorize = ModelColorizer(path, device, working_size, flow_size)
    ps, ss = [], []
    for ci, cut in enumerate(cuts):
        for a, b in windows(len(cut), gap):
            pa, pb, la, lb = cut.color(a), cut.color(b), cut.line(a), cut.line(b)
            for i in range(a + 1, b):
                if should_stop is not None and should_stop():
                    raise InterruptedError("comparison stopped")
                interval = Interval(key=(ci, a, b), position=i - a, length=b - a + 1,
                                    load=partial(_drawings, cut, a, b))
                out = colorize(cut.line(i), pa, la, pb, lb, (i - a) / (b - a), pair=(ci, a, b),
                               interval=interval)
                o, g = to224(out), to224(cut.color(i))
                ps.append(psnr(o, g))
                ss.append(metrics.ssim(o, g))
                if keep is not None and shown is not None and (ci, i) in keep:
                    shown[(ci, i)] = out
    if not ps:
        return ModelScore(str(path), float("nan"), float("nan"), 0)
    # Frame-weighted mean of per-frame PSNR, as the evaluation reports.
    return ModelScore(str(path), float(np.mean(ps)), float(np.mean(ss)), len(ps), [round(p, 3) for p in ps])


def sheet_frames(cuts: Sequence[CutSource], gap: int, n: int = SHEET_ROWS) -> set[tuple[int, int]]:
    """Up to ``n`` (cut index, frame) in-betweens spread over the held-back windows."""
    frames = [(ci, i) for ci, c in enumerate(cuts) for a, b in windows(len(c), gap) for i in range(a + 1, b)]
    if len(frames) <= n:
        return set(frames)
    return {frames[round(k * (len(frames) - 1) / (n - 1))] for k in range(n)}


def contact_sheet(cuts: Sequence[CutSource], start: dict[tuple[int, int], np.ndarray],
                  tuned: dict[tuple[int, int], np.ndarray], height: int = 180) -> np.ndarray:
    """Rows drawing | start model | fine-tuned | truth with a header line (uint8 RGB)."""
    from PIL import Image, ImageDraw
    rows = []
    for key in sorted(start):
        ci, i = key
        cut = cuts[ci]
        tiles = [np.repeat(cut.line(i)[..., None], 3, axis=2), start[key], tuned.get(key, start[key]), cut.color(i)]
        h, w = tiles[0].shape[:2]
        tw = max(1, round(w * height / h))
        tiles = [cv2.resize(t, (tw, height), interpolation=cv2.INTER_AREA) for t in tiles]
        gap = np.full((height, 4, 3), 255, np.uint8)
        rows.append(np.concatenate([x for t in tiles for x in (t, gap)][:-1], axis=1))
    width = max(r.shape[1] for r in rows) if rows else 4 * height
    header = Image.new("RGB", (width, 22), "white")
    draw = ImageDraw.Draw(header)
    tw = (width - 12) // 4
    for k, label in enumerate(("drawing", "start model", "fine-tuned", "truth")):
        draw.text((k * (tw + 4) + 4, 5), label, fill=(0, 0, 0))
    parts = [np.asarray(header)]
    for r in rows:
        parts += [np.full((4, width, 3), 255, np.uint8), np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)),
                                                                constant_values=255)]
    return np.concatenate(parts, axis=0)


def compare_models(start: str | Path, tuned: str | Path, cuts: Sequence[CutSource], out_dir: Path,
                   gap: int = 8, device: str = "auto", working_size: int = 224, flow_size: int = FLOW_SIZE,
                   should_stop: Callable[[], bool] | None = None) -> Comparison:
    """Score both models on the held-back ``cuts``; write comparison.json and comparison.png."""
    from training.plots import save_png_atomic
    keep = sheet_frames(cuts, gap)
    shown_a: dict[tuple[int, int], np.ndarray] = {}
    shown_b: dict[tuple[int, int], np.ndarray] = {}
    a = score_model(start, cuts, gap, device, working_size, flow_size, keep, shown_a, should_stop)
    b = score_model(tuned, cuts, gap, device, working_size, flow_size, keep, shown_b, should_stop)
    out_dir.mkdir(parents=True, exist_ok=True)
    sheet = save_png_atomic(contact_sheet(cuts, shown_a, shown_b), out_dir / "comparison.png") if shown_a else None
    comp = Comparison(a, b, gap, [c.name for c in cuts], str(sheet) if sheet else "")
    write_text_atomic(out_dir / "comparison.json", comp.to_json())
    return comp


def read_sheet(path: str | Path) -> np.ndarray:
    """A contact sheet (or any PNG) as uint8 RGB."""
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def read_comparison(out_dir: Path) -> Comparison | None:
    """The comparison a run folder holds, if any."""
    try:
        return Comparison.from_dict(json.loads((out_dir / "comparison.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
