"""Paint decided per region track for the guessed frames of a key interval (the engine's side of
:mod:`opdm_studio.imaging.paint_tracks`).

:class:`IntervalPainter` takes the pipeline's guesses of some frames between two keyframes, the
keys' paint and the palette, follows every paint region through the drawings from key to key
(the :class:`~opdm_studio.engine.fixes.RegionCache`'s regions and correspondences, the ones the
fill tool carries fixes with) and returns, per frame, which regions get which paint, their
confidence and their review flags (:class:`FrameDecision`). The cut run
(:mod:`opdm_studio.engine.run`) and the evaluation's model rows use it, so both colour alike.

A region kept as guessed because its keys show several tones there (its lines stay open) is
judged once more by the shapes the drawing's own strokes close in it
(:class:`OpenShapes`, :mod:`opdm_studio.imaging.shapes`): the Review view hatches a shape the
guess paints in several paints, where the keys paint their shapes flat. Flags only: nothing
painted changes.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import cv2
import numpy as np

from opdm_studio.engine.fixes import RegionCache
from opdm_studio.engine.plan import PlanItem
from opdm_studio.imaging.paint_tracks import (
    FLAG_BELOW,
    SEVERAL,
    WARP_FLAG,
    IntervalFrame,
    TrackPaint,
    decide_tracks,
    exact_paint,
    key_evidence,
    warped_paint,
)
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import Regions
from opdm_studio.imaging.shapes import KEYS_FLAT_SHARE, drawing_shapes, flat_share, mottled_pixels
from opdm_studio.imaging.snapping import (
    SNAP_MODES,
    RegionStats,
    SnapResult,
    ink_distance,
    region_stats,
    render,
)
from opdm_studio.pipelines.base import Guess

#: What the evidence keeps of the distance to the ink: nothing (FrameDecision.snap makes it again).
_NO_DISTANCE = np.zeros((0, 0), np.float32)

#: A key further than this many drawings from the nearest guessed frame is not followed: its
#: tracks would cost a correspondence per drawing and rarely survive that far.
MAX_LINK_GAP = 16

#: The confidence the Review view shows on a shape the guess paints in several paints inside a
#: region kept for its several tones (below :data:`FLAG_BELOW`: flagged).
MOTTLED_CONFIDENCE = 0.8 * FLAG_BELOW
#: ... judged only where such regions cover at least this share of the frame: on the sample cut
#: a few specks of a region or two (under 0.03 %) would cost 0.4 s of shape finding per frame.
MIN_OPEN_SHARE = 0.01


@dataclass
class FrameDecision:
    """What :meth:`FrameColorizer.finish` needs to paint one frame as its track decided."""

    paint: TrackPaint
    stats: RegionStats
    regions: Regions
    warp: np.ndarray | None = None     # the keys' warp confidence per pixel (uint8 or float)
    #: bool (H, W) on demand: the drawing's shapes the guess paints in several paints (None: not
    #: judged, the keys do not paint their shapes flat); see :class:`OpenShapes`.
    shapes: Callable[[], np.ndarray | None] | None = None
    _mottled: list[np.ndarray | None] = field(default_factory=list, init=False, repr=False,
                                              compare=False)

    def confidence_map(self) -> np.ndarray:
        """float32 (H, W): each region's confidence; inside a region left as guessed, lower where
        the keys' warp is unsure (a region whose lines stay open can be right in one part and
        wrong in another: the Review view hatches the unsure part); inside a region kept for its
        keys' several tones, below the flag on the drawing's shapes the guess paints in several
        paints."""
        labels = self.regions.labels
        conf = self.paint.confidence.astype(np.float32)
        cmap = conf[labels]
        if self.warp is not None:
            warp = unit_map(self.warp, cmap.shape)
            kept = ~self.paint.snapped[labels] & (labels > 0)
            unsure = kept & (warp < WARP_FLAG)
            cmap[unsure] = np.minimum(cmap[unsure], FLAG_BELOW * warp[unsure] / WARP_FLAG)
        several = self.paint.source == SEVERAL
        several[0] = False
        open_area = float(self.regions.areas[: len(several)][several].sum())
        if self.shapes is not None and open_area >= MIN_OPEN_SHARE * labels.size:
            if not self._mottled:
                self._mottled.append(self.shapes())
            mottled = self._mottled[0]
            if mottled is not None:
                low = several[labels] & mottled
                cmap[low] = np.minimum(cmap[low], MOTTLED_CONFIDENCE)
        return cmap

    def snap(self, palette: Palette, line_mask: np.ndarray, line_rgb: np.ndarray | None = None,
             fringe: int = 0) -> SnapResult:
        """The frame painted as decided (what :func:`snap_to_palette` gives for one frame alone)."""
        tp, st = self.paint, self.stats
        if st.ink_distance.size == 0 and fringe > 0:
            st = replace(st, ink_distance=ink_distance(self.regions.line_mask))
        image, color_only = render(st, self.regions, palette, tp.paint, tp.snapped, line_mask,
                                   line_rgb, fringe)
        conf = tp.confidence.astype(np.float32)
        return SnapResult(image=image, color_only=color_only, confidence=conf,
                          confidence_map=self.confidence_map(), snapped=tp.snapped,
                          flagged=tp.flagged, palette_index=np.where(tp.snapped, tp.paint,
                                                                     st.palette_index),
                          distance=st.distance.astype(np.float32),
                          agreement=st.agreement.astype(np.float32), mode="track")


def unit_map(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A per-pixel map in [0, 1] (float, or uint8 as 0-255, any size) as float32 at ``shape``."""
    h, w = shape[:2]
    if values.shape[:2] != (h, w):
        values = cv2.resize(values, (w, h), interpolation=cv2.INTER_LINEAR)
    return values.astype(np.float32) / (np.float32(255.0) if values.dtype == np.uint8 else 1.0)


