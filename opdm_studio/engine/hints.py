"""Hints: the colourist's fixes, where they were carried, and how a frame's colours follow them.

A *fix* is one click of the fill tool: frame, a point of the region clicked, and the swatch. It is
carried to the same region in the neighbouring frames of its keyframe interval
(:mod:`opdm_studio.engine.fixes` tracks the region); each frame it reached gets a *carried* hint
(frame, a point inside the tracked region). Regions are found again from the points whenever a
frame is shown or exported, so the hints survive colouring the frame again, another gap setting
or a re-opened project.

When several hints fall on one region, the frame's own fix wins, then the hint carried from the
nearest frame, then the newest. :func:`region_fills` resolves them; :func:`apply_fills` paints
the regions with the swatches' pixel colours and :func:`paint_regions` shows the swatches'
current colours (see :mod:`~opdm_studio.engine.swatches`).

A fix with a ``shape`` is a stroke of the brush or the enclose-and-fill lasso
(:mod:`~opdm_studio.engine.strokes`): it paints pixels on its own frame, not a region, and its
carried hints are the regions it covered whole, found in the neighbouring frames.

Frames are indices in memory and names in the project file (:meth:`HintSet.to_list`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from opdm_studio.engine.strokes import Shape
from opdm_studio.engine.swatches import RGB, SwatchPalette, pack
from opdm_studio.imaging.regions import fill_line_pixels


@dataclass(frozen=True)
class Fix:
    """One fill: region of ``frame`` under (``x``, ``y``) painted with ``swatch``; ``carried``
    the (frame, x, y) it reached in the neighbouring frames; ``stops`` why carrying stopped on
    each side ("keyframe", "unsure", "fixed", "end" of the cut), before and after ``frame``;
    ``shape``: a brush or lasso stroke (``x``, ``y`` a point it paints)."""

    id: int
    frame: int
    x: int
    y: int
    swatch: str
    carried: tuple[tuple[int, int, int], ...] = ()
    stops: tuple[str, str] = ("", "")
    shape: Shape | None = None

    def carried_frames(self) -> list[int]:
        """The frames the fix was carried to, in order, each once (a region a crossing line
        splits is carried to each of its pieces)."""
        return sorted({f for f, _, _ in self.carried})


@dataclass
class HintSet:
    """Every fix of a project and where each was carried."""

    fixes: dict[int, Fix] = field(default_factory=dict)
    next_id: int = 1

    def __len__(self) -> int:
        return len(self.fixes)

    def copy(self) -> HintSet:
        """An independent copy (fixes are immutable: the dict is what changes)."""
        return HintSet(dict(self.fixes), self.next_id)

    def new_id(self) -> int:
        """A fresh fix id."""
        i = self.next_id
        self.next_id += 1
        return i

    def add(self, fix: Fix) -> Fix:
        """Store a fix (an id already used is replaced)."""
        self.fixes[fix.id] = fix
        self.next_id = max(self.next_id, fix.id + 1)
        return fix

    def remove(self, fix_id: int) -> Fix | None:
        """Drop a fix and its carried hints."""
        return self.fixes.pop(fix_id, None)

    def own(self, frame: int) -> list[Fix]:
        """The fixes made on ``frame``, oldest first."""
        return [f for f in list(self.fixes.values()) if f.frame == frame]

    def strokes(self, frame: int) -> list[Fix]:
        """The brush and lasso strokes made on ``frame``, oldest first."""
        return [f for f in self.own(frame) if f.shape is not None]

    def hints(self, frame: int) -> list[tuple[int, int, str, tuple[int, int, int]]]:
        """(x, y, swatch, priority) of every hint on ``frame``, lowest priority first: later
        ones win a region (own fixes over carried ones, nearer origins over farther, newer
        over older)."""
        out = []
        # A copy taken in one step: the app's thumbnail thread reads while the GUI edits.
        for f in list(self.fixes.values()):
            if f.frame == frame and f.shape is None:     # a stroke paints pixels, not a region
                out.append((f.x, f.y, f.swatch, (2, 0, f.id)))
            for g, x, y in f.carried:
                if g == frame:
                    out.append((x, y, f.swatch, (1, -abs(g - f.frame), f.id)))
        out.sort(key=lambda h: h[3])
        return out

    def frames_carried(self) -> dict[int, set[int]]:
        """Frame -> origin frames of the fixes carried to it."""
        out: dict[int, set[int]] = {}
        for f in list(self.fixes.values()):
            for g, _, _ in f.carried:
                out.setdefault(g, set()).add(f.frame)
        return out

    def count_swatch(self, swatch_id: str) -> int:
        """How many fixes paint with ``swatch_id``."""
        return sum(1 for f in self.fixes.values() if f.swatch == swatch_id)

    def replace_swatch(self, old: str, new: str) -> int:
        """Fixes painting with ``old`` paint with ``new`` instead; returns how many."""
        n = 0
        for k, f in list(self.fixes.items()):
            if f.swatch == old:
                self.fixes[k] = replace(f, swatch=new)
                n += 1
        return n


    # ------------------------------------------------------------------ files

    def to_list(self, names: list[str]) -> list[dict[str, Any]]:
        """JSON form, frames by name (so a re-sorted cut still maps)."""
        return [{"id": f.id, "frame": names[f.frame], "x": f.x, "y": f.y, "swatch": f.swatch,
                 "carried": [[names[g], x, y] for g, x, y in f.carried], "stops": list(f.stops),
                 **({"shape": f.shape.to_list()} if f.shape is not None else {})}
                for f in sorted(self.fixes.values(), key=lambda f: f.id)]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]] | None, index_of: Callable[[str], int]) -> HintSet:
        """Inverse of :meth:`to_list`; ``index_of(name)`` maps a frame name to its index (and
        raises for a frame the cut no longer has)."""
        hs = cls()
        for it in items or []:
            carried = tuple((index_of(str(g)), int(x), int(y)) for g, x, y in it.get("carried", []))
            stops = tuple(str(s) for s in it.get("stops", ("", "")))[:2]
            shape = Shape.from_list(it["shape"]) if it.get("shape") else None
            hs.add(Fix(int(it["id"]), index_of(str(it["frame"])), int(it["x"]), int(it["y"]),
                       str(it["swatch"]), carried, (stops + ("", ""))[:2], shape))  # type: ignore[arg-type]
        return hs


# ----------------------------------------------------------------------- painting regions

def packed(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> int32 (H, W) 0xRRGGBB."""
    a = rgb.astype(np.int32)
    return (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]


