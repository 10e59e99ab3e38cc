"""Fixing a coloured cut: the fill tool's clicks, carrying them through the frames, and the
colours a frame shows and exports once its fixes and the palette are applied.

:class:`Fixer` works on a cut's drawings (any object with ``line(i)``: the project's cut, or
the bench's in-memory cut), the project's :class:`~opdm_studio.engine.hints.HintSet` and
:class:`~opdm_studio.engine.swatches.SwatchPalette`:

- :meth:`Fixer.fill` records a fix (frame, region, swatch) and carries it to the same region in
  the neighbouring frames of its keyframe interval, frame by frame
  (:class:`~opdm_studio.imaging.tracking.Correspondence`; the pieces of a region a crossing line
  splits go together), stopping at a keyframe, where the match is unsure, or at a region that
  has a fix of its own;
- :meth:`Fixer.fixed` puts a frame's hints on a result (the swatches' pixel colours), and
  :meth:`Fixer.shown` also shows the swatches' current colours: what the viewer shows and what
  the run and the export write. Results are stored without hints, so a fix is undone by dropping
  it, and colouring a frame again keeps its fixes;
- :meth:`Fixer.paint` records a brush or lasso stroke (:mod:`~opdm_studio.engine.strokes`),
  carried like a fill for the regions it covers whole;
- :meth:`Fixer.flagged` lists the regions of a frame flagged for review that no fix covers.

Regions are found from the drawing with the project's gap closing and kept in a small cache, as
are the correspondences between neighbouring drawings.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from opdm_studio.engine.hints import Fix, HintSet, apply_fills, paint_regions, region_fills
from opdm_studio.engine.strokes import MAX_CARRIED_REGIONS, Shape, covered_regions, paint_layers, stroke_pixels
from opdm_studio.engine.swatches import RGB, Swatch, SwatchPalette
from opdm_studio.errors import ProjectError
from opdm_studio.imaging.lineart import line_mask_from_drawing
from opdm_studio.imaging.regions import Regions, find_regions
from opdm_studio.imaging.tracking import Correspondence, region_point

#: Regions whose confidence is below this are flagged for review (the Review view's hatching).
REVIEW_THRESHOLD = 0.5


@dataclass(frozen=True)
class Flagged:
    """A region flagged for review: its label, a point inside it, its box (x0, y0, x1, y1)."""

    frame: int
    label: int
    x: int
    y: int
    box: tuple[int, int, int, int]
    area: int
    #: A hatched place inside a region not flagged as a whole (its lines leave one big region,
    #: e.g. faint pencil): fixed with the brush or an enclosing fill, not by filling the region.
    #: ``label`` is then a negative id of the place on its frame.
    part: bool = False


def reading_order(f: Flagged) -> tuple[int, int]:
    """Sort key of review stops: top to bottom in 16 px bands, then left to right."""
    return f.box[1] // 16, f.box[0]


@dataclass
class FillOutcome:
    """What one click of the fill tool did."""

    fix: Fix
    replaced: list[Fix]          # the frame's earlier fixes of the same region, now replaced
    frames: list[int]            # every frame whose colours may change (the frame + carried)

    def describe(self, label: Callable[[int], str] = str) -> str:
        """One line for the status bar: where the fix went and why carrying stopped."""
        carried = self.fix.carried_frames()
        text = f"frame {label(self.fix.frame)}"
        if carried:
            text += f", carried to {frame_ranges([label(f) for f in carried], carried)}"
        else:
            text += ", not carried"
        why = {"keyframe": "a keyframe", "unsure": "an unsure match", "fixed": "another fix",
               "end": "the cut's end"}
        stops = [why[s] for s in dict.fromkeys(self.fix.stops) if s in why]
        if stops:
            text += f" (stopped at {' and '.join(stops)})"
        return text


def frame_ranges(labels: list[str], frames: list[int]) -> str:
    """"3-7, 9" from frames [3, 4, 5, 6, 7, 9] and their labels."""
    parts, start = [], 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[i - 1] + 1:
            parts.append(labels[start] if start == i - 1 else f"{labels[start]}-{labels[i - 1]}")
            start = i
    return ", ".join(parts)


class RegionCache:
    """Regions of each drawing (with the gap closing) and correspondences of neighbouring
    drawings, computed on demand and kept for the most recent frames (thread-safe: the app's
    thumbnails are made on another thread)."""

    #: Memory the cached region labels may take (a 2K frame's labels are 8 MB).
    MAX_BYTES = 256 * 2 ** 20

    def __init__(self, line: Callable[[int], np.ndarray], gap: int = 3, capacity: int = 64) -> None:
        self._line = line
        self.gap = int(gap)
        self.capacity = capacity
        self._sized = False
        self._regions: OrderedDict[int, Regions] = OrderedDict()
        self._pairs: OrderedDict[tuple[int, int], Correspondence] = OrderedDict()
        self._lock = threading.Lock()

    def line(self, i: int) -> np.ndarray:
        """The gray drawing of frame ``i``."""
        return self._line(i)

    def labels(self, i: int) -> np.ndarray:
        """Region labels int32 (H, W) of frame ``i`` (0 on lines)."""
        return self.regions(i).labels

    def regions(self, i: int) -> Regions:
        """The paint regions of frame ``i`` (its ink mask with the gap closing)."""
        with self._lock:
            reg = self._regions.get(i)
            if reg is not None:
                self._regions.move_to_end(i)
                return reg
            gap = self.gap
        reg = find_regions(line_mask_from_drawing(self._line(i)), gap=gap)
        with self._lock:
            if not self._sized:       # as many frames as the memory budget holds, 8 at least
                size = reg.labels.nbytes + reg.line_mask.nbytes
                self.capacity = max(8, min(self.capacity, self.MAX_BYTES // max(size, 1)))
                self._sized = True
            if gap == self.gap:
                self._regions[i] = reg
                while len(self._regions) > self.capacity:
                    self._regions.popitem(last=False)
        return reg

    def correspondence(self, a: int, b: int) -> Correspondence:
        """How the regions of frame ``b`` overlap those of frame ``a``."""
        with self._lock:
            c = self._pairs.get((a, b))
        if c is None:
            c = Correspondence.between(self.labels(a), self.labels(b), self._line(a), self._line(b))
            with self._lock:
                self._pairs[(a, b)] = c
                while len(self._pairs) > self.capacity:
                    self._pairs.popitem(last=False)
        return c

    def warm(self, frames: list[int], stop: threading.Event) -> None:
        """Compute the regions of ``frames`` and the correspondences of each neighbouring pair
        in advance (a background thread: a fill then carries at once); stops when ``stop`` is
        set."""
        for a, b in zip(frames, frames[1:], strict=False):
            for x, y in ((a, b), (b, a)):
                if stop.is_set():
                    return
                self.correspondence(x, y)

    def has_pair(self, a: int, b: int) -> bool:
        """True when the correspondence of frames ``a`` -> ``b`` is computed."""
        with self._lock:
            return (a, b) in self._pairs

    def set_gap(self, gap: int) -> None:
        """Use another gap closing (drops everything computed)."""
        if int(gap) != self.gap:
            self.gap = int(gap)
            self.forget()

    def forget(self, frame: int | None = None) -> None:
        """Drop what was computed for ``frame`` (its drawing changed), or everything."""
        with self._lock:
            if frame is None:
                self._regions.clear()
                self._pairs.clear()
                return
            self._regions.pop(frame, None)
            for k in [k for k in self._pairs if frame in k]:
                del self._pairs[k]


class Fixer:
    """The fill tool's logic on one cut (see the module doc).

    ``regions`` gives the cut's drawings and their regions; ``n_frames`` the cut's length;
    ``keys()`` the current keyframe indices (a fix carries only between two keyframes).
    """

    def __init__(self, regions: RegionCache, n_frames: int, keys: Callable[[], Iterable[int]],
                 hints: HintSet | None = None, palette: SwatchPalette | None = None) -> None:
        self.regions = regions
        self.n_frames = int(n_frames)
        self._keys = keys
        self.hints = hints if hints is not None else HintSet()
        self.palette = palette if palette is not None else SwatchPalette()

    # ------------------------------------------------------------------ where a fix may go

    def interval(self, frame: int) -> tuple[int, int]:
        """(first, last) frame of the keyframe interval holding ``frame`` (keys excluded; the
        cut's ends where there is no key on that side)."""
        keys = sorted(set(self._keys()))
        lo = max((k for k in keys if k < frame), default=-1) + 1
        hi = min((k for k in keys if k > frame), default=self.n_frames) - 1
        return lo, hi

    def region_at(self, frame: int, x: int, y: int) -> int:
        """The region label under pixel (x, y) of ``frame`` (0 on a line or outside)."""
        lab = self.regions.labels(frame)
        h, w = lab.shape
        return int(lab[y, x]) if 0 <= x < w and 0 <= y < h else 0

    # ------------------------------------------------------------------ the fill tool

    def fill(self, frame: int, x: int, y: int, swatch: str, carry: bool = True,
             holds_only: bool = False) -> FillOutcome:
        """Give the region under (x, y) of ``frame`` the swatch ``swatch`` and carry the fix
        (``carry``) to the same region in the neighbouring frames of its keyframe interval
        (``holds_only``: only to the neighbouring exposures of the same drawing).

        ProjectError on a keyframe (its paint is the truth), on a line, or with a deleted swatch.
        The frame's earlier fixes of the same region are replaced.
        """
        sw = self._paintable(frame, swatch)
        label = self.region_at(frame, x, y)
        if label == 0:
            raise ProjectError("that is a line, not a paint region: click inside a region")
        labels = self.regions.labels(frame)
        replaced = [f for f in self.hints.own(frame)
                    if f.shape is None and self._label_of(labels, f.x, f.y) == label]
        for f in replaced:
            self.hints.remove(f.id)
        carried: list[tuple[int, int, int]] = []
        stops = ("", "")
        if carry:
            carried, stops = self.carry(frame, label, holds_only)
        fix = self.hints.add(Fix(self.hints.new_id(), frame, int(x), int(y), sw.id,
                                 tuple(carried), stops))
        frames = sorted({frame, *(g for g, _, _ in carried),
                         *(g for f in replaced for g, _, _ in f.carried)})
        return FillOutcome(fix, replaced, frames)

    def _paintable(self, frame: int, swatch: str) -> Swatch:
        """The swatch a fill or a stroke paints ``frame`` with; ProjectError on a keyframe (its
        paint is the truth) or a deleted swatch."""
        if frame in set(self._keys()):
            raise ProjectError("this frame is a keyframe: its paint is the truth the other frames "
                               "are coloured from; fix it in your paint program and drop it back")
        sw = self.palette.get(swatch)
        if sw.deleted:
            raise ProjectError(f"the swatch {sw.name!r} is deleted: choose another one")
        return sw

    def paint(self, frame: int, shape: Shape, swatch: str, carry: bool = True) -> FillOutcome:
        """A brush or lasso stroke on ``frame`` with ``swatch``: its pixels (lines excluded) are
        painted; each region it covers whole is carried like a fill (``carry``). ProjectError on a
        keyframe, a deleted swatch, or a stroke that covers no paint region."""
        sw = self._paintable(frame, swatch)
        labels = self.regions.labels(frame)
        mask = stroke_pixels(shape, labels)
        if not mask.any():
            raise ProjectError("the stroke paints no region (only lines, or outside the frame): paint inside the regions")
        found = covered_regions(labels, mask)
        ys, xs = np.nonzero(mask)
        x, y = (region_point(labels, found[0]) or (0, 0)) if found else (int(xs[0]), int(ys[0]))
        carried: dict[tuple[int, int, int], None] = {}
        stops = ("", "")
        for n, lab in enumerate(found[:MAX_CARRIED_REGIONS] if carry else []):
            pts, why = self.carry(frame, lab)
            carried.update(dict.fromkeys(pts))
            stops = why if n == 0 else stops        # the largest region's reasons
        fix = self.hints.add(Fix(self.hints.new_id(), frame, int(x), int(y), sw.id,
                                 tuple(sorted(carried)), stops, shape))
        return FillOutcome(fix, [], sorted({frame, *(g for g, _, _ in carried)}))

    def carry(self, frame: int, label: int, holds_only: bool = False
              ) -> tuple[list[tuple[int, int, int]], tuple[str, str]]:
        """Follow region ``label`` of ``frame`` backwards and forwards through its keyframe
        interval: [(frame, x, y)] of the matched regions, and why it stopped on each side
        (``holds_only``: stop at the first drawing that differs). Where a crossing line splits
        the region, each of its pieces is carried to and followed on
        (:meth:`~opdm_studio.imaging.tracking.Correspondence.follow`)."""
        lo, hi = self.interval(frame)
        out: list[tuple[int, int, int]] = []
        stops = []
        for step in (-1, 1):
            cur, labs, g = frame, [label], frame + step
            reason = "end"
            while True:
                if g < lo or g > hi:
                    reason = "keyframe" if 0 <= g < self.n_frames else "end"
                    break
                corr = self.regions.correspondence(cur, g)
                found = [] if holds_only and not corr.identical else corr.follow(labs)
                labels_g = self.regions.labels(g)
                pts = [(k, region_point(labels_g, k)) for k in found]
                if not found or any(pt is None for _, pt in pts):
                    reason = "unsure"
                    break
                if {self._label_of(labels_g, f.x, f.y) for f in self.hints.own(g)} & set(found):
                    reason = "fixed"
                    break
                out.extend((g, pt[0], pt[1]) for _, pt in pts if pt is not None)
                cur, labs, g = g, found, g + step
            stops.append(reason)
        out.sort()
        return out, (stops[0], stops[1])

    def remove(self, fix_id: int) -> Fix | None:
        """Drop a fix and where it was carried."""
        return self.hints.remove(fix_id)

    # ------------------------------------------------------------------ a frame's colours

    def _hints(self, frame: int) -> list[tuple[int, int, str, Any]]:
        # Hints carried from another keyframe interval (a key was marked since) no longer count.
        hints = self.hints.hints(frame)
        if not hints:
            return []
        here = self.interval(frame)
        origin = {f.id: f.frame for f in list(self.hints.fixes.values())}
        # priority[0] == 2: the frame's own fix; else carried from ``origin``.
        return [h for h in hints if h[3][0] == 2 or self.interval(origin[h[3][2]]) == here]

    def fills(self, frame: int) -> dict[int, str]:
        """Region label -> swatch id of every region of ``frame`` a hint paints (strokes on
        the frame itself excepted: they paint pixels)."""
        keep = self._hints(frame)
        return region_fills(self.regions.labels(frame), keep) if keep else {}

    def fixed(self, frame: int, color_only: np.ndarray) -> np.ndarray:
        """A result with ``frame``'s hints and strokes on it, in the swatches' pixel colours."""
        strokes = self.hints.strokes(frame)
        if strokes:
            return self._with_strokes(frame, color_only, strokes)
        fills = self.fills(frame)
        if not fills:
            return color_only
        pixel: dict[int, RGB] = {}
        for lab, sid in fills.items():
            sw = self.palette.find(sid)
            if sw is not None:
                pixel[lab] = sw.source
        return apply_fills(color_only, self.regions.labels(frame), pixel)

    def _with_strokes(self, frame: int, color_only: np.ndarray, strokes: list[Fix]) -> np.ndarray:
        labels = self.regions.labels(frame)
        regions: dict[int, tuple[Any, RGB]] = {}
        for x, y, sid, prio in self._hints(frame):      # lowest priority first: later ones win
            lab = self._label_of(labels, x, y)
            sw = self.palette.find(sid)
            if lab > 0 and sw is not None:
                regions[lab] = (prio, sw.source)
        painted = []
        for f in strokes:
            sw = self.palette.find(f.swatch)
            if sw is not None and f.shape is not None:
                painted.append(((2, 0, f.id), stroke_pixels(f.shape, labels), sw.source))
        return paint_layers(color_only, labels, regions, painted)

    def shown(self, frame: int, color_only: np.ndarray, fixed: bool = True) -> np.ndarray:
        """What ``frame`` shows and exports: its hints applied (``fixed``) and the swatches'
        current colours."""
        color = self.fixed(frame, color_only) if fixed else color_only
        if not self.palette.colour_map():
            return color
        return paint_regions(color, self.regions.labels(frame), self.palette)

    def shown_key(self, frame: int, paint: np.ndarray) -> np.ndarray:
        """A keyframe's paint (lines included) with the swatches' current colours."""
        if not self.palette.colour_map():
            return paint
        return paint_regions(paint, self.regions.labels(frame), self.palette, fill_lines=False)

    def fixed_mask(self, frame: int) -> np.ndarray:
        """bool (H, W): the pixels of regions a hint paints on ``frame``."""
        lab = self.regions.labels(frame)
        fills = self.fills(frame)
        out = np.zeros(lab.shape, bool)
        if fills:
            hit = np.zeros(int(lab.max()) + 1, bool)
            hit[list(fills)] = True
            hit[0] = False
            out = hit[lab]
        for f in self.hints.strokes(frame):
            if f.shape is not None:
                out |= stroke_pixels(f.shape, lab)
        return out

    def flagged(self, frame: int, confidence: np.ndarray | None) -> list[Flagged]:
        """Regions of ``frame`` whose confidence is below :data:`REVIEW_THRESHOLD` and that no
        fix covers, in reading order (top to bottom, left to right)."""
        if confidence is None or not (confidence < REVIEW_THRESHOLD).any():
            return []           # (no region to find: a long cut is walked quickly)
        lab = self.regions.labels(frame)
        n = int(lab.max()) + 1
        area = np.bincount(lab.ravel(), minlength=n)
        low = np.bincount(lab.ravel(), weights=(confidence < REVIEW_THRESHOLD).ravel(), minlength=n)
        bad = low > 0.5 * np.maximum(area, 1)
        bad[0] = False
        for fixed in self.fills(frame):
            bad[fixed] = False
        for f in self.hints.strokes(frame):
            if f.shape is not None:
                bad[covered_regions(lab, stroke_pixels(f.shape, lab), 0.5)] = False
        out = []
        for k in (int(v) for v in np.flatnonzero(bad)):
            ys, xs = np.nonzero(lab == k)
            pt = region_point(lab, k)
            if pt is None:
                continue
            out.append(Flagged(frame, k, pt[0], pt[1],
                               (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                               int(area[k])))
        out.sort(key=reading_order)
        return out

    @staticmethod
    def _label_of(labels: np.ndarray, x: int, y: int) -> int:
        h, w = labels.shape
        return int(labels[y, x]) if 0 <= x < w and 0 <= y < h else 0


def fixer_for(project: Any) -> Fixer:
    """A :class:`Fixer` over a project's cut, keyframes, hints and palette (duck-typed: the
    project module itself builds on this one's data)."""
    return Fixer(RegionCache(project.cut.line, gap=project.settings.gap), len(project.cut),
                 project.key_indices, project.hints, project.palette)


def frame_layers(fixer: Fixer, index: int, color_only: np.ndarray, composite: np.ndarray | None,
                 key: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The colour-only layer and composite a frame is written with: its fixes (not on a
    keyframe: its paint is the truth) and the swatches' current colours applied. A composite of
    None is built from the colour layer and the drawing's lines by the writer."""
    if key:
        if not fixer.palette.colour_map():
            return color_only, composite
        return (fixer.shown(index, color_only, fixed=False),
                None if composite is None else fixer.shown_key(index, composite))
    color = fixer.shown(index, color_only)
    return (color_only, composite) if color is color_only else (color, None)


def key_paint_colours(key_images: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[RGB]:
    """The flat paint colours of keyframes ((colour RGB, gray drawing) pairs), most used first:
    what the palette's swatches are taken from (the snapping palette's colours)."""
    from opdm_studio.imaging.palette import extract_palette, merge_palettes
    pals = [extract_palette(rgb, line_mask=line_mask_from_drawing(line)) for rgb, line in key_images]
    merged = merge_palettes(*pals)
    return [(int(c[0]), int(c[1]), int(c[2])) for c in merged.colors]
