"""The ``flow`` pipeline: no model. Line-art optical flow carries both keyframes onto the drawing
and, per pixel, the better warp wins.

Where the frame's key interval is known (:class:`~opdm_studio.pipelines.base.Interval`, the cut
run and the evaluation give it), the flow is chained through the in-between drawings and refined
(:class:`~opdm_studio.imaging.chain.ChainPropagator`, computed once per interval); otherwise each
key is matched to the drawing directly (:func:`~opdm_studio.imaging.flow.propagate_two`).

Big frames run the flow at ``flow_size`` (short side; about 4x faster at 1080p for a ~1 % loss
before snapping): snapping at full resolution restores crisp region colours afterwards.
"""
from __future__ import annotations

from collections.abc import Generator, Hashable, MutableMapping
from typing import Any

import cv2
import numpy as np

from opdm_studio.imaging.chain import ChainPropagator
from opdm_studio.imaging.flow import Propagation, propagate_two
from opdm_studio.pipelines.base import CancelToken, FrameInputs, Guess, flow_size_of, resize


class FlowPipeline:
    """Colours a frame by two-key line-art flow propagation (one step, no network).

    ``chain`` False always matches the keys to the drawing directly (the earlier method);
    ``agreement`` False leaves the two keys' agreement out of the chained confidence (the refine
    pipeline's gate: with it the gate opens on most of the frame). ``shared_pairs`` keeps the pair
    flows between consecutive drawings beyond one interval, keyed by the drawings' indices in the
    cut (``Interval.origin`` + the index in the interval): training draws many intervals of a cut.
    """

    def __init__(self, flow_size: int = 0, chain: bool = True, agreement: bool = True,
                 shared_pairs: MutableMapping[tuple[int, int], np.ndarray] | None = None) -> None:
        self.flow_size = int(flow_size)
        self.chain = bool(chain)
        self.agreement = bool(agreement)
        self.shared_pairs = shared_pairs
        self._pair: Hashable = None
        self._small: tuple[Any, ...] | None = None   # (size, prev_rgb, next_rgb, prev_line, next_line)
        self._interval: tuple[Hashable, tuple[int, int] | None, ChainPropagator] | None = None

    def reset(self) -> None:
        """Forget the keys resized for the current pair and the current interval's flows."""
        self._pair, self._small, self._interval = None, None, None

    def _propagator(self, inputs: FrameInputs, small: tuple[int, int] | None) -> ChainPropagator:
        interval = inputs.interval
        assert interval is not None
        if self._interval is None or self._interval[:2] != (interval.key, small):
            self._interval = None          # free the previous interval's flows first
            lines = list(interval.load())
            if len(lines) != interval.length:
                raise ValueError(f"the interval has {len(lines)} drawings, expected {interval.length}")
            if small is not None:
                lines = [resize(line, small) for line in lines]
            self._interval = (interval.key, small, ChainPropagator(
                lines, agreement=self.agreement, shared_pairs=self.shared_pairs, origin=interval.origin))
        return self._interval[2]

    def _keys(self, inputs: FrameInputs, small: tuple[int, int] | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The keys' colours and drawings at the flow size (resized once per key pair)."""
        if small is None:
            return inputs.prev_rgb, inputs.next_rgb, inputs.prev_line, inputs.next_line
        if self._small is None or self._pair != inputs.pair or self._small[0] != small \
                or inputs.pair is None:
            self._pair = inputs.pair
            self._small = (small, resize(inputs.prev_rgb, small), resize(inputs.next_rgb, small),
                           resize(inputs.prev_line, small), resize(inputs.next_line, small))
        return self._small[1:]

    def _chained(self, inputs: FrameInputs) -> bool:
        interval = inputs.interval
        return self.chain and interval is not None and 0 < interval.position < interval.length - 1

    def across_keys(self, inputs: FrameInputs
                    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None:
        """Training pairs the frame's key interval gives for free (None where the flow is not
        chained through it): for each key, its colours carried through the in-betweens onto the
        other key's drawing, that warp's confidence, and the other key's drawing and colours
        (all at the flow size). The refine pipeline adapts its network on them."""
        if not self._chained(inputs):
            return None
        h, w = inputs.line.shape[:2]
        small = flow_size_of(w, h, self.flow_size)
        pr, nr, pl, nl = self._keys(inputs, small)
        chain = self._propagator(inputs, small)
        pairs = []
        for key, rgb, other_line, other_rgb in ((0, pr, nl, nr), (-1, nr, pl, pr)):
            warp, confidence = chain.across(key, rgb)
            pairs.append((warp, confidence, other_line, other_rgb))
        return pairs

    def propagate(self, inputs: FrameInputs) -> tuple[Propagation, tuple[int, int] | None]:
        """The two-key propagation at flow size, and that size (None = full resolution)."""
        h, w = inputs.line.shape[:2]
        small = flow_size_of(w, h, self.flow_size)
        pr, nr, pl, nl = self._keys(inputs, small)
        if self._chained(inputs):
            assert inputs.interval is not None
            return self._propagator(inputs, small).propagate(inputs.interval.position, pr, nr), small
        line = inputs.line if small is None else resize(inputs.line, small)
        return propagate_two(line, pr, pl, nr, nl, inputs.t), small

    def __call__(self, inputs: FrameInputs, cancel: CancelToken | None = None
                 ) -> Generator[tuple[int, int], None, Guess]:
        """Colour ``inputs``; one step."""
        if cancel is not None:
            cancel.raise_if_cancelled()
        prop, small = self.propagate(inputs)
        if small is None:
            guess = Guess(prop.rgb, prop.confidence)
        else:
            h, w = inputs.line.shape[:2]
            guess = Guess(cv2.resize(prop.rgb, (w, h), interpolation=cv2.INTER_LINEAR),
                          np.clip(cv2.resize(prop.confidence, (w, h), interpolation=cv2.INTER_LINEAR),
                                  0.0, 1.0))
        yield (1, 1)
        return guess
