"""The evaluation protocol: clips -> windows of G+1 frames -> every method colours the middle
frames -> per-frame and per-window metrics.

Rules (the ones that reproduce the reference figures in docs/evaluation.md are marked *):
- A clip is a folder of colour frames named by number (``0000.png`` ...), consecutive from the
  first; folders with fewer than 3 frames (pairs, single keys) are skipped with a notice.
- A tail of frames that each repeat (mean abs difference < 1 level on a 128x72 thumbnail) a frame at
  least 4 frames earlier is a replayed loop and is trimmed (Anita: 68 -> 46 frames, 0-45).
- Frames wider than 1280 px are resized (INTER_AREA) to 960 px wide (AniDoc's 1080p clips).
- * Windows are disjoint: [0, G], [G+1, 2G+1], ...; a tail too short for a window is not used.
  When a clip has fewer than G+1 frames, G = n - 1 for that clip (14-frame AniDoc clips: G=16 -> 13).
- * Protocol line art: binary drawing (ink 0 where extract_lines darkness > 0.25, else 255) for the
  keys and the target; the flow baselines see this binary drawing. Methods also get the window's
  drawings (``Task.window_lines``, the same binary drawings of every frame of the window, never
  its colours) and the target's index in it.
- Clips with a ``lineart/`` folder are evaluated a second time with those drawings (gray).
- * Metrics @224: the whole frame resized to 224x224 with INTER_AREA; PSNR per frame, then the
  frame-weighted mean. Native metrics at the (possibly downscaled) clip resolution.
- Paint regions (the work left): areas between the real frame's extracted lines (ink grown by
  1 px, 4-connected, under 16 px left out), at the clip resolution, for both line sources and also
  with ``size224_only`` (they are cheap); a region is wrong when under 90 % of its pixels are
  within 24 levels (every channel) of the real frame (``metrics.region_score``).
"""
from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from opdm_studio.errors import ImageReadError
from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.baselines import Method, Task
from opdm_studio.imaging.lineart import extract_lines, line_mask_from_darkness

EVAL_SIZE = 224
GT_NAME = "(ground truth)"
MAX_WIDTH = 1280
DOWNSCALE_WIDTH = 960
_FRAME_RE = re.compile(r"^(\d+)\.(png|jpg|jpeg|webp|bmp|tif|tiff)$", re.IGNORECASE)


def effective_gap(gap: int, n_frames: int) -> int:
    """G used for a clip of n frames: min(G, n - 1) (a short clip is one window end to end)."""
    return min(gap, n_frames - 1)


def windows(n_frames: int, gap: int) -> list[tuple[int, int]]:
    """Disjoint windows (first key, last key) of gap+1 frames over a clip of n frames."""
    g = effective_gap(gap, n_frames)
    if g < 2:
        return []
    return [(s, s + g) for s in range(0, n_frames - g, g + 1)]


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as uint8 RGB (alpha composited on white)."""
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ImageReadError(f"{path}: cannot be read as an image")
    if img.dtype != np.uint8:
        img = (img / 257).astype(np.uint8) if img.dtype == np.uint16 else img.astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        a = img[..., 3:4].astype(np.float32) / 255.0
        img = (img[..., :3].astype(np.float32) * a + 255.0 * (1 - a)).round().astype(np.uint8)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)


def _numbered(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for p in folder.iterdir() if folder.is_dir() else []:
        m = _FRAME_RE.match(p.name)
        if m and p.is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


@dataclass
class Clip:
    """A loaded clip: colour frames, optional hand-drawn line art, and what was done to it."""

    name: str
    frames: list[np.ndarray]
    lineart: list[np.ndarray] | None = None     # uint8 gray drawings, same size as frames
    notes: list[str] = field(default_factory=list)


def _loop_start(frames: Sequence[np.ndarray], min_lag: int = 4, tol: float = 1.0) -> int:
    thumbs = [cv2.resize(f, (128, 72), interpolation=cv2.INTER_AREA).astype(np.float32) for f in frames]
    n = len(thumbs)

    def repeats(j: int) -> bool:
        return any(float(np.abs(thumbs[j] - thumbs[i]).mean()) < tol for i in range(0, j - min_lag + 1))

    m = n
    while m > 0 and repeats(m - 1):
        m -= 1
    return m if n - m >= min_lag else n


def _fit_width(img: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        return img
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def load_clip(folder: Path, notices: list[str]) -> Clip | None:
    """Load a clip folder under the protocol's rules; None (with a notice) if it is not a clip."""
    numbered = _numbered(folder)
    if not numbered:
        return None
    run = [numbered[0]]
    for num, p in numbered[1:]:
        if num != run[-1][0] + 1:
            break
        run.append((num, p))
    if len(run) < 3:
        notices.append(f"{folder.name}: skipped, {len(run)} consecutive colour frame(s) "
                       "(a clip needs at least 3: two keys and one in-between)")
        return None
    clip = Clip(folder.name, [read_rgb(p) for _, p in run])
    if len(run) < len(numbered):
        clip.notes.append(f"frames after {run[-1][1].name} not consecutive, not used")
    h, w = clip.frames[0].shape[:2]
    if any(f.shape[:2] != (h, w) for f in clip.frames):
        notices.append(f"{folder.name}: skipped, frames have different sizes")
        return None
    m = _loop_start(clip.frames)
    if m < len(clip.frames):
        clip.notes.append(f"frames {m}-{len(clip.frames) - 1} replay earlier frames (loop), trimmed")
        clip.frames = clip.frames[:m]
        run = run[:m]
    size = None
    if w > MAX_WIDTH:
        size = (DOWNSCALE_WIDTH, int(round(h * DOWNSCALE_WIDTH / w)))
        clip.notes.append(f"{w}x{h} resized to {size[0]}x{size[1]}")
        clip.frames = [_fit_width(f, size) for f in clip.frames]
    lineart_dir = folder / "lineart"
    if lineart_dir.is_dir():
        by_num = dict(_numbered(lineart_dir))
        if all(num in by_num for num, _ in run):
            fh, fw = clip.frames[0].shape[:2]
            lines = []
            for num, _ in run:
                gray = cv2.cvtColor(read_rgb(by_num[num]), cv2.COLOR_RGB2GRAY)
                if gray.shape != (fh, fw):
                    gray = cv2.resize(gray, (fw, fh), interpolation=cv2.INTER_AREA)
                lines.append(gray)
            clip.lineart = lines
        else:
            clip.notes.append("lineart/ does not cover every frame, not used")
    return clip


