"""Following a paint region from one drawing to the next: line-art flow plus region overlap.

A colourist's fix is made on one region of one frame; :func:`track_region` finds the same region
in a neighbouring drawing, or says it is unsure. The drawing ``b`` is warped back onto ``a``
along the line-art flow (:func:`~opdm_studio.imaging.flow.line_flow`, computed at a bounded size
by :func:`pair_flow`), which gives every pixel of ``b`` the label of ``a`` it came from; the
region of ``b`` that most of the warped region fills, and that is filled mostly by it, is the
match. A match is *sure* only when both overlaps are high and no other region of ``b`` competes:
where a region splits, merges, appears from behind another or the flow fails, tracking stops
rather than guesses. :meth:`Correspondence.follow` follows a *set* of regions instead: where a
crossing line splits a region, every piece that comes from it is found, and the pieces are
followed on together until they close again.

numpy / OpenCV only (no torch). Labels are :class:`~opdm_studio.imaging.regions.Regions` labels
(int32 (H, W), 0 on lines).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from opdm_studio.imaging.flow import FLOW_SIZE, line_flow

#: A match is sure when at least this share of the region's warped pixels lands in it ...
MIN_COVER = 0.6
#: ... at least this share of the matched region comes from the region ...
MIN_PURITY = 0.6
#: ... its area is within this factor of the region's ...
MAX_GROWTH = 2.0
#: ... and the runner-up takes at most this fraction of what the match takes.
MAX_RIVAL = 0.35

#: Following a set of regions (:meth:`Correspondence.follow`): a region of ``b`` is one of its
#: pieces when at least this share of its pixels that land on paint come from the set ...
PIECE_PURITY = 0.95
#: ... and it takes at least this share of the set's pixels ...
PIECE_SHARE = 0.1
#: ... and the pieces together take at least this share of them (else the set is lost).
PIECES_FOUND = 0.5


@dataclass(frozen=True)
class Match:
    """Where a region of drawing ``a`` went in drawing ``b``.

    ``label`` the region of ``b`` (0 = none); ``cover`` share of the region's warped pixels that
    land in it; ``purity`` share of it that comes from the region; ``sure`` whether the match is
    trusted (see the module constants); ``score`` min(cover, purity).
    """

    label: int
    cover: float
    purity: float
    sure: bool

    @property
    def score(self) -> float:
        """How well the two regions overlap: min(cover, purity) in [0, 1]."""
        return min(self.cover, self.purity)


NO_MATCH = Match(0, 0.0, 0.0, False)


def pair_flow(line_b: np.ndarray, line_a: np.ndarray, short_side: int = FLOW_SIZE) -> np.ndarray:
    """Flow (H, W, 2) float32 at full size from drawing ``b`` to drawing ``a`` (``b(x, y)`` sits
    at ``a(x + fx, y + fy)``), computed at a short side of at most ``short_side`` px."""
    h, w = line_b.shape[:2]
    scale = min(1.0, short_side / float(min(h, w)))
    if scale >= 1.0:
        return line_flow(line_b, line_a)
    sw, sh = max(16, round(w * scale)), max(16, round(h * scale))
    small_b = cv2.resize(line_b, (sw, sh), interpolation=cv2.INTER_AREA)
    small_a = cv2.resize(line_a, (sw, sh), interpolation=cv2.INTER_AREA)
    flow = line_flow(small_b, small_a)
    big = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= w / float(sw)
    big[..., 1] *= h / float(sh)
    return big


def warp_labels(labels_a: np.ndarray, flow_b2a: np.ndarray) -> np.ndarray:
    """The labels of ``a`` seen from ``b``: for every pixel of ``b``, the label of ``a`` where the
    flow says it came from (nearest pixel; outside the frame: 0)."""
    h, w = flow_b2a.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx = gx + flow_b2a[..., 0]
    my = gy + flow_b2a[..., 1]
    return cv2.remap(labels_a.astype(np.float32), mx, my, interpolation=cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.int32)


class Correspondence:
    """How the regions of drawing ``b`` overlap the regions of drawing ``a`` warped onto it.

    Built once per pair of drawings (:meth:`between`); :meth:`match` then answers for any region
    of ``a`` in microseconds. Identical drawings (a held drawing) match region for region.
    """

    def __init__(self, labels_a: np.ndarray, labels_b: np.ndarray, warped_a: np.ndarray | None) -> None:
        self.count_a = int(labels_a.max()) + 1
        self.count_b = int(labels_b.max()) + 1
        self.identical = warped_a is None
        self.areas_b = np.bincount(labels_b.ravel(), minlength=self.count_b)
        if warped_a is None:
            return
        sel = (labels_b > 0) & (warped_a > 0)
        keys = warped_a[sel].astype(np.int64) * self.count_b + labels_b[sel]
        uniq, counts = np.unique(keys, return_counts=True)
        self._a = (uniq // self.count_b).astype(np.int64)
        self._b = (uniq % self.count_b).astype(np.int64)
        self._n = counts.astype(np.int64)
        # Each region of ``a`` as it lands on ``b`` (its pixels on b's paint, lines excluded).
        self.landed_a = np.bincount(self._a, weights=self._n, minlength=self.count_a)
        # Each region of ``b``'s pixels that come from some region of ``a`` (not from a line).
        self.landed_b = np.bincount(self._b, weights=self._n, minlength=self.count_b)
        order = np.argsort(self._a, kind="stable")
        self._a, self._b, self._n = self._a[order], self._b[order], self._n[order]
        self._start = np.searchsorted(self._a, np.arange(self.count_a + 1))

    @classmethod
    def between(cls, labels_a: np.ndarray, labels_b: np.ndarray, line_a: np.ndarray,
                line_b: np.ndarray, flow_b2a: np.ndarray | None = None) -> Correspondence:
        """The correspondence of two drawings (their labels and gray line art); the flow from
        ``b`` to ``a`` is computed when not given. Identical drawings need no flow."""
        if line_a.shape == line_b.shape and np.array_equal(labels_a, labels_b) \
                and np.array_equal(line_a, line_b):
            return cls(labels_a, labels_b, None)
        if flow_b2a is None:
            flow_b2a = pair_flow(line_b, line_a)
        return cls(labels_a, labels_b, warp_labels(labels_a, flow_b2a))

    def matches(self, min_cover: float = MIN_COVER, min_purity: float = MIN_PURITY,
                max_rival: float = MAX_RIVAL) -> tuple[np.ndarray, np.ndarray]:
        """Every region of ``a`` at once: (label in ``b`` (0 = none), sure) as arrays indexed by
        the label of ``a``; the same answers as :meth:`match` (with the module's thresholds),
        without a loop over regions."""
        best = np.zeros(self.count_a, np.int64)
        sure = np.zeros(self.count_a, bool)
        if self.identical:
            best[1:] = np.arange(1, self.count_a)
            sure[1:] = True
            return best, sure
        if len(self._a) == 0:
            return best, sure
        order = np.lexsort((-self._n, self._a))          # by region of a, largest overlap first
        a, b, n = self._a[order], self._b[order], self._n[order].astype(np.float64)
        first = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
        nxt = np.minimum(first + 1, len(a) - 1)
        rival = np.where((first + 1 < len(a)) & (a[nxt] == a[first]), n[nxt], 0.0)
        la, lb, n_best = a[first], b[first], n[first]
        landed = np.maximum(self.landed_a[la], 1.0)
        area_b = self.areas_b[lb].astype(np.float64)
        growth = area_b / landed
        ok = ((n_best / landed >= min_cover) & (n_best / np.maximum(area_b, 1.0) >= min_purity)
              & (rival <= max_rival * n_best) & (growth >= 1.0 / MAX_GROWTH) & (growth <= MAX_GROWTH))
        best[la] = lb
        sure[la] = ok
        return best, sure

    def follow(self, labels_a: list[int]) -> list[int]:
        """The regions of ``b`` that the set of regions ``labels_a`` of ``a`` went to: every
        region made (:data:`PIECE_PURITY`) of the set's pixels and holding a real part of them
        (:data:`PIECE_SHARE`), and the sure match of a single region; [] when the pieces hold
        less than :data:`PIECES_FOUND` of the set (it was hidden, or the flow lost it). A region
        split by a crossing line comes back as its pieces; pieces that close again as one."""
        if self.identical:
            return [int(k) for k in labels_a if 0 < k < self.count_a]
        one = self.match(labels_a[0]) if len(labels_a) == 1 else NO_MATCH
        sel = np.isin(self._a, np.asarray(labels_a, np.int64))
        if not sel.any():
            return []
        got = np.bincount(self._b[sel], weights=self._n[sel], minlength=self.count_b)
        total = float(got.sum())
        pieces = np.flatnonzero((got >= PIECE_SHARE * total)
                                & (got >= PIECE_PURITY * np.maximum(self.landed_b, 1.0)))
        found = sorted({*([one.label] if one.sure else []), *(int(k) for k in pieces if k > 0)})
        return found if found and got[found].sum() >= PIECES_FOUND * total else []

    def match(self, label_a: int) -> Match:
        """Where region ``label_a`` of ``a`` went in ``b`` (see :class:`Match`)."""
        if not 0 < label_a < self.count_a:
            return NO_MATCH
        if self.identical:
            return Match(int(label_a), 1.0, 1.0, True)
        lo, hi = self._start[label_a], self._start[label_a + 1]
        if hi <= lo:
            return NO_MATCH
        bs, ns = self._b[lo:hi], self._n[lo:hi]
        order = np.argsort(-ns, kind="stable")
        best, n_best = int(bs[order[0]]), float(ns[order[0]])
        rival = float(ns[order[1]]) if len(order) > 1 else 0.0
        landed = float(self.landed_a[label_a])
        cover = n_best / max(landed, 1.0)
        purity = n_best / max(float(self.areas_b[best]), 1.0)
        growth = float(self.areas_b[best]) / max(landed, 1.0)
        sure = (cover >= MIN_COVER and purity >= MIN_PURITY and rival <= MAX_RIVAL * n_best
                and 1.0 / MAX_GROWTH <= growth <= MAX_GROWTH)
        return Match(best, round(cover, 4), round(purity, 4), bool(sure))


def region_point(labels: np.ndarray, label: int) -> tuple[int, int] | None:
    """A pixel (x, y) deep inside region ``label`` (farthest from its border), None if the
    region is empty: where a hint pins the region, so it is found again if the regions are
    computed anew (another gap setting moves borders, rarely a region's heart)."""
    ys, xs = np.nonzero(labels == label)
    if len(xs) == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.pad((labels[y0:y1, x0:x1] == label).astype(np.uint8), 1)
    dist = cv2.distanceTransform(crop, cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x - 1 + x0), int(y - 1 + y0)
