"""Where the colourist's review stops: the regions flagged for review and, inside regions not
flagged as a whole, each hatched place big enough to look at ("Next flagged region", N).

A drawing whose lines leave one big region (faint pencil under the line mask) can be hatched in
places while no region is flagged: those places are stops too, fixed with the brush or an
enclosing fill rather than by filling the region.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from opdm_studio.engine.fixes import REVIEW_THRESHOLD, Fixer, Flagged, reading_order
from opdm_studio.engine.strokes import stroke_pixels

#: A hatched place inside a region not flagged as a whole is a stop when it covers at least this
#: share of the frame (and this many pixels).
PLACE_SHARE, PLACE_MIN = 0.0005, 64


def to_review(labels: np.ndarray, flagged: np.ndarray, confidence_map: np.ndarray) -> int:
    """How many regions of a coloured frame are to review (the timeline's triangle, the status
    bar's count): those flagged as a whole (``flagged``, bool per label) and those holding as many
    hatched pixels as the smallest place :func:`review_places` stops at (counted over the region,
    not per connected place: cheap enough for every finished frame)."""
    n = int(np.count_nonzero(flagged))
    hatched = confidence_map < REVIEW_THRESHOLD
    if not hatched.any():
        return n
    inside = np.bincount(labels[hatched], minlength=len(flagged))
    partly = inside >= max(PLACE_MIN, PLACE_SHARE * labels.size)
    partly[0] = False
    return n + int(np.count_nonzero(partly[:len(flagged)] & ~np.asarray(flagged, bool)))


def review_places(fixer: Fixer, frame: int, confidence: np.ndarray | None) -> list[Flagged]:
    """Where "Next flagged region" stops on ``frame``, in reading order: the flagged regions
    (:meth:`Fixer.flagged`) and, inside the other regions no fill settles, each connected hatched
    place of at least :data:`PLACE_SHARE` of the frame (``part``) that no brush or enclosing fill
    painted over."""
    regions = fixer.flagged(frame, confidence)
    if confidence is None:
        return regions
    lab = fixer.regions.labels(frame)
    settled = np.zeros(int(lab.max()) + 1, bool)
    settled[0] = True
    settled[[r.label for r in regions]] = True
    settled[list(fixer.fills(frame))] = True
    low = (confidence < REVIEW_THRESHOLD) & ~settled[lab]
    for f in fixer.hints.strokes(frame):     # what the brush / an enclosing fill painted is settled
        if f.shape is not None and low.any():
            low &= ~stroke_pixels(f.shape, lab)
    if not low.any():
        return regions
    n, cc, stats, _ = cv2.connectedComponentsWithStats(low.astype(np.uint8), connectivity=8)
    min_area = max(PLACE_MIN, PLACE_SHARE * lab.size)
    places = []
    for k in range(1, n):
        x0, y0, bw, bh, area = (int(v) for v in stats[k])
        if area < min_area:
            continue
        ys, xs = np.nonzero(cc[y0:y0 + bh, x0:x0 + bw] == k)
        mid = len(ys) // 2
        places.append(Flagged(frame, 0, x0 + int(xs[mid]), y0 + int(ys[mid]),
                              (x0, y0, x0 + bw, y0 + bh), area, part=True))
    stops = sorted(regions + places, key=reading_order)
    ids = iter(range(-1, -len(places) - 1, -1))      # places numbered -1, -2, ... in that order
    return [replace(f, label=next(ids)) if f.part else f for f in stops]


def next_flagged(fixer: Fixer, frame: int, after: int | None, frames: Iterable[int],
                 confidence: Callable[[int], Any]) -> Flagged | None:
    """The next stop of the review (:func:`review_places`) after stop ``after`` of ``frame`` (a
    region's label or a place's negative id; None: from the frame's start), through ``frames``
    (the coloured frames, in cut order) and round to the beginning."""
    order = sorted(set(frames))
    if not order:
        return None
    start = next((n for n, f in enumerate(order) if f >= frame), 0)
    seq = order[start:] + order[:start]
    if seq and seq[0] == frame:
        seq = seq + [frame]          # wrapping round comes back to the regions before ``after``
    for n, f in enumerate(seq):
        regions = review_places(fixer, f, confidence(f))
        if n == 0 and f == frame and after is not None:
            labels = [r.label for r in regions]
            regions = regions[labels.index(after) + 1:] if after in labels else regions
        elif n == len(seq) - 1 and f == frame and n > 0 and after is not None:
            labels = [r.label for r in regions]
            regions = regions[:labels.index(after) + 1] if after in labels else regions
        if regions:
            return regions[0]
    return None
