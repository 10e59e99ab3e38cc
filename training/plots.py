"""What a run folder shows: the sample grid of a validation, log.jsonl records and the loss curve
(PIL only; the wizard draws the same curve)."""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from opdm_studio.fileio import atomic_path


def tensor_to_rgb(t: torch.Tensor) -> np.ndarray:
    """A (3,H,W) or (1,H,W) tensor in [-1, 1] as uint8 (H, W, 3)."""
    t = t.detach().float().cpu()
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def save_png_atomic(img: np.ndarray, path: Path) -> Path:
    """Write an RGB uint8 image to ``path`` through a temporary file."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")
    return path


def make_grid(rows: list[list[torch.Tensor]], pad: int = 2) -> np.ndarray:
    """Rows of (C,H,W) tensors in [-1, 1] as one uint8 RGB image with white padding."""
    tiles = [[tensor_to_rgb(t) for t in r] for r in rows]
    h, w = tiles[0][0].shape[:2]
    ncol = max(len(r) for r in tiles)
    out = np.full((len(tiles) * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, np.uint8)
    for i, r in enumerate(tiles):
        for j, t in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = t
    return out


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Records of a log.jsonl (a torn last line is skipped)."""
    out: list[dict[str, Any]] = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _smooth(ys: list[float]) -> list[float]:
    """Exponential moving average (heavier for long series), as the curves are drawn."""
    out, acc = [], ys[0]
    beta = 0.9 if len(ys) > 20 else 0.5
    for y in ys:
        acc = beta * acc + (1 - beta) * y
        out.append(acc)
    return out


def _series(records: list[dict[str, Any]], key: str, positive: bool = False) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[key])) for r in records
            if r.get(key) is not None and math.isfinite(r[key]) and (r[key] > 0 or not positive)]


def plot_loss_curve(records: list[dict[str, Any]], path: Path | None = None, size: tuple[int, int] = (640, 420),
                    key: str = "loss") -> np.ndarray:
    """Draw the run's curves; optionally save the PNG.

    Top: the training loss (raw and smoothed, log scale); a stage-1 log also gets the level-0
    alignment L1 and the L1 of the unaligned keys (what doing nothing scores), smoothed. Bottom
    (when the log has validation records): validation PSNR per evaluation, and the unaligned keys'
    PSNR for stage 1 (the flow propagation's for refine). Axes are labelled in the quantities' own units.
    """
    from PIL import Image, ImageDraw
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    vals = _series(records, "val_psnr")
    # The validation reference: what doing nothing scores (stage 1: the keys as they are; refine:
    # the flow propagation the model corrects).
    ref_key, ref_label = "val_psnr_unaligned", "unaligned keys"
    if not _series(records, ref_key) and _series(records, "val_psnr_prop"):
        ref_key, ref_label = "val_psnr_prop", "flow propagation"
    ref_vals = _series(records, ref_key)
    split = int(h * 0.62) if vals else h
    top, bottom = 14, split - 30
    pts = _series(records, key, positive=True)
    extra = [(name, _series(records, name, positive=True), colour)
             for name, colour in (("l1_level0", (0, 140, 120)), ("l1_unaligned", (130, 130, 130)))]
    extra = [e for e in extra if e[1]] if all(e[1] for e in extra) else []
    d.rectangle([_LEFT, top, w - _RIGHT, bottom], outline=(120, 120, 120))
    steps_all = [p[0] for p in pts] + [v[0] for v in vals]
    sx: Callable[[float], float] = lambda x: x  # noqa: E731 (replaced below whenever a series is drawn)
    if steps_all:
        x0, x1 = min(steps_all), max(max(steps_all), min(steps_all) + 1)
        sx = lambda x: _LEFT + (x - x0) / (x1 - x0) * (w - _LEFT - _RIGHT)  # noqa: E731
        d.text((_LEFT, h - 16), f"step {x0}", fill=(60, 60, 60))
        d.text((w - _RIGHT - 90, h - 16), f"step {x1}", fill=(60, 60, 60))
    if pts:
        _draw_loss(d, pts, extra, key, sx, w, top, bottom)
    if vals:
        _draw_validation(d, vals, ref_vals, ref_label, sx, w, split + 8, h - 24)
    arr = np.asarray(img)
    if path is not None:
        save_png_atomic(arr, path)
    return arr