def region_means(regions: Regions, values: np.ndarray) -> np.ndarray:
    """Mean of a per-pixel map in [0, 1] (float, or uint8 as 0-255, any size) over each region
    (label 0 = the lines)."""
    unit = unit_map(values, regions.labels.shape)
    n = regions.count + 1
    sums = np.bincount(regions.labels.ravel(), weights=unit.ravel().astype(np.float64), minlength=n)
    return sums / np.maximum(regions.areas[:n], 1)


@dataclass
class FrameEvidence:
    """What one guessed frame tells the track decision: its regions, the guess measured over them
    and the keys' warp confidence per region (None where the pipeline gives none)."""

    regions: Regions
    stats: RegionStats
    warp: np.ndarray | None


class OpenShapes:
    """The drawing's own shapes judged inside the regions an interval keeps for their keys'
    several tones (:mod:`opdm_studio.imaging.shapes`): whether the keys paint their shapes flat
    (measured once, on first use, by whichever thread asks first) and, per frame, the shapes its
    guess paints in several paints."""

    def __init__(self, regions: RegionCache, keys: Mapping[int, np.ndarray], palette: Palette) -> None:
        self.regions = regions
        self.keys = dict(keys)
        self.palette = palette
        self._flat: bool | None = None
        self._lock = threading.Lock()

    def keys_flat(self) -> bool:
        """Whether every key paints at least :data:`~opdm_studio.imaging.shapes.KEYS_FLAT_SHARE`
        of its drawing's shapes flat (cel paint, as opposed to soft shading or texture)."""
        with self._lock:
            if self._flat is None:
                self._flat = all(flat_share(rgb, self._shapes(k), self.palette) >= KEYS_FLAT_SHARE
                                 for k, rgb in self.keys.items())
            return self._flat

    def mottled(self, f: int, guess: np.ndarray) -> np.ndarray | None:
        """bool (H, W): the shapes of drawing ``f`` that ``guess`` paints in several paints; None
        where the keys do not paint their own shapes flat."""
        if not self.keys_flat():
            return None
        reg = self.regions.regions(f)
        return mottled_pixels(guess, self.regions.line(f), self.palette, reg.line_mask, reg.gap)

    def _shapes(self, k: int) -> Regions:
        reg = self.regions.regions(k)
        return drawing_shapes(self.regions.line(k), reg.line_mask, reg.gap)


