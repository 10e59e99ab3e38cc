"""Hand painting when a fill leaks: the brush and the enclose-and-fill lasso (囲って塗る).

On sketchy or extracted line art an open line makes one region of a forearm and a vest, and a
fill paints both. The hand tools paint *pixels* with the current swatch instead of a region:

- a **brush** stroke: a path of points and a radius (every pixel within the radius of the path);
- an **enclose-and-fill** lasso: a closed outline: the regions inside it, and the part inside it
  of a region it cuts through (the leaking one), but not the slivers of the neighbours it only
  grazes (a part under :data:`LASSO_PART` of what it encloses), so an outline drawn loosely round
  a forearm does not paint the background beside it.

Line ink is never painted (the drawing's lines stay on top; the colour layer under them is filled
from the neighbouring paint, as for fills). A stroke is a :class:`~opdm_studio.engine.hints.Fix`
with a :class:`Shape`: it is stored, undone, saved and exported like a fill, and stacked with the
fills of its frame in the order they were made (a later fill of a region covers an earlier stroke
there, a later stroke covers the fill). Where a stroke covers a paint region of its frame whole
(:data:`COVERED` of its area), that region *is found* and the stroke is carried to it through the
keyframe interval like a fill; the part of a leaking region it paints stays on its own frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from opdm_studio.engine.swatches import RGB
from opdm_studio.imaging.regions import fill_line_pixels

BRUSH, LASSO = "brush", "lasso"
KINDS = (BRUSH, LASSO)
#: A region counts as found by a stroke (and the stroke is carried to it) when the stroke
#: paints at least this share of it.
COVERED = 0.9
#: A region the lasso cuts through is painted inside it when its part is at least this share of
#: what the lasso encloses (smaller parts are neighbours the outline only grazes).
LASSO_PART = 0.25
#: At most this many found regions are carried per stroke (the largest ones).
MAX_CARRIED_REGIONS = 32
#: Brush radius limits, in frame pixels.
MIN_RADIUS, MAX_RADIUS = 1, 200


@dataclass(frozen=True)
class Shape:
    """What a hand tool painted: ``kind`` brush (``points`` a path, ``radius`` in pixels) or
    lasso (``points`` a closed outline)."""

    kind: str
    points: tuple[tuple[int, int], ...]
    radius: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown stroke kind {self.kind!r}")

    @classmethod
    def make(cls, kind: str, points: Any, radius: int = 0) -> Shape:
        """A shape from any sequence of (x, y) pairs (rounded; repeats in a row dropped)."""
        pts: list[tuple[int, int]] = []
        for x, y in points:
            p = (int(round(float(x))), int(round(float(y))))
            if not pts or pts[-1] != p:
                pts.append(p)
        r = int(np.clip(int(radius), MIN_RADIUS, MAX_RADIUS)) if kind == BRUSH else 0
        return cls(kind, tuple(pts), r)

    def to_list(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "radius": self.radius, "points": [list(p) for p in self.points]}

    @classmethod
    def from_list(cls, data: dict[str, Any]) -> Shape:
        """Inverse of :meth:`to_list`."""
        return cls.make(str(data["kind"]), data.get("points", []), int(data.get("radius", 0)))


def shape_mask(shape: Shape, size: tuple[int, int]) -> np.ndarray:
    """bool (H, W) of the pixels ``shape`` covers on a frame of ``size`` (H, W)."""
    h, w = size
    m = np.zeros((h, w), np.uint8)
    if not shape.points:
        return m.astype(bool)
    pts = np.array(shape.points, np.int32).reshape(-1, 1, 2)
    if shape.kind == LASSO:
        if len(shape.points) >= 3:
            cv2.fillPoly(m, [pts], 1)
    else:
        r = shape.radius
        if len(shape.points) > 1:
            cv2.polylines(m, [pts], False, 1, thickness=2 * r + 1)
        for x, y in shape.points:     # round ends and joints
            cv2.circle(m, (x, y), r, 1, -1)
    return m.astype(bool)


def covered_regions(labels: np.ndarray, mask: np.ndarray, share: float = COVERED) -> list[int]:
    """Labels of the regions ``mask`` covers at least ``share`` of, largest first."""
    n = int(labels.max()) + 1
    area = np.bincount(labels.ravel(), minlength=n)
    inside = np.bincount(labels[mask], minlength=n)
    ok = inside >= share * np.maximum(area, 1)
    ok[0] = False
    ok &= area > 0
    found = np.flatnonzero(ok)
    return [int(k) for k in found[np.argsort(-area[found], kind="stable")]]


def stroke_pixels(shape: Shape, labels: np.ndarray) -> np.ndarray:
    """bool (H, W): what ``shape`` paints on a frame with region ``labels`` (lines excluded;
    for a lasso, not the slivers of regions it only grazes: see the module doc)."""
    mask = shape_mask(shape, labels.shape) & (labels > 0)
    if shape.kind != LASSO or not mask.any():
        return mask
    n = int(labels.max()) + 1
    area = np.bincount(labels.ravel(), minlength=n)
    inside = np.bincount(labels[mask], minlength=n)
    keep = (inside >= COVERED * np.maximum(area, 1)) | (inside >= LASSO_PART * int(mask.sum()))
    keep[0] = False
    return mask & keep[labels]


def paint_layers(color_only: np.ndarray, labels: np.ndarray,
                 regions: dict[int, tuple[Any, RGB]],
                 strokes: list[tuple[Any, np.ndarray, RGB]]) -> np.ndarray:
    """A colour-only layer with region fills and stroke pixels painted, the highest rank winning
    each pixel: ``regions`` label -> (rank, RGB), ``strokes`` [(rank, bool mask, RGB)]. Ranks are
    any comparable values (the hints' priorities). Line pixels are filled again from their
    neighbours."""
    if not regions and not strokes:
        return color_only
    ranks = sorted({r for r, _ in regions.values()} | {r for r, _, _ in strokes})
    order = {r: n for n, r in enumerate(ranks)}
    colours: list[RGB] = []
    n = int(labels.max()) + 1
    lab_rank = np.full(n, -1, np.int32)
    lab_col = np.zeros(n, np.int32)
    for lab, (rank, rgb) in regions.items():
        if 0 < lab < n:
            lab_rank[lab] = order[rank]
            lab_col[lab] = len(colours)
            colours.append(rgb)
    owner = lab_rank[labels]
    col = lab_col[labels]
    for rank, mask, rgb in sorted(strokes, key=lambda s: order[s[0]]):
        r = order[rank]
        sel = mask & (labels > 0) & (owner < r)
        owner[sel] = r
        col[sel] = len(colours)
        colours.append(rgb)
    sel = owner >= 0
    if not sel.any():
        return color_only
    lut = np.array(colours, np.uint8).reshape(-1, 3)
    out = color_only.copy()
    out[sel] = lut[col[sel]]
    return fill_line_pixels(out, labels == 0)
