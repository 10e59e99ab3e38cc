"""The keyframes' palette and snapping a colour guess to it, region by region.

:func:`extract_palette` reads the flat colours of a coloured keyframe, and :func:`snap_to_palette`
turns a model's smooth colour guess into flat palette colours region by region
(:func:`~opdm_studio.imaging.regions.find_regions`), with a confidence per region; regions it is
unsure of are flagged for review instead of guessed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from opdm_studio.imaging.lineart import composite_lines
from opdm_studio.imaging.regions import Regions, fill_line_pixels, find_regions

SNAP_MODES = ("off", "all", "auto")
#: A pixel next to the ink is anti-aliasing of the line, not paint, when it is darker than its
#: region's palette colour by more than this (CIELAB L*) ...
FRINGE_DARKER = 2.0
#: ... and the keys have a fringe ring when at least this share of that ring's paint pixels is
#: (real frames, lines extracted from colour: 16-99 %; synthetic closed line art: <= 4 %).
FRINGE_SHARE = 0.15
#: Widest fringe looked for (px beyond the ink mask). Real clips reach any width asked for (their
#: shading darkens the rings too); 3 measured best: Anita's sketch lines (extracted, G=8, shipped
#: model) snap auto 29.21 -> 29.38 dB PSNR@224 against 29.52 off, other clips +0.00 to +0.01.
FRINGE_MAX = 3


# --- palette ---------------------------------------------------------------------------------

def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0..100, a/b about -128..127) of uint8 RGB, any leading shape, float32."""
    arr = np.asarray(rgb, np.uint8)
    shape = arr.shape
    flat = arr.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(shape).astype(np.float32)