class IntervalPainter:
    """Decides the paint of the guessed frames of one key interval, track by track.

    ``regions``: the cut's region cache (drawings, regions, correspondences); ``mode``: the
    snapping setting ("auto", "all", or "off": every guess kept, frame-alone flags).
    """

    def __init__(self, regions: RegionCache, mode: str = "auto") -> None:
        if mode not in SNAP_MODES:
            raise ValueError(f"mode must be one of {SNAP_MODES}, not {mode!r}")
        self.regions = regions
        self.mode = mode
        self._exact: tuple[tuple[int, ...], Palette, bool] | None = None
        self._exact_lock = threading.Lock()

    def keys_exact(self, keys: Mapping[int, np.ndarray], palette: Palette) -> bool:
        """Whether the keys (index -> uint8 (H, W, 3)) are exact flat paint of ``palette``
        (:func:`~opdm_studio.imaging.paint_tracks.exact_paint`; measured once per key pair)."""
        with self._exact_lock:
            known = self._exact
            if known is None or known[0] != tuple(sorted(keys)) or known[1] is not palette:
                frames = [IntervalFrame(self.regions.regions(k), key_rgb=keys[k]) for k in sorted(keys)]
                evidence = {i: key_evidence(fr, palette) for i, fr in enumerate(frames)}
                known = (tuple(sorted(keys)), palette, exact_paint(frames, evidence))
                self._exact = known
            return known[2]

    def span(self, keys: dict[int, np.ndarray], guessed: list[int]) -> tuple[list[int], list[int]]:
        """(drawings followed, in order; keys followed): from the first to the last guessed frame,
        extended to each key within :data:`MAX_LINK_GAP` drawings of them."""
        lo, hi = min(guessed), max(guessed)
        used = [k for k in sorted(keys) if lo - MAX_LINK_GAP <= k <= hi + MAX_LINK_GAP]
        first, last = min([lo, *used]), max([hi, *used])
        return list(range(first, last + 1)), used

    def evidence(self, f: int, guess: Guess | np.ndarray, palette: Palette,
                 keys: Mapping[int, np.ndarray] | None = None, in_place: bool = False) -> FrameEvidence:
        """Frame ``f``'s guess measured over its regions. It depends on nothing else, so the cut
        run measures each frame as soon as it is sampled (in the background, while the next one
        samples) and hands the evidence to :meth:`decide`; also readies the correspondence with
        the drawing before, which the tracks follow. With the interval's ``keys`` given and exact
        paint, the small regions the keys' warp (``Guess.base``) fills with one paint are measured
        as that paint, flat, and keep the warp's own pixels where they are not painted over
        (:func:`~opdm_studio.imaging.paint_tracks.warped_paint`; ``in_place``: written into the
        guess's own colours, which the caller keeps, instead of a copy)."""
        reg = self.regions.regions(f)
        rgb = guess.rgb if isinstance(guess, Guess) else guess
        base = guess.base if isinstance(guess, Guess) else None
        decide_on = rgb
        if base is not None and keys and self.mode != "off" and base.shape == rgb.shape \
                and self.keys_exact(keys, palette):
            decide_on, rgb, _ = warped_paint(rgb, base, region_stats(base, reg, palette, reg.line_mask),
                                             reg, palette, in_place)
        stats = region_stats(decide_on, reg, palette, reg.line_mask)
        # Kept until the interval is decided and painted (up to 24 frames): not a second copy of
        # the guess, and the distance to the ink (8 MB a 1080p frame) made again only where a
        # frame's painting needs it (FrameDecision.snap).
        if stats.guess.shape == rgb.shape and rgb.dtype == np.uint8:
            stats = replace(stats, guess=rgb)
        stats = replace(stats, ink_distance=_NO_DISTANCE)
        warp = None
        if isinstance(guess, Guess) and guess.confidence is not None:
            warp = region_means(reg, guess.confidence)
        if f > 0 and self.mode != "off":
            self.regions.correspondence(f - 1, f).matches()
        return FrameEvidence(reg, stats, warp)

    def decide(self, palette: Palette, keys: dict[int, np.ndarray],
               guesses: Mapping[int, Guess | np.ndarray],
               evidence: Mapping[int, FrameEvidence] | None = None) -> dict[int, FrameDecision]:
        """The decision for every guessed frame (index -> the pipeline's
        :class:`~opdm_studio.pipelines.base.Guess`, or its colours uint8 (H, W, 3) at any size),
        given the keys' paint (index -> uint8 (H, W, 3)) and the key pair's ``palette``.
        ``evidence``: frames already measured by :meth:`evidence` (the rest are measured here)."""
        if not guesses:
            return {}
        drawings, used = self.span(keys, sorted(guesses))
        frames: list[IntervalFrame] = []
        stats: dict[int, RegionStats] = {}
        for f in drawings:
            if f in guesses:
                ev = (evidence or {}).get(f) or self.evidence(f, guesses[f], palette, keys)
                reg, stats[f], warp = ev.regions, ev.stats, ev.warp
            else:
                reg, warp = self.regions.regions(f), None
            frames.append(IntervalFrame(reg, stats.get(f), keys[f] if f in used else None, warp))
        links = [] if self.mode == "off" else [
            self.regions.correspondence(a, a + 1).matches() for a in drawings[:-1]]
        decided = decide_tracks(frames, palette, links, self.mode)
        shapes = OpenShapes(self.regions, {k: keys[k] for k in used}, palette)
        out: dict[int, FrameDecision] = {}
        for f, fr, tp in zip(drawings, frames, decided, strict=True):
            if tp is not None and f in guesses:
                g = guesses[f]
                out[f] = FrameDecision(tp, stats[f], fr.regions,
                                       g.confidence if isinstance(g, Guess) else None,
                                       partial(shapes.mottled, f, stats[f].guess))
        return out