#: The plot's left margin (room for the axis labels) and right margin, in pixels.
_LEFT, _RIGHT = 56, 12


def _draw_loss(d: Any, pts: list[tuple[int, float]], extra: list[Any], key: str,
               sx: Callable[[float], float], w: int, top: int, bottom: int) -> None:
    """The top panel: the loss raw and smoothed on a log scale, the extra L1 curves, a legend."""
    all_y = [math.log10(y) for _, y in pts] + [math.log10(y) for _, s, _ in extra for _, y in s]
    y0, y1 = min(all_y), max(all_y)
    if y1 - y0 < 1e-6:
        y0, y1 = y0 - 0.5, y1 + 0.5
    sy = lambda y: top + (y1 - y) / (y1 - y0) * (bottom - top)  # noqa: E731
    for k in range(5):  # gridlines with labels in the loss's own units
        yv = y0 + (y1 - y0) * k / 4
        yy = sy(yv)
        d.line([_LEFT, yy, w - _RIGHT, yy], fill=(230, 230, 230))
        d.text((4, yy - 6), f"{10 ** yv:.3g}", fill=(60, 60, 60))
    xs = [p[0] for p in pts]
    ys = [math.log10(p[1]) for p in pts]
    raw = [(sx(x), sy(y)) for x, y in zip(xs, ys, strict=True)]
    if len(raw) > 1:
        d.line(raw, fill=(170, 190, 230), width=1)
    sm = [(sx(x), sy(y)) for x, y in zip(xs, _smooth(ys), strict=True)]
    if len(sm) > 1:
        d.line(sm, fill=(20, 70, 200), width=2)
    else:
        d.ellipse([sm[0][0] - 2, sm[0][1] - 2, sm[0][0] + 2, sm[0][1] + 2], fill=(20, 70, 200))
    legend = [(f"{key} (log scale), smoothed", (20, 70, 200))]
    for name, series, colour in extra:
        ys_e = _smooth([math.log10(y) for _, y in series])
        line = [(sx(x), sy(y)) for (x, _), y in zip(series, ys_e, strict=True)]
        if len(line) > 1:
            d.line(line, fill=colour, width=2)
        legend.append((name + (" (keys as they are)" if name == "l1_unaligned" else ""), colour))
    for k, (text, colour) in enumerate(legend):
        d.text((_LEFT + 6, top + 2 + 12 * k), text, fill=colour)


def _draw_validation(d: Any, vals: list[tuple[int, float]], ref_vals: list[tuple[int, float]], ref_label: str,
                     sx: Callable[[float], float], w: int, vt: int, vb: int) -> None:
    """The bottom panel: validation PSNR per evaluation beside what doing nothing scores."""
    d.rectangle([_LEFT, vt, w - _RIGHT, vb], outline=(120, 120, 120))
    ys_v = [v for _, v in vals] + [v for _, v in ref_vals]
    v0, v1 = min(ys_v), max(ys_v)
    if v1 - v0 < 0.2:
        v0, v1 = v0 - 0.1, v1 + 0.1
    sv = lambda y: vt + (v1 - y) / (v1 - v0) * (vb - vt)  # noqa: E731
    for k in range(3):
        yv = v0 + (v1 - v0) * k / 2
        d.line([_LEFT, sv(yv), w - _RIGHT, sv(yv)], fill=(230, 230, 230))
        d.text((4, sv(yv) - 6), f"{yv:.2f}", fill=(60, 60, 60))
    for series, colour in ((ref_vals, (130, 130, 130)), (vals, (200, 80, 20))):
        line = [(sx(x), sv(y)) for x, y in series]
        if len(line) > 1:
            d.line(line, fill=colour, width=2)
        for x, y in line:
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    d.text((_LEFT + 6, vt + 2), f"validation PSNR (dB), last {vals[-1][1]:.2f}", fill=(200, 80, 20))
    if ref_vals:
        d.text((_LEFT + 6, vt + 14), f"{ref_label} {ref_vals[-1][1]:.2f}", fill=(130, 130, 130))


def append_log(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one record to the run's log.jsonl."""
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