def find_clips(data_dir: Path, pattern: str | None, notices: list[str]) -> list[Clip]:
    """Every clip folder in ``data_dir`` (or data_dir itself when it holds numbered frames)."""
    folders = [data_dir] if _numbered(data_dir) else sorted(
        p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    clips = []
    for folder in folders:
        if pattern and not fnmatch.fnmatch(folder.name, pattern):
            continue
        clip = load_clip(folder, notices)
        if clip is not None:
            clips.append(clip)
    return clips


def protocol_lines(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protocol line art of a colour frame: (binary drawing uint8 0/255, ink mask bool)."""
    mask = line_mask_from_darkness(extract_lines(rgb))
    return np.where(mask, 0, 255).astype(np.uint8), mask


def to224(img: np.ndarray) -> np.ndarray:
    """Whole frame resized to 224x224 (INTER_AREA), as the protocol's metrics are computed."""
    return cv2.resize(img, (EVAL_SIZE, EVAL_SIZE), interpolation=cv2.INTER_AREA)


@dataclass
class FrameRecord:
    """Metrics of one method on one in-between frame."""

    clip: str
    lines: str
    gap: int
    window: int
    frame: int
    method: str
    seconds: float
    psnr224: float
    ssim224: float
    msssim224: float
    qssim224: float
    psnr: float = float("nan")
    ssim: float = float("nan")
    palette: float = float("nan")
    # Paint regions of the real frame (its extracted lines), at native size: see M.region_score.
    regions: int = 0
    wrong_regions: int = 0
    wrong_area: int = 0
    region_area: int = 0


@dataclass
class WindowRecord:
    """Sequence metrics of one method on one window (keys included), at 224x224."""

    clip: str
    lines: str
    gap: int
    window: int
    method: str
    frames: int
    cdc: float
    warp_error: float


@dataclass
class Sheet:
    """Images of a clip's first window for the contact sheet."""

    clip: str
    lines: str
    gap: int
    keys: tuple[np.ndarray, np.ndarray]
    frames: list[int]
    gt: list[np.ndarray]
    outputs: dict[str, list[np.ndarray]]


@dataclass
class Results:
    """Everything a run produced."""

    frames: list[FrameRecord] = field(default_factory=list)
    windows: list[WindowRecord] = field(default_factory=list)
    sheets: list[Sheet] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    fid: dict[tuple[str, int, str], float] = field(default_factory=dict)


def _metrics224(out224: np.ndarray, gt224: np.ndarray) -> tuple[float, float, float, float]:
    return M.psnr(out224, gt224), M.ssim(out224, gt224), M.ms_ssim(out224, gt224), M.qssim(out224, gt224)


def _score_native(rec: FrameRecord, out: np.ndarray, gt: np.ndarray, regions: M.PaintRegions,
                  native: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Fill a record's region counts and, given (palette table, line mask), its native metrics."""
    score = M.region_score(out, gt, regions)
    rec.regions, rec.wrong_regions = score.regions, score.wrong
    rec.wrong_area, rec.region_area = score.wrong_area, score.area
    if native is not None:
        lut, mask = native
        rec.psnr = M.psnr(out, gt)
        rec.ssim = M.ssim(out, gt)
        rec.palette = M.palette_fidelity(out, lut, mask)


def evaluate_clip(clip: Clip, methods: dict[str, Method], gaps: Iterable[int], results: Results,
                  size224_only: bool = False, sheet_frames: int = 4,
                  progress: Callable[[str], None] | None = None,
                  fid_sets: dict | None = None) -> None:
    """Run every method on every window of a clip (both line-art sources) and append records."""
    sources = [("extracted", None)] + ([("hand-drawn", clip.lineart)] if clip.lineart else [])
    extracted = [protocol_lines(f) for f in clip.frames]
    gt224 = [to224(f) for f in clip.frames]
    for lines_name, hand in sources:
        if hand is None:
            drawings = [d for d, _ in extracted]
            masks = [m for _, m in extracted]
        else:
            drawings = list(hand)
            masks = [d < 128 for d in hand]
        for gap in gaps:
            g = effective_gap(gap, len(clip.frames))
            wins = windows(len(clip.frames), gap)
            if not wins:
                results.notices.append(f"{clip.name}: too short for G={gap}, skipped")
                continue
            if g != gap:
                results.notices.append(f"{clip.name}: {len(clip.frames)} frames, G={gap} -> G={g}")
            for wi, (a, b) in enumerate(wins):
                if progress:
                    progress(f"{clip.name} [{lines_name}] G={gap} window {wi + 1}/{len(wins)} "
                             f"(frames {a}-{b})")
                lut = M.palette_lut([clip.frames[a], clip.frames[b]], [masks[a], masks[b]])
                flows = M.gt_flows(gt224[a:b + 1])
                mids = list(range(a + 1, b))
                shown = set(mids if len(mids) <= sheet_frames else
                            [mids[int(round(k * (len(mids) - 1) / (sheet_frames - 1)))]
                             for k in range(sheet_frames)])
                sheet = None
                if wi == 0:
                    sheet = Sheet(clip.name, lines_name, gap, (gt224[a], gt224[b]), sorted(shown),
                                  [gt224[i] for i in sorted(shown)], {})
                window_lines = drawings[a:b + 1]    # one object per window: methods cache on it
                # Paint regions always from the real frame's extracted lines (both line sources).
                regions = {i: M.paint_regions(extracted[i][1]) for i in mids}
                for name, method in methods.items():
                    seq = [gt224[a]]
                    for i in mids:
                        task = Task(clip.frames[a], clip.frames[b], drawings[a], drawings[b],
                                    drawings[i], (i - a) / (b - a), target_mask=masks[i],
                                    window_lines=window_lines, index=i - a)
                        t0 = time.perf_counter()
                        out = method(task)
                        secs = time.perf_counter() - t0
                        if isinstance(out, tuple):
                            # (rgb, seconds): a method sharing work between rows reports its own time.
                            out, secs = out
                        if out.shape != clip.frames[i].shape or out.dtype != np.uint8:
                            raise ValueError(f"method {name} returned {out.dtype} {out.shape}, "
                                             f"expected uint8 {clip.frames[i].shape}")
                        o224 = to224(out)
                        seq.append(o224)
                        rec = FrameRecord(clip.name, lines_name, gap, wi, i, name, secs,
                                          *_metrics224(o224, gt224[i]))
                        _score_native(rec, out, clip.frames[i], regions[i],
                                      None if size224_only else (lut, masks[i]))
                        results.frames.append(rec)
                        if sheet is not None and i in shown:
                            sheet.outputs.setdefault(name, []).append(o224)
                        if fid_sets is not None:
                            fid_sets.setdefault((lines_name, gap, name), []).append(o224)
                    seq.append(gt224[b])
                    results.windows.append(WindowRecord(
                        clip.name, lines_name, gap, wi, name, len(mids),
                        M.cdc(seq), M.warp_error(seq, flows=flows)))
                # The ground truth's own CDC / warp error: the floor a method can be compared to.
                results.windows.append(WindowRecord(
                    clip.name, lines_name, gap, wi, GT_NAME, len(mids),
                    M.cdc(gt224[a:b + 1]), M.warp_error(gt224[a:b + 1], flows=flows)))
                if fid_sets is not None:
                    fid_sets.setdefault((lines_name, gap, "__gt__"), []).extend(gt224[i] for i in mids)
                if sheet is not None:
                    results.sheets.append(sheet)