class PendingInterval:
    """The cut run's current key interval: its sampled frames (their guesses, and the evidence
    measured from them in the background), and the held drawings waiting for them."""

    def __init__(self) -> None:
        self.keys: tuple[int, int] | None = None
        self.palette: Any = None
        self.count = 0
        self.evidence: dict[int, Future] = {}    # frame -> its guess measured over its regions
        self._items: list[tuple[int, PlanItem, float, dict[str, str], Guess | None]] = []

    def add(self, pos: int, item: PlanItem, frame_t0: float, sources: dict[str, str],
            guess: Guess | None, palette: Any = None) -> Guess | None:
        """A sampled frame (``guess``), or a held drawing (None) finished after the frames before it."""
        self.keys = item.keys
        if guess is not None:
            self.palette = palette
            self.count += 1
            conf = guess.confidence
            if conf is not None and conf.dtype != np.uint8:
                # Kept as 8 bits: a 1080p interval's confidences in 50 MB rather than 200.
                conf = np.clip(conf * 255.0 + 0.5, 0, 255).astype(np.uint8)
            # Without the warp (Guess.base): the frame's evidence, measured once, holds what the
            # decision needs of it, and an interval of 1080p frames keeps 150 MB less.
            guess = Guess(guess.rgb, conf)
        self._items.append((pos, item, frame_t0, sources, guess))
        return guess

    def guesses(self) -> dict[int, Guess]:
        """Frame index -> guess of the sampled frames."""
        return {it.index: g for _, it, _, _, g in self._items if g is not None}

    def take(self) -> list[tuple[int, PlanItem, float, dict[str, str], Guess | None]]:
        """Everything pending, in plan order; empties it."""
        out, self._items = self._items, []
        self.keys, self.count, self.evidence = None, 0, {}
        return out
