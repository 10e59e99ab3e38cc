"""Line art from colour frames (high-pass extraction) and binarisation of scanned drawings.

Conventions: colour images are ``uint8`` RGB ``(H, W, 3)``; line *darkness* maps are ``float32``
``(H, W)`` in [0, 1] where 1 is full ink; line *masks* are ``bool`` ``(H, W)``, True on ink.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar

import cv2
import numpy as np

PROTOCOL_SIGMA = 3.0
PROTOCOL_PERCENTILE = 99.9
PROTOCOL_THRESHOLD = 0.25


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB uint8 image as float32 in [0, 255]."""
    return _luma(*_planes(rgb))


def _planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The R, G, B planes of an (H, W, >=3) image as contiguous arrays (numpy on the interleaved
    image, channel slices or reductions over the last axis, is 5-10x slower)."""
    r, g, b = cv2.split(np.ascontiguousarray(rgb[..., :3]))
    return r, g, b


def _luma(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of uint8 planes in the float32 order of 0.299 * r + 0.587 * g + 0.114 * b."""
    luma = np.float32(0.299) * r.astype(np.float32)
    luma += np.float32(0.587) * g.astype(np.float32)
    luma += np.float32(0.114) * b.astype(np.float32)
    return luma


def _chroma(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 max - min of the channels of uint8 planes."""
    return cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))


def extract_lines(rgb: np.ndarray, sigma: float = PROTOCOL_SIGMA,
                  percentile: float = PROTOCOL_PERCENTILE) -> np.ndarray:
    """Line darkness of a colour frame by the classic high-pass (the evaluation protocol's).

    gray = luminance; high-pass = gray - GaussianBlur(gray, sigma); the dark residue (negative
    part) is normalised by its ``percentile``-th percentile and clipped to [0, 1].
    """
    gray = luminance(rgb)
    blur = cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, sigmaY=sigma)
    dark = np.maximum(blur - gray, 0.0)
    scale = float(np.percentile(dark, percentile)) if dark.size else 0.0
    if scale <= 1e-6:
        return np.zeros(gray.shape, np.float32)
    return np.clip(dark / scale, 0.0, 1.0).astype(np.float32)


def line_mask_from_darkness(darkness: np.ndarray, threshold: float = PROTOCOL_THRESHOLD) -> np.ndarray:
    """Binary ink mask of a darkness map (protocol threshold 0.25)."""
    return darkness > threshold


def darkness_to_lineart(darkness: np.ndarray) -> np.ndarray:
    """Render a darkness map as a line drawing: uint8 gray, 255 paper, 0 full ink."""
    return np.clip(255.0 * (1.0 - darkness), 0, 255).astype(np.uint8)


# --- line art read from files: coloured trace lines and scans -------------------------------

# A coloured stroke counts as ink when its chroma (max - min channel) exceeds this: red/blue
# shadow and highlight lines are drawn in saturated colour, paper and anti-aliasing are not.
TRACE_CHROMA = 60


def rgb_lines_to_gray(rgb: np.ndarray) -> np.ndarray:
    """Gray line drawing (255 paper, 0 ink) of an RGB line drawing where coloured lines are ink.

    Darkness is the larger of (1 - luma) and the chroma, so a light-blue highlight line is as much
    a line as a black one; white paper and gray pencil keep their luma.
    """
    r, g, b = _planes(rgb)
    darkness = np.maximum(np.float32(255.0) - _luma(r, g, b), _chroma(r, g, b).astype(np.float32))
    out = np.float32(255.0) - darkness
    out += np.float32(0.5)
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


@dataclass
class TraceLines:
    """Coloured trace lines of a drawing: mask and kind per pixel (0 none, 1 red, 2 blue, 3 other)."""
    mask: np.ndarray   # bool (H, W), True on coloured (non-black) line pixels
    kind: np.ndarray   # uint8 (H, W)

    RED: ClassVar[int] = 1
    BLUE: ClassVar[int] = 2
    OTHER: ClassVar[int] = 3


def find_trace_lines(line_rgb: np.ndarray, line_mask: np.ndarray | None = None,
                     min_chroma: int = TRACE_CHROMA) -> TraceLines:
    """Find coloured (red/blue/other) trace lines among the line pixels of an RGB drawing."""
    rgb = np.ascontiguousarray(line_rgb)
    mask = _chroma(*_planes(rgb)) >= min_chroma
    if line_mask is not None:
        mask &= line_mask
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # hue in [0, 180)
    hue = hsv[..., 0].astype(np.int16)
    kind = np.zeros(mask.shape, np.uint8)
    red = (hue < 15) | (hue >= 160)
    blue = (hue >= 85) & (hue < 135)
    kind[mask] = TraceLines.OTHER
    kind[mask & red] = TraceLines.RED
    kind[mask & blue] = TraceLines.BLUE
    return TraceLines(mask, kind)


# --- how the finished frame treats trace lines (learnt from the painted keys) ----------------

#: A key pixel within this largest-channel difference of the drawing's line colour shows the line.
TRACE_SHOWN = 48
#: Chroma from which a pixel just outside the ink counts as the soft edge of a coloured line.
TRACE_EDGE_CHROMA = 16
#: How far (pixels) outside the ink a trace line's soft edge reaches.
TRACE_EDGE_REACH = 2
TREATMENTS = ("kept", "painted")


@dataclass(frozen=True)
class TraceTreatment:
    """What the finished frame does with each kind of trace line: "kept" (shows the line in its
    colour, as the drawing says) or "painted" (covered with the neighbouring paint)."""

    red: str = "kept"
    blue: str = "kept"
    other: str = "kept"

    KINDS: ClassVar[dict[str, int]] = {"red": TraceLines.RED, "blue": TraceLines.BLUE,
                                       "other": TraceLines.OTHER}

    def __post_init__(self) -> None:
        for name in self.KINDS:
            if getattr(self, name) not in TREATMENTS:
                raise ValueError(f"trace treatment {name}={getattr(self, name)!r}: use kept or painted")

    def painted_kinds(self) -> list[int]:
        """The :class:`TraceLines` kinds painted over."""
        return [kind for name, kind in self.KINDS.items() if getattr(self, name) == "painted"]

    def to_dict(self) -> dict[str, str]:
        """JSON form: kind name -> "kept" | "painted"."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TraceTreatment:
        """Inverse of :meth:`to_dict` (missing kinds are kept; ValueError on other values)."""
        return cls(**{name: str(data.get(name, "kept")) for name in cls.KINDS})


def _max_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest channel difference of two (N, 3) uint8 colour lists."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)


def trace_votes(paint: np.ndarray, line_rgb: np.ndarray,
                line_mask: np.ndarray) -> dict[int, tuple[int, int]]:
    """Per trace kind, (kept, painted) pixel counts of one painted key over its drawing.

    A trace pixel is kept when the key shows the drawing's line colour there (within
    :data:`TRACE_SHOWN`, and nearer to it than to the nearest paint off the lines); otherwise it
    is painted over.
    """
    from opdm_studio.imaging.regions import fill_line_pixels
    trace = find_trace_lines(line_rgb, line_mask)
    if not trace.mask.any():
        return {}
    near = fill_line_pixels(paint[..., :3], line_mask)[trace.mask]
    shown, line = paint[..., :3][trace.mask], line_rgb[trace.mask]
    to_line = _max_diff(shown, line)
    kept = (to_line <= TRACE_SHOWN) & (to_line < _max_diff(shown, near))
    kinds = trace.kind[trace.mask]
    out = {}
    for kind in TraceTreatment.KINDS.values():
        sel = kinds == kind
        if sel.any():
            k = int(np.count_nonzero(kept & sel))
            out[kind] = (k, int(np.count_nonzero(sel)) - k)
    return out


def learn_trace_treatment(keys: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> TraceTreatment:
    """How the painted keys treat each kind of trace line: ``keys`` are (key paint RGB, the
    key's drawing RGB, its ink mask). A kind is painted over where most of its pixels over all
    keys show paint; a kind no key has is kept (what the drawing says)."""
    kept: dict[int, int] = {}
    painted: dict[int, int] = {}
    for paint, line_rgb, line_mask in keys:
        for kind, (k, p) in trace_votes(paint, line_rgb, line_mask).items():
            kept[kind] = kept.get(kind, 0) + k
            painted[kind] = painted.get(kind, 0) + p
    return TraceTreatment(**{name: "painted" if painted.get(kind, 0) > kept.get(kind, 0) else "kept"
                             for name, kind in TraceTreatment.KINDS.items()})


def painted_trace_mask(line_rgb: np.ndarray, line_mask: np.ndarray,
                       treatment: TraceTreatment) -> np.ndarray | None:
    """bool (H, W): the drawing's trace-line pixels ``treatment`` paints over (their ink and the
    coloured soft edge just outside it); None when it paints no kind over."""
    kinds = treatment.painted_kinds()
    if not kinds:
        return None
    ink = find_trace_lines(line_rgb, line_mask)
    painted = ink.mask & np.isin(ink.kind, kinds)
    if not painted.any():
        return painted
    # The anti-aliased edge of a painted-over line is the same hue, fainter, off the ink mask.
    soft = find_trace_lines(line_rgb, None, min_chroma=TRACE_EDGE_CHROMA)
    size = 2 * TRACE_EDGE_REACH + 1
    near = cv2.dilate(painted.view(np.uint8), np.ones((size, size), np.uint8)) > 0
    edge = near & ~line_mask & soft.mask & np.isin(soft.kind, kinds)
    return painted | edge


def line_mask_from_drawing(line: np.ndarray, threshold: int = 160) -> np.ndarray:
    """Ink mask of a gray line drawing (uint8, 255 paper): True where darker than ``threshold``."""
    return line < threshold


def binarize_scan(image: np.ndarray, block: int | None = None, offset: float = 12.0,
                  min_speck: int | None = None) -> np.ndarray:
    """Clean ink mask (bool, True on ink) of a scanned or pencil drawing.

    Adaptive (local mean) threshold copes with uneven paper and lighting; ``offset`` is how much
    darker than its surroundings a pixel must be. Connected ink specks smaller than ``min_speck``
    pixels (dust, paper grain) are removed. Coloured trace lines count as ink.
    """
    gray = rgb_lines_to_gray(image) if image.ndim == 3 else image
    gray = np.ascontiguousarray(gray.astype(np.uint8))
    h, w = gray.shape
    if block is None:
        # About 1/30 of the short side, odd, at least 15: wider than any stroke, narrower than
        # lighting changes.
        block = max(15, (min(h, w) // 30) | 1)
    block |= 1
    smooth = cv2.GaussianBlur(gray, (3, 3), 0)
    ink = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                block, offset) > 0
    # Flat dark areas (solid black fills) are not darker than their local mean: keep them by a
    # global dark threshold as well.
    ink |= gray < 60
    if min_speck is None:
        # Dust blurred by the scanner covers a few pixels; the shortest real strokes more.
        min_speck = max(10, int(round(h * w * 5e-6)))
    if min_speck > 0:
        n, lab, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= min_speck
        keep[0] = False
        ink = keep[lab]
    return ink


# --- lines as a layer over colour -----------------------------------------------------------

# Line-drawing pixels at least this light (every channel) are paper: off-white scans do not tint.
PAPER_LEVEL = 250


def line_layer(line_mask: np.ndarray, line_rgb: np.ndarray | None = None) -> np.ndarray:
    """Lines as an RGBA layer (uint8 (H, W, 4)): opaque original colour on the ink mask,
    un-multiplied anti-aliasing fringe around it, transparent paper.

    Over-compositing it on any colour (:func:`composite_over`) gives the line pixels exactly and
    the same fringe as multiplying the drawing onto the colour (exact for black/gray ink).
    """
    h, w = line_mask.shape
    out = np.zeros((h, w, 4), np.uint8)
    if line_rgb is None:
        out[line_mask, 3] = 255
        return out
    r, g, b = cv2.split(np.ascontiguousarray(line_rgb))
    mn = cv2.min(cv2.min(r, g), b)
    # Only pixels darker than paper carry anything: work on those alone (lines are a few %).
    fringe_idx = np.flatnonzero(((mn < PAPER_LEVEL) & ~line_mask).ravel())
    flat_out = out.reshape(-1, 4)
    if len(fringe_idx):
        lr = line_rgb.reshape(-1, 3)[fringe_idx].astype(np.int32)
        alpha = 255 - mn.ravel()[fringe_idx].astype(np.int32)
        a = alpha[:, None]
        # Un-multiply the fringe from white paper: p = 255 (1 - a) + L a  ->  L = 255 - (255 - p) / a.
        unmul = 255 - ((255 - lr) * 255 + a // 2) // a
        flat_out[fringe_idx, :3] = np.clip(unmul, 0, 255).astype(np.uint8)
        flat_out[fringe_idx, 3] = alpha.astype(np.uint8)
    ink_idx = np.flatnonzero(line_mask.ravel())
    flat_out[ink_idx, :3] = line_rgb.reshape(-1, 3)[ink_idx]
    flat_out[ink_idx, 3] = 255
    return out


def composite_over(color: np.ndarray, layer_rgba: np.ndarray) -> np.ndarray:
    """Straight-alpha "over" of an RGBA layer on an RGB image, uint8, rounded."""
    out = np.array(color[..., :3], copy=True)
    idx = np.flatnonzero(layer_rgba[..., 3].ravel())
    if len(idx):
        lay = layer_rgba.reshape(-1, 4)[idx].astype(np.uint32)
        a = lay[:, 3:4]
        flat = out.reshape(-1, 3)
        flat[idx] = ((flat[idx].astype(np.uint32) * (255 - a) + lay[:, :3] * a + 127) // 255).astype(np.uint8)
    return out


def composite_lines(color: np.ndarray, line_mask: np.ndarray,
                    line_rgb: np.ndarray | None = None) -> np.ndarray:
    """Colour with the original lines on top (line pixels exact, fringe as a multiply)."""
    return composite_over(color, line_layer(line_mask, line_rgb))
