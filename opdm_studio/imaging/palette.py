"""The keyframes' palette: their flat paint colours and colour conversions.

:func:`extract_palette` reads the flat colours of a coloured keyframe, :func:`key_pair_palette` the
paint of a key pair, and :class:`PaintLookup` finds the nearest paint of a colour by table.
Snapping a guess to the palette region by region is :mod:`opdm_studio.imaging.snapping`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# --- palette ---------------------------------------------------------------------------------

def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0..100, a/b about -128..127) of uint8 RGB, any leading shape, float32."""
    arr = np.asarray(rgb, np.uint8)
    shape = arr.shape
    flat = arr.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(shape).astype(np.float32)


def fast_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB of uint8 RGB via OpenCV's 8-bit path (a table lookup; within ~0.5 unit of the
    float conversion), as float32 (N, 3)."""
    lab8 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2Lab)
    # L * 100 / 255 and a, b - 128 in float32 by one table lookup (numpy's column-wise scaling of
    # an (N, 3) array took 10x the conversion itself on a 1080p frame).
    return cv2.LUT(lab8, _LAB8_TABLE).reshape(-1, 3)


_V256 = np.arange(256, dtype=np.float32)
#: 8-bit CIELAB code -> CIELAB units per channel, (1, 256, 3) float32 for cv2.LUT.
_LAB8_TABLE = np.stack([_V256 * np.float32(100.0 / 255.0), _V256 - np.float32(128.0),
                        _V256 - np.float32(128.0)], axis=1)[None]


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
