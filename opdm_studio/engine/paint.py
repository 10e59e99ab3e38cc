"""Paint decided per region track for the guessed frames of a key interval (the engine's side of
:mod:`opdm_studio.imaging.paint_tracks`).

:class:`IntervalPainter` takes the pipeline's guesses of some frames between two keyframes, the
keys' paint and the palette, follows every paint region through the drawings from key to key
(the :class:`~opdm_studio.engine.fixes.RegionCache`'s regions and correspondences, the ones the
fill tool carries fixes with) and returns, per frame, which regions get which paint, their
confidence and their review flags (:class:`FrameDecision`). The cut run
(:mod:`opdm_studio.engine.run`) and the evaluation's model rows use it, so both colour alike.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from opdm_studio.engine.fixes import RegionCache
from opdm_studio.imaging.paint_tracks import (
    FLAG_BELOW,
    WARP_FLAG,
    IntervalFrame,
    TrackPaint,
    decide_tracks,
)
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import Regions
from opdm_studio.imaging.snapping import SNAP_MODES, RegionStats, SnapResult, region_stats, render
from opdm_studio.pipelines.base import Guess

#: A key further than this many drawings from the nearest guessed frame is not followed: its
#: tracks would cost a correspondence per drawing and rarely survive that far.
MAX_LINK_GAP = 16


@dataclass
class FrameDecision:
    """What :meth:`FrameColorizer.finish` needs to paint one frame as its track decided."""

    paint: TrackPaint
    stats: RegionStats
    regions: Regions
    warp: np.ndarray | None = None     # the keys' warp confidence per pixel (uint8 or float)

    def confidence_map(self) -> np.ndarray:
        """float32 (H, W): each region's confidence; inside a region left as guessed, lower where
        the keys' warp is unsure (a region whose lines stay open can be right in one part and
        wrong in another: the Review view hatches the unsure part)."""
        conf = self.paint.confidence.astype(np.float32)
        cmap = conf[self.regions.labels]
        if self.warp is None:
            return cmap
        warp = unit_map(self.warp, cmap.shape)
        kept = ~self.paint.snapped[self.regions.labels] & (self.regions.labels > 0)
        unsure = kept & (warp < WARP_FLAG)
        cmap[unsure] = np.minimum(cmap[unsure], FLAG_BELOW * warp[unsure] / WARP_FLAG)
        return cmap

    def snap(self, palette: Palette, line_mask: np.ndarray, line_rgb: np.ndarray | None = None,
             fringe: int = 0) -> SnapResult:
        """The frame painted as decided (what :func:`snap_to_palette` gives for one frame alone)."""
        tp, st = self.paint, self.stats
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

    def span(self, keys: dict[int, np.ndarray], guessed: list[int]) -> tuple[list[int], list[int]]:
        """(drawings followed, in order; keys followed): from the first to the last guessed frame,
        extended to each key within :data:`MAX_LINK_GAP` drawings of them."""
        lo, hi = min(guessed), max(guessed)
        used = [k for k in sorted(keys) if lo - MAX_LINK_GAP <= k <= hi + MAX_LINK_GAP]
        first, last = min([lo, *used]), max([hi, *used])
        return list(range(first, last + 1)), used

    def decide(self, palette: Palette, keys: dict[int, np.ndarray],
               guesses: Mapping[int, Guess | np.ndarray]) -> dict[int, FrameDecision]:
        """The decision for every guessed frame (index -> the pipeline's
        :class:`~opdm_studio.pipelines.base.Guess`, or its colours uint8 (H, W, 3) at any size),
        given the keys' paint (index -> uint8 (H, W, 3)) and the key pair's ``palette``."""
        if not guesses:
            return {}
        drawings, used = self.span(keys, sorted(guesses))
        frames: list[IntervalFrame] = []
        stats: dict[int, RegionStats] = {}
        for f in drawings:
            reg = self.regions.regions(f)
            warp = None
            if f in guesses:
                g = guesses[f]
                rgb = g.rgb if isinstance(g, Guess) else g
                stats[f] = region_stats(rgb, reg, palette, reg.line_mask)
                if isinstance(g, Guess) and g.confidence is not None:
                    warp = region_means(reg, g.confidence)
            frames.append(IntervalFrame(reg, stats.get(f), keys[f] if f in used else None, warp))
        links = [] if self.mode == "off" else [
            self.regions.correspondence(a, a + 1).matches() for a in drawings[:-1]]
        decided = decide_tracks(frames, palette, links, self.mode)
        out: dict[int, FrameDecision] = {}
        for f, fr, tp in zip(drawings, frames, decided, strict=True):
            if tp is not None and f in guesses:
                g = guesses[f]
                out[f] = FrameDecision(tp, stats[f], fr.regions,
                                       g.confidence if isinstance(g, Guess) else None)
        return out