def region_fills(labels: np.ndarray, hints: list[tuple[int, int, str, Any]]) -> dict[int, str]:
    """Region label -> swatch id after resolving ``hints`` (as :meth:`HintSet.hints` orders
    them, lowest priority first). A hint on a line pixel or outside the frame is ignored."""
    h, w = labels.shape
    out: dict[int, str] = {}
    for x, y, swatch, _prio in hints:
        if 0 <= x < w and 0 <= y < h:
            lab = int(labels[y, x])
            if lab > 0:
                out[lab] = swatch
    return out


def apply_fills(color_only: np.ndarray, labels: np.ndarray, fills: dict[int, RGB]) -> np.ndarray:
    """A copy of a colour-only layer with the regions of ``fills`` (label -> RGB) painted flat;
    line pixels are filled again from their neighbours (the compositor's colour layer)."""
    if not fills:
        return color_only
    n = int(labels.max()) + 1
    lut = np.zeros((n, 3), np.uint8)
    has = np.zeros(n, bool)
    for lab, rgb in fills.items():
        if 0 < lab < n:
            lut[lab] = rgb
            has[lab] = True
    sel = has[labels]
    out = color_only.copy()
    out[sel] = lut[labels[sel]]
    return fill_line_pixels(out, labels == 0)


def paint_regions(color_only: np.ndarray, labels: np.ndarray, palette: SwatchPalette,
                  fill_lines: bool = True) -> np.ndarray:
    """The colours a frame shows: regions painted with a swatch whose colour changed (or that
    was deleted) take its current colour (or red). A region counts as painted with a swatch when
    most of its pixels show the swatch's colour (its pixel colours, the near-identical key
    colours merged into it, and its colour now, counted together); only those pixels change, so
    the model's colours elsewhere (gradients, effects) are never touched. ``fill_lines``: line
    pixels take their neighbours' new colours (a colour-only layer); off for a painting with
    its lines."""
    cmap = palette.colour_map()
    if not cmap:
        return color_only
    codes = packed(color_only)
    n = int(labels.max()) + 1
    areas = np.maximum(np.bincount(labels.ravel(), minlength=n), 1)
    out = color_only
    changed = False
    shows: dict[RGB, list[int]] = {}
    for src, rgb in cmap.items():
        shows.setdefault(rgb, []).append(src)
    for rgb, srcs in shows.items():
        hit = codes == srcs[0] if len(srcs) == 1 else np.isin(codes, srcs)
        if not hit.any():
            continue
        already = codes == pack(rgb)
        share = np.bincount(labels[hit | already], minlength=n) / areas
        owner = share >= 0.5
        owner[0] = False
        sel = hit & owner[labels]
        if sel.any():
            if not changed:
                out = color_only.copy()
                changed = True
            out[sel] = rgb
    if changed and fill_lines:
        out = fill_line_pixels(out, labels == 0)
    return out


def swatch_of_region(color_only: np.ndarray, labels: np.ndarray, label: int,
                     palette: SwatchPalette) -> tuple[RGB, Any]:
    """(most frequent pixel colour of region ``label``, the swatch it is painted with or None)."""
    sel = labels == label
    if not sel.any():
        return (0, 0, 0), None
    codes, counts = np.unique(packed(color_only[sel]), return_counts=True)
    c = int(codes[int(np.argmax(counts))])
    rgb = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
    sw = palette.by_source(rgb)
    if sw is None:
        # A swatch added by the user and painted since has its own colour as its source.
        sw = next((s for s in palette.live() if pack(s.rgb) == c), None)
    return rgb, sw