def _fast_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB of uint8 RGB via OpenCV's 8-bit path (a table lookup; within ~0.5 unit of the
    float conversion), as float32 (N, 3)."""
    lab8 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2Lab).reshape(-1, 3)
    out = lab8.astype(np.float32)
    out[:, 0] *= np.float32(100.0 / 255.0)
    out[:, 1:] -= np.float32(128.0)
    return out


@dataclass
class Palette:
    """Flat paint colours (uint8 (K, 3) RGB), most used first, with their pixel counts.

    ``fringe``: how far (px) the keys' line anti-aliasing reaches beyond their ink mask
    (:func:`line_fringe`; 0 = the mask covers it; None = not measured), which snapping can leave
    to the guess.
    """
    colors: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fringe: int | None = None

    def __post_init__(self) -> None:
        self.colors = np.asarray(self.colors, np.uint8).reshape(-1, 3)
        if len(self.counts) != len(self.colors):
            self.counts = np.zeros(len(self.colors), np.int64)
        self.counts = np.asarray(self.counts, np.int64)

    def __len__(self) -> int:
        return len(self.colors)

    @property
    def lab(self) -> np.ndarray:
        """The colours in CIELAB, float32 (K, 3)."""
        return rgb_to_lab(self.colors)

    def to_list(self) -> list[dict]:
        """JSON-ready list of {"rgb": [r, g, b], "count": n}."""
        return [{"rgb": [int(v) for v in c], "count": int(n)} for c, n in zip(self.colors, self.counts, strict=True)]

    @classmethod
    def from_list(cls, items: list) -> Palette:
        """Inverse of :meth:`to_list` (also accepts plain [r, g, b] triples)."""
        cols, cnts = [], []
        for it in items:
            if isinstance(it, dict):
                cols.append(it["rgb"])
                cnts.append(int(it.get("count", 0)))
            else:
                cols.append(it)
                cnts.append(0)
        return cls(np.array(cols, np.uint8).reshape(-1, 3), np.array(cnts, np.int64))


def merge_palettes(*palettes: Palette) -> Palette:
    """Union of palettes (e.g. of the previous and the next keyframe), counts added."""
    cols = [p.colors for p in palettes if len(p)]
    if not cols:
        return Palette(np.zeros((0, 3), np.uint8))
    allc = np.concatenate(cols)
    allk = np.concatenate([p.counts for p in palettes if len(p)])
    keys = (allc[:, 0].astype(np.int64) << 16) | (allc[:, 1].astype(np.int64) << 8) | allc[:, 2]
    uniq, inv = np.unique(keys, return_inverse=True)
    counts = np.bincount(inv, weights=allk).astype(np.int64)
    colors = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.uint8)
    order = np.argsort(-counts, kind="stable")
    return Palette(colors[order], counts[order])


def key_pair_palette(prev_rgb: np.ndarray, prev_mask: np.ndarray, next_rgb: np.ndarray,
                     next_mask: np.ndarray) -> Palette:
    """The paint of a key pair: each key's flat colours, its lines (``*_mask``, True on ink) left
    out, merged (one key's when both are the same image)."""
    pal_p = extract_palette(prev_rgb, line_mask=prev_mask)
    pal_n = pal_p if next_rgb is prev_rgb else extract_palette(next_rgb, line_mask=next_mask)
    return merge_palettes(pal_p, pal_n)


class PaintLookup:
    """Nearest paint colour by table: every colour cell of ``bits`` bits per channel holds the
    index of the paint nearest (RGB distance) to its centre, computed once per palette, so that
    :meth:`snap` costs one lookup per pixel (a cell is 4 levels wide at 6 bits: the pick can
    differ from the exact nearest only between two paints almost equally far)."""

    def __init__(self, colors: np.ndarray, bits: int = 6, chunk: int = 1 << 15) -> None:
        self.colors = np.asarray(colors, np.uint8).reshape(-1, 3)
        self.bits = int(bits)
        n = 1 << self.bits
        self.table = np.zeros(n ** 3, np.int32)
        if len(self.colors) == 0:
            return
        step = 256 / n
        centre = (np.arange(n, dtype=np.float32) + 0.5) * step
        grid = np.stack(np.meshgrid(centre, centre, centre, indexing="ij"), axis=-1).reshape(-1, 3)
        pal = self.colors.astype(np.float32)
        for start in range(0, len(grid), chunk):
            d2 = ((grid[start:start + chunk, None, :] - pal[None]) ** 2).sum(axis=2)
            self.table[start:start + chunk] = np.argmin(d2, axis=1)

    def snap(self, rgb: np.ndarray, reach: float) -> int:
        """In place: each colour of ``rgb`` (float (N, 3)) within ``reach`` (RGB distance) of its
        nearest paint becomes that paint; colours further from every paint stay as they are.
        Returns how many changed."""
        if len(rgb) == 0 or len(self.colors) == 0:
            return 0
        q = np.clip(rgb, 0, 255).astype(np.int32) >> (8 - self.bits)
        idx = self.table[(q[:, 0] << (2 * self.bits)) | (q[:, 1] << self.bits) | q[:, 2]]
        paint = self.colors[idx].astype(np.float32)
        near = ((rgb - paint) ** 2).sum(axis=1) < reach * reach
        rgb[near] = paint[near]
        return int(near.sum())


def extract_palette(rgb: np.ndarray, line_mask: np.ndarray | None = None, min_count: int | None = None,
                    tolerance: int = 3, merge_distance: float = 3.0, max_colors: int = 256) -> Palette:
    """The flat paint colours of a coloured keyframe, with pixel counts.

    A pixel counts as paint when its 3x3 neighbourhood is flat (every channel varies by at most
    ``tolerance``; anti-aliasing and line edges are not flat) and it is not a line pixel. Colours
    within ``merge_distance`` (CIELAB) of a more frequent one are compression noise of it and
    are merged into it; a colour is kept when it covers ``min_count`` pixels (default about
    20 px per megapixel, at least 9). The reported colour is the most frequent exact value.
    """
    rgb = np.ascontiguousarray(rgb[..., :3].astype(np.uint8))
    h, w = rgb.shape[:2]
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    flat = np.ones((h, w), bool)
    for c in range(3):
        ch = rgb[..., c]
        flat &= (cv2.dilate(ch, k) - cv2.erode(ch, k)) <= tolerance
    if line_mask is not None:
        # Ink is never paint (solid black lines are locally flat too); the ring of anti-aliasing
        # next to the lines is not flat and drops out by itself.
        flat &= ~line_mask
    if min_count is None:
        min_count = max(9, int(round(h * w * 2e-5)))
    px = rgb[flat]
    if len(px) == 0:
        return Palette(np.zeros((0, 3), np.uint8))
    keys = (px[:, 0].astype(np.int32) << 16) | (px[:, 1].astype(np.int32) << 8) | px[:, 2]
    uniq, counts = np.unique(keys, return_counts=True)
    # Only colours that can reach min_count after merging matter; the rest is noise.
    cand = counts >= max(1, min_count // 8)
    uniq, counts = uniq[cand], counts[cand]
    order = np.argsort(-counts, kind="stable")
    uniq, counts = uniq[order], counts[order]
    cols = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.uint8)
    if len(cols) > 4096:
        cols, counts = cols[:4096], counts[:4096]
    lab = rgb_to_lab(cols)
    kept: list[int] = []
    kept_counts: list[int] = []
    kept_lab = np.zeros((0, 3), np.float32)
    for i in range(len(cols)):
        if len(kept):
            d = np.sqrt(((kept_lab - lab[i]) ** 2).sum(axis=1))
            j = int(np.argmin(d))
            if d[j] <= merge_distance:
                kept_counts[j] += int(counts[i])
                continue
        if counts[i] < min_count // 8 or len(kept) >= max_colors * 4:
            continue
        kept.append(i)
        kept_counts.append(int(counts[i]))
        kept_lab = np.vstack([kept_lab, lab[i:i + 1]])
    kc = np.array(kept_counts, np.int64)
    sel = kc >= min_count
    colors = cols[np.array(kept, np.int64)][sel] if kept else np.zeros((0, 3), np.uint8)
    kc = kc[sel]
    order = np.argsort(-kc, kind="stable")[:max_colors]
    return Palette(colors[order], kc[order])


def line_fringe(keys: list[tuple[np.ndarray, np.ndarray]], palette: Palette, gap: int = 3,
                max_width: int = FRINGE_MAX) -> int:
    """Width (px, 0..``max_width``) of the line anti-aliasing that the keys' ink masks leave out.

    ``keys``: (colour uint8 (H, W, 3), ink mask bool (H, W)) of each keyframe. Ring ``d`` (the
    paint pixels at distance ``d`` from the ink) is fringe when at least :data:`FRINGE_SHARE` of
    its pixels are darker than their region's palette colour (by :data:`FRINGE_DARKER` L*): line
    art extracted from colour (a threshold on darkness) leaves the soft edge of every stroke
    outside the mask; closed line art drawn for colouring covers it. The width is the number of
    consecutive fringe rings from the ink outwards. Anchored at the keys, it is the same for every
    frame between them.
    """
    if not len(palette):
        return 0
    dark = np.zeros(max_width + 1)
    total = np.zeros(max_width + 1)
    for rgb, mask in keys:
        regions = find_regions(mask, gap=gap)
        res = snap_to_palette(rgb, regions, palette, mode="all", line_mask=mask)
        dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
        ring = np.ceil(dist - 0.01).astype(np.int32)        # 1 = touching the ink, 2 = next ...
        sel = (ring >= 1) & (ring <= max_width) & (regions.labels > 0)
        paint_l = palette.lab[np.maximum(res.palette_index, 0)][regions.labels[sel], 0]
        is_dark = _fast_lab(rgb[sel].reshape(-1, 1, 3))[:, 0] < paint_l - FRINGE_DARKER
        dark += np.bincount(ring[sel], weights=is_dark, minlength=max_width + 1)
        total += np.bincount(ring[sel], minlength=max_width + 1)
    width = 0
    for d in range(1, max_width + 1):
        if total[d] == 0 or dark[d] < FRINGE_SHARE * total[d]:
            break
        width = d
    return width


# --- snapping --------------------------------------------------------------------------------

@dataclass
class SnapResult:
    """Snapped colour of one frame.

    ``image`` colour with the lines on top, ``color_only`` colour with line pixels filled from the
    neighbouring regions (both uint8 (H, W, 3)). Per-region arrays (length count + 1, indexed by
    label, entry 0 = lines): ``confidence`` float32 in [0, 1], ``snapped``/``flagged`` bool,
    ``palette_index`` int32 (nearest palette colour, -1 without palette), ``distance`` (CIELAB
    distance of the region's robust mean guess to that colour), ``agreement`` (share of the
    region's pixels whose guess is within tolerance of it). ``confidence_map`` float32 (H, W).
    """
    image: np.ndarray
    color_only: np.ndarray
    confidence: np.ndarray
    confidence_map: np.ndarray
    snapped: np.ndarray
    flagged: np.ndarray
    palette_index: np.ndarray
    distance: np.ndarray
    agreement: np.ndarray
    mode: str


def _resize_to(img: np.ndarray, h: int, w: int) -> np.ndarray:
    if img.shape[:2] == (h, w):
        return img
    interp = cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def snap_to_palette(guess_rgb: np.ndarray, regions: Regions, palette: Palette | np.ndarray,
                    mode: str = "auto", line_mask: np.ndarray | None = None,
                    line_rgb: np.ndarray | None = None, *, agree_tol: float = 6.0,
                    max_distance: float = 12.0, min_agreement: float = 0.95,
                    large_agreement: float = 0.98, large_fraction: float = 0.05,
                    max_fraction: float = 0.6, flag_below: float = 0.5, fringe: int = 0) -> SnapResult:
    """Flat palette colours for the regions of a drawing from a colour guess at any resolution.

    Each region's robust mean guess (trimmed mean in CIELAB) picks the nearest palette colour.
    ``mode``: "off" keeps the guess, "all" snaps every region, "auto" snaps only real paint
    areas: regions whose guess agrees with one palette colour (within ``agree_tol`` CIELAB, more
    for a noisy guess) on at least ``min_agreement`` of their pixels (``large_agreement`` for
    regions above ``large_fraction`` of the frame or touching its edge, which are often
    leftovers of unclosed lines) both in the region's core and on all of it but a thin band
    along the lines, whose mean is within ``max_distance`` of it, and that cover at most
    ``max_fraction`` of the frame; gradients, painted backgrounds, effects and details that
    unclosed lines leave inside a region stay as guessed. Line pixels get the original line
    colour (``line_rgb``; black without it). Regions whose confidence is below ``flag_below``
    are flagged for review; in "auto" also flat regions in a colour no palette has.

    ``fringe`` > 0 (e.g. :attr:`Palette.fringe` when the drawing brings no line colours of its
    own): in ``image``, pixels of a snapped region within ``fringe`` px of the ink that the guess
    paints darker than the region's colour keep the guess: that is the lines' anti-aliasing the
    ink mask left out, carried by the guess from the keys (``color_only`` stays flat).

    The defaults were set on real anime frames with unclosed lines extracted from colour, where
    "auto" must never cost more than 0.1 dB PSNR against "off" (``bench --imaging --real``).
    """
    if mode not in SNAP_MODES:
        raise ValueError(f"mode must be one of {SNAP_MODES}, not {mode!r}")
    if not isinstance(palette, Palette):
        palette = Palette(np.asarray(palette, np.uint8).reshape(-1, 3))
    h, w = regions.labels.shape
    if guess_rgb.ndim == 2:
        guess_rgb = np.repeat(guess_rgb[..., None], 3, axis=2)
    if guess_rgb.ndim != 3 or guess_rgb.shape[2] < 3:
        raise ValueError(f"guess must be an RGB image, got shape {guess_rgb.shape}")
    gh, gw = guess_rgb.shape[:2]
    src = np.ascontiguousarray(guess_rgb[..., :3].astype(np.uint8))
    guess = _resize_to(src, h, w)
    # Region statistics use a 3x3 median of the guess: sampling noise goes, while edges (a box
    # filter would drag line ink a pixel further into the regions), gradients and mixed colours
    # (what must not be snapped) stay.
    med = cv2.medianBlur(src, 3)
    labels = regions.labels
    n = regions.count + 1
    if line_mask is None:
        line_mask = labels == 0
    area = np.maximum(regions.areas[:n].astype(np.float64), 1.0)
    scale = max(1.0, h / max(gh, 1))

    # Statistics on a grid of pixels: all of them up to ~1.5 MP; above, every 2nd (every 3rd
    # when the guess is at least 3x smaller and has no finer detail to see) row and column.
    # Regions too small to be hit are added in full, so no region goes unjudged.
    step = 1 if h * w <= 1_500_000 else (3 if scale >= 3 else 2)
    lbl = labels[::step, ::step].ravel()
    hs, ws = (h + step - 1) // step, (w + step - 1) // step
    if step == 1:
        smooth_s = _resize_to(med, h, w)
    elif gh <= h and gw <= w:
        # The upsampled guess read straight at the grid pixels (the same centre-aligned bilinear
        # mapping cv2.resize uses), without building the full-size image.
        ax, ay = step * gw / w, step * gh / h
        m = np.array([[ax, 0, 0.5 * gw / w - 0.5], [0, ay, 0.5 * gh / h - 0.5]], np.float32)
        smooth_s = cv2.warpAffine(med, m, (ws, hs), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REPLICATE)
    else:
        smooth_s = _resize_to(med, h, w)[::step, ::step]
    lab = _fast_lab(smooth_s)
    # Pixels near the lines carry the guess's blur of the lines and of the neighbour region (a
    # model output is upsampled several times): judge each region on its core, the pixels at
    # least ``3 * scale`` px from the lines, or the innermost 40 % of the depth of a region too
    # narrow to have such a core.
    # 5x5 mask: a pixel next to a line is at distance 1 (the 3x3 mask says 0.955).
    dist = cv2.distanceTransform((~line_mask).astype(np.uint8), cv2.DIST_L2, 5)
    cap = int(min(64, math.ceil(3.0 * scale)))
    # Depths are counted up to cap / 0.6 so that a region deep enough has its core from ``cap``.
    deep = int(math.ceil(cap / 0.6)) + 1
    depth = np.minimum(dist[::step, ::step], deep).astype(np.int32).ravel()
    if step > 1:
        seen = np.bincount(lbl, minlength=n) > 0
        missing = ~seen
        missing[0] = False
        if missing.any():
            extra = np.flatnonzero(missing[labels.ravel()])
            ey, ex = np.divmod(extra, w)
            full = _resize_to(med, h, w)
            lbl = np.concatenate([lbl, labels.ravel()[extra]])
            lab = np.concatenate([lab, rgb_to_lab(full[ey, ex])])
            depth = np.concatenate([depth, np.minimum(dist.ravel()[extra], deep).astype(np.int32)])
    levels = deep + 1
    hist = np.bincount(lbl * levels + depth, minlength=n * levels).reshape(n, levels)
    max_depth = levels - 1 - np.argmax(hist[:, ::-1] > 0, axis=1)
    core_from = np.minimum(cap, np.floor(0.6 * max_depth)).astype(np.int32)
    wgt = (depth >= core_from[lbl]).astype(np.float64)
    wsum = np.maximum(np.bincount(lbl, weights=wgt, minlength=n), 1e-6)
    sums = np.stack([np.bincount(lbl, weights=lab[:, c] * wgt, minlength=n) for c in range(3)], axis=1)
    mean = (sums / wsum[:, None]).astype(np.float32)
    d = np.sqrt(((lab - mean[lbl]) ** 2).sum(axis=1))
    rms = np.sqrt(np.bincount(lbl, weights=d * d * wgt, minlength=n) / wsum)
    # Trimmed mean: drop pixels farther than the RMS spread (specks, leftovers of other colours).
    keep = wgt * (d <= np.maximum(rms, 2.0)[lbl])
    kn = np.maximum(np.bincount(lbl, weights=keep, minlength=n), 1.0)
    robust = np.stack([np.bincount(lbl, weights=lab[:, c] * keep, minlength=n) for c in range(3)],
                      axis=1) / kn[:, None]

    k = len(palette)
    if k:
        pal_lab = palette.lab.astype(np.float64)
        dist_all = np.sqrt(((robust[:, None, :] - pal_lab[None, :, :]) ** 2).sum(axis=2))
        idx = np.argmin(dist_all, axis=1)
        d1 = dist_all[np.arange(n), idx]
        chosen = pal_lab[idx].astype(np.float32)
        dp = np.sqrt(((lab - chosen[lbl]) ** 2).sum(axis=1))
        # Pixel noise of the guess (its difference from its own 3x3 median, at its own size)
        # widens the tolerance: a noisy but flat guess is still flat. Structure (detail,
        # gradients) is not pixel noise and does not widen it; a clean guess keeps ``agree_tol``.
        resid = np.sqrt(((_fast_lab(src) - _fast_lab(med)) ** 2).sum(axis=1))
        tol = max(agree_tol, 2.0 * float(np.median(resid)))
        ok = dp <= tol
        core_agree = np.bincount(lbl, weights=wgt * ok, minlength=n) / wsum
        # The same test on nearly the whole region (all but a thin band along the lines, where
        # even a good guess is blurred): unclosed lines leave details next to the strokes that a
        # flat fill would erase, and the core alone does not see them.
        halo = 1.0 + 0.5 * scale
        band = depth > halo
        bsum = np.bincount(lbl, weights=band, minlength=n)
        band_w = (band | ((bsum < 1)[lbl] & (wgt > 0))).astype(np.float64)
        band_agree = np.bincount(lbl, weights=band_w * ok, minlength=n) / np.maximum(
            np.bincount(lbl, weights=band_w, minlength=n), 1e-6)
        agreement = np.minimum(core_agree, band_agree)
        confidence = agreement * np.clip(1.0 - d1 / (2.0 * max_distance), 0.0, 1.0)
        if k > 1:
            # Two palette colours nearly equally close: the choice is a coin toss.
            d2 = np.partition(dist_all, 1, axis=1)[:, 1]
            confidence = confidence * np.clip((d2 - d1) / 4.0, 0.0, 1.0) ** 0.25
    else:
        idx = np.full(n, -1)
        d1 = np.full(n, np.inf)
        agreement = np.zeros(n)
        confidence = np.zeros(n)
    confidence[0] = 1.0
    frac = area / float(h * w)

    if mode == "off" or k == 0:
        snapped = np.zeros(n, bool)
    elif mode == "all":
        snapped = np.ones(n, bool)
    else:
        large = (frac > large_fraction) | regions.touches_edge[:n]
        need = np.where(large, large_agreement, min_agreement)
        snapped = (agreement >= need) & (d1 <= max_distance) & (frac <= max_fraction)
    snapped[0] = False
    flagged = confidence < flag_below
    flagged[0] = False
    if mode == "auto":
        # Left as guessed on purpose (gradients, effects, leftovers): nothing to review there,
        # unless the guess is flat paint in a colour no keyframe has (an invented colour).
        flat_guess = rms <= 0.5 * agree_tol
        flagged &= snapped | (flat_guess & (d1 > max_distance) & (frac <= max_fraction))

    color_only = guess.copy()
    if snapped.any():
        # Gather each pixel's region colour as one packed uint32 (a fast 1-D take), then copy it
        # under the snapped mask: 10x faster than boolean fancy indexing of (N, 3) rows.
        lut = np.zeros((n, 4), np.uint8)
        lut[:, :3] = palette.colors[np.maximum(idx, 0)]
        flat = lut.view(np.uint32).ravel()[labels].view(np.uint8).reshape(h, w, 4)
        sn = snapped[labels].view(np.uint8)
        cv2.copyTo(np.ascontiguousarray(flat[..., :3]), sn, color_only)
    color_only = fill_line_pixels(color_only, line_mask)
    image = composite_lines(color_only, line_mask, line_rgb)
    if fringe > 0 and snapped.any():
        ring = (dist <= fringe + 0.01) & snapped[labels] & ~line_mask
        ys, xs = np.nonzero(ring)
        if len(ys):
            paint_l = palette.lab[idx[labels[ys, xs]], 0]
            keep = _fast_lab(guess[ys, xs].reshape(-1, 1, 3))[:, 0] < paint_l - FRINGE_DARKER
            image[ys[keep], xs[keep]] = guess[ys[keep], xs[keep]]
    conf = confidence.astype(np.float32)
    return SnapResult(image=image, color_only=color_only, confidence=conf,
                      confidence_map=conf[labels], snapped=snapped, flagged=flagged,
                      palette_index=np.asarray(idx, np.int32), distance=np.asarray(d1, np.float32),
                      agreement=np.asarray(agreement, np.float32), mode=mode)
