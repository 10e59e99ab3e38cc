"""Colour one frame: the pipeline's guess, snapped to the key pair's palette, original lines on top.

:class:`FrameColorizer` turns the user's settings into a pipeline (``opdm_studio.pipelines``: the
``flow`` method, or the model's own pipeline as its :class:`~opdm_studio.core.config.InferenceSpec`
says), runs it on one drawing, then paints the closed regions of the drawing with the two
keyframes' palette and puts the original lines on top (:meth:`FrameColorizer.finish`): as the
region tracks of the key interval decided (:class:`~opdm_studio.engine.paint.IntervalPainter`,
what the cut run and the evaluation's model rows pass), or the frame snapped alone. The cut run
(:mod:`opdm_studio.engine.run`) drives it for every planned frame.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from opdm_studio.engine.models import LoadedModel, prepare_model
from opdm_studio.engine.paint import FrameDecision
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.engine.review import to_review
from opdm_studio.errors import ProjectError
from opdm_studio.imaging.export import make_layers
from opdm_studio.imaging.lineart import (
    TraceTreatment,
    darkness_to_lineart,
    extract_lines,
    line_mask_from_drawing,
)
from opdm_studio.imaging.palette import Palette, key_pair_palette
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.snapping import line_fringe, snap_to_palette
from opdm_studio.pipelines import METHODS, make_pipeline
from opdm_studio.pipelines.base import CancelToken, FrameInputs, Guess, Interval, Pipeline


@dataclass
class FrameOutput:
    """Everything one coloured frame yields, at the drawing's full resolution."""

    composite: np.ndarray        # uint8 (H, W, 3): colours with the original lines on top
    color_only: np.ndarray       # uint8 (H, W, 3): flat colours, no lines (compositor's colour layer)
    raw: np.ndarray              # uint8 (H, W, 3): the method's guess before snapping
    confidence_map: np.ndarray   # float32 (H, W) in [0, 1]
    confidence: float            # area-weighted mean region confidence
    flagged: int                 # regions flagged for review
    regions: int                 # closed regions in the drawing
    warp: np.ndarray | None = None   # float32 (H, W): the keys' warp confidence, where known
    base: np.ndarray | None = None   # uint8 (H, W, 3): the keys' warp the network corrected (Guess.base)


def line_mask_of(line_u8: np.ndarray) -> np.ndarray:
    """Ink mask (True on ink) of a gray line drawing (imaging's drawing threshold)."""
    return line_mask_from_drawing(line_u8)


def fingerprint(*arrays: np.ndarray) -> bytes:
    """Cheap identity of key images (for caches when the caller gives no key ids)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a[::7, ::7]).tobytes())
    return h.digest()


def frame_seed(base_seed: int, index: int) -> int:
    """Seed of frame ``index``: fixed per frame so a resumed or re-run cut gives the same result."""
    return (int(base_seed) * 1_000_003 + int(index) * 7919 + 12345) % (2 ** 31 - 1)


@dataclass
class _KeyPair:
    """What the current key pair gives every frame between its keys."""

    key: Hashable
    palette: Palette
    prev_line: np.ndarray
    next_line: np.ndarray
    keys: list[tuple[np.ndarray, np.ndarray]]     # (colour, ink mask) of each key: line_fringe's input


class FrameColorizer:
    """Colours one drawing from two keyframes; reusable across frames (caches per key pair).

    ``method`` "model" needs ``model``: a :class:`~opdm_studio.engine.models.LoadedModel` (from
    ``load_model``: prepared, with its inference spec) or a bare OPDM network in eval mode (a
    prepared copy is made; ``spec`` says how it samples, the paper's way by default). "flow"
    needs none.
    """

    def __init__(self, method: str = "model", model: Any = None,
                 settings: ColorizeSettings | None = None, spec: Any = None) -> None:
        self.settings = (settings or ColorizeSettings(method=method)).validate()
        if method not in METHODS:
            raise ProjectError(f"unknown colouring method {method!r}: use {' or '.join(METHODS)}")
        if method == "model" and model is None:
            raise ValueError("method 'model' needs a model")
        self.method = method
        self.loaded: LoadedModel | None = None
        if method == "model":
            if isinstance(model, LoadedModel) and model.matches(self.settings.device, self.settings.dtype):
                self.loaded = model
            else:
                net = model.model if isinstance(model, LoadedModel) else model
                spec = model.inference if isinstance(model, LoadedModel) and spec is None else spec
                self.loaded = prepare_model(net, spec, self.settings.device, self.settings.dtype)
        s = self.settings
        loaded = self.loaded
        self.pipeline: Pipeline = make_pipeline(
            method, loaded.inference if loaded else None, loaded.model if loaded else None,
            loaded.device if loaded else None, loaded.dtype if loaded else None,
            working_size=s.working_size, steps=s.steps, flow_size=s.flow_size)
        self._pair: _KeyPair | None = None

    @property
    def model(self) -> Any:
        """The prepared network (None for ``flow``)."""
        return self.loaded.model if self.loaded else None

    @property
    def device(self) -> Any:
        """The torch device (None for ``flow``)."""
        return self.loaded.device if self.loaded else None

    @property
    def dtype(self) -> Any:
        """The torch compute dtype (None for ``flow``)."""
        return self.loaded.dtype if self.loaded else None

    def adapt_steps(self, length: int) -> int:
        """Steps the pipeline adapts its network to a key interval of ``length`` drawings (0: none)."""
        steps = getattr(self.pipeline, "adapt_steps", None)
        return int(steps(length)) if steps is not None else 0

    @property
    def palette(self) -> Palette | None:
        """Merged palette of the current key pair, or None."""
        return self._pair.palette if self._pair else None

    # -- public ----------------------------------------------------------------------------
    def colorize(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                 prev_line_u8: np.ndarray | None = None, next_line_u8: np.ndarray | None = None,
                 t: float = 0.5, cancel: CancelToken | None = None,
                 on_step: Callable[[int, int], None] | None = None,
                 line_rgb: np.ndarray | None = None, seed: int | None = None,
                 pair_id: Hashable = None, interval: Interval | None = None) -> FrameOutput:
        """Colour ``line_u8`` (uint8 H,W; 255 paper) between ``prev_rgb`` and ``next_rgb``.

        ``prev_line_u8``/``next_line_u8`` are the keys' drawings (extracted from the key colours
        when missing). ``t`` in [0, 1] is the position between the keys. ``on_step(j, k)`` is
        called after sampler step j of k; ``cancel`` is checked between steps and raises
        :class:`~opdm_studio.errors.Cancelled`. ``pair_id`` names the key pair for the caches (a
        fingerprint of the key images is used when None). ``seed`` defaults to settings.seed.
        ``interval``: the drawings between the keys, for flow chained through them.
        """
        gen = self.iter_colorize(line_u8, prev_rgb, next_rgb, prev_line_u8, next_line_u8, t,
                                 cancel, line_rgb, seed, pair_id, interval)
        while True:
            try:
                j, k = next(gen)
            except StopIteration as stop:
                return stop.value
            if on_step is not None:
                on_step(j, k)

    def iter_colorize(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                      prev_line_u8: np.ndarray | None = None, next_line_u8: np.ndarray | None = None,
                      t: float = 0.5, cancel: CancelToken | None = None,
                      line_rgb: np.ndarray | None = None, seed: int | None = None,
                      pair_id: Hashable = None, interval: Interval | None = None
                      ) -> Generator[tuple[int, int], None, FrameOutput]:
        """Like :meth:`colorize` but a generator: yields ``(step, steps)`` after every sampler
        step and returns the :class:`FrameOutput` (``StopIteration.value``)."""
        guess = yield from self.iter_guess(line_u8, prev_rgb, next_rgb, prev_line_u8,
                                           next_line_u8, t, cancel, seed, pair_id, interval)
        out = self.finish(guess.rgb, line_u8, line_rgb)
        out.warp, out.base = guess.confidence, guess.base
        return out

    def iter_guess(self, line_u8: np.ndarray, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                   prev_line_u8: np.ndarray | None = None, next_line_u8: np.ndarray | None = None,
                   t: float = 0.5, cancel: CancelToken | None = None, seed: int | None = None,
                   pair_id: Hashable = None, interval: Interval | None = None,
                   preview: Callable[[np.ndarray], None] | None = None
                   ) -> Generator[tuple[int, int], None, Guess]:
        """The pipeline's full-resolution colour guess, before snapping: a generator of
        ``(step, steps)`` returning the :class:`~opdm_studio.pipelines.base.Guess` (uint8 (H, W, 3)
        colours and, where the pipeline knows it, the keys' warp confidence). Selects the key pair
        :meth:`finish` snaps to. ``preview``: called with a first picture where the pipeline has
        one long before its guess."""
        h, w = line_u8.shape[:2]
        for name, img in (("previous keyframe", prev_rgb), ("next keyframe", next_rgb)):
            if img.shape[:2] != (h, w):
                raise ProjectError(f"the {name} is {img.shape[1]}x{img.shape[0]} but the drawing "
                                   f"is {w}x{h}")
        pair = self._use_pair(pair_id if pair_id is not None else fingerprint(prev_rgb, next_rgb),
                              prev_rgb, next_rgb, prev_line_u8, next_line_u8)
        if cancel is not None:
            cancel.raise_if_cancelled()
        inputs = FrameInputs(line_u8, prev_rgb, next_rgb, pair.prev_line, pair.next_line, t,
                             self.settings.seed if seed is None else int(seed), pair.key, interval,
                             paint=pair.palette.colors, preview=preview)
        guess = yield from self.pipeline(inputs, cancel)
        return guess

    def finish(self, guess: np.ndarray, line_u8: np.ndarray,
               line_rgb: np.ndarray | None = None, palette: Palette | None = None,
               treatment: TraceTreatment | None = None,
               decision: FrameDecision | None = None) -> FrameOutput:
        """Snap a full-resolution guess to the key pair's palette and put the lines on top.

        ``line_rgb`` is the drawing's own line colours; without it the ink pixels take the guess's
        colour there (the keys' line colour carried by the method), and so do the pixels of the
        lines' soft edge that the ink mask leaves out, where the keys have one
        (:func:`~opdm_studio.imaging.snapping.line_fringe`). ``palette`` defaults to the
        current pair's; pass it explicitly when finishing a frame in another thread while this
        colouriser already moved on to another pair. ``treatment``: how the composite shows the
        drawing's colour-trace lines (:func:`~opdm_studio.engine.composite.trace_treatment`).
        ``decision``: the paint of each region as decided along its track over the key interval
        (:class:`~opdm_studio.engine.paint.IntervalPainter`); without it the frame is snapped
        alone (``settings.snap``).
        """
        if palette is None:
            if self._pair is None:
                raise ValueError("finish() needs a palette: no key pair was used yet")
            palette = self._pair.palette
        mask = line_mask_of(line_u8)
        fringe = 0
        if line_rgb is None:
            # No line colours given (a bare drawing, e.g. line art extracted from finished frames):
            # the ink keeps the colour the method carried over from the painted keys -- their line
            # colour -- instead of black, which would paint coloured or anti-aliased key lines black;
            # so does the lines' anti-aliasing just outside the ink where the keys have one
            # (Palette.fringe). A drawing with its own line colours brings its own anti-aliasing.
            line_rgb = np.full_like(guess, 255)
            line_rgb[mask] = guess[mask]
            pair = self._pair
            if palette.fringe is None and pair is not None and pair.palette is palette:
                # Measured once per key pair, and only here: drawings with line colours skip it.
                palette.fringe = line_fringe(pair.keys, palette, gap=self.settings.gap)
            fringe = palette.fringe or 0
        if decision is None:
            regions = find_regions(mask, gap=self.settings.gap)
            res = snap_to_palette(guess, regions, palette, mode=self.settings.snap,
                                  line_mask=mask, line_rgb=line_rgb, fringe=fringe)
        else:
            regions = decision.regions
            res = decision.snap(palette, mask, line_rgb, fringe)
        # Mean over paint regions (label 0 is the lines), weighted by area.
        conf = np.asarray(res.confidence, dtype=np.float64)[1:]
        areas = np.asarray(regions.areas, dtype=np.float64)[1:len(conf) + 1]
        mean_conf = float((conf * areas).sum() / areas.sum()) if areas.sum() > 0 else 1.0
        # THE composite (imaging.export.make_layers, as the viewer's and every export's).
        image = res.image if treatment is None or fringe else make_layers(
            res.color_only, mask, line_rgb, treatment).composite
        confidence_map = np.asarray(res.confidence_map, dtype=np.float32)
        return FrameOutput(composite=image, color_only=res.color_only, raw=guess,
                           confidence_map=confidence_map, confidence=mean_conf,
                           flagged=to_review(regions.labels, res.flagged, confidence_map),
                           regions=int(getattr(regions, "count", len(conf))))

    def reset(self) -> None:
        """Forget the cached key pair (palette, pipeline caches): the keys may have changed."""
        self._pair = None
        self.pipeline.reset()

    # -- per key pair ------------------------------------------------------------------------
    def _use_pair(self, key: Hashable, prev_rgb: np.ndarray, next_rgb: np.ndarray,
                  prev_line: np.ndarray | None, next_line: np.ndarray | None) -> _KeyPair:
        if self._pair is not None and self._pair.key == key:
            return self._pair
        if prev_line is None:
            prev_line = darkness_to_lineart(extract_lines(prev_rgb))
        if next_line is None:
            next_line = darkness_to_lineart(extract_lines(next_rgb))
        # Drop the previous pair's big arrays before building the next (memory stays flat).
        self._pair = None
        mask_p, mask_n = line_mask_of(prev_line), line_mask_of(next_line)
        keys = [(prev_rgb, mask_p)] + ([] if next_rgb is prev_rgb else [(next_rgb, mask_n)])
        self._pair = _KeyPair(key, key_pair_palette(prev_rgb, mask_p, next_rgb, mask_n),
                              prev_line, next_line, keys)
        return self._pair
