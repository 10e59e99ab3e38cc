"""The ``refine`` pipeline: the network corrects the flow propagation instead of generating.

For one frame (the shipped default model runs this):

1. line-art optical flow warps both keyframes onto the drawing and picks, per pixel, the better
   warp (:class:`~opdm_studio.pipelines.flow.FlowPipeline`'s propagation, at full resolution or
   at ``flow_size`` for big frames): each key matched to the drawing directly for a spec with
   ``refs="flow-warped"`` (what the shipped model was trained on), or through the chain of
   in-between drawings for ``refs="chain-warped"``;
2. at the working size the network gets the drawing, the two *warped* keys as its references
   (F_r and the Offset-Adapter's F_o) and runs DDIM from the propagation noised to the spec's
   ``t_start``, ``steps`` steps back to x0. With ``adapt_per_frame`` in the spec, the network is
   first fine-tuned (a copy, once per key interval, that many steps per in-between) on the pairs
   the interval gives for free: each key carried through the in-betweens onto the other key's
   drawing, with that key's own colours as the answer (:func:`opdm_studio.pipelines.adapt.adapt`);
3. only its correction ``x0 - propagation`` (at the working size, multiplied by the gate:
   ``1 - warp confidence`` for ``"confidence"``, and by the spec's ``strength``) is upsampled and
   added to the full-resolution propagation, so the result keeps the native-resolution detail of
   the warp; a pixel the correction moved takes the nearest of the keys' paints when it is close
   to one (``FrameInputs.paint``, where the caller gives it).
"""
from __future__ import annotations

from collections.abc import Generator, Hashable
from typing import Any

import cv2
import numpy as np
import torch

from opdm_studio.core.config import InferenceSpec
from opdm_studio.core.device import inference
from opdm_studio.core.diffusion import GaussianDiffusion, ddim_sample
from opdm_studio.imaging.palette import PaintLookup
from opdm_studio.pipelines.adapt import adapt
from opdm_studio.pipelines.base import (
    CancelToken,
    FrameInputs,
    Guess,
    Step,
    drive_sampler,
    gated_correction,
    resize,
)
from opdm_studio.pipelines.flow import FlowPipeline
from opdm_studio.pipelines.opdm import NetworkInputs, to_full_size

#: A pixel the network's correction moves by more than this (levels, any channel) takes the nearest
#: paint colour of the keys when that is within PAINT_REACH (RGB distance); further from every
#: paint (a blend the network is unsure of) it keeps its colour. Measured in docs/model.md.
PAINT_MOVED = 8.0
PAINT_REACH = 48.0


class RefinePipeline:
    """Flow-warped keys as references, DDIM from the noised propagation, gated correction."""

    def __init__(self, model: Any, diffusion: GaussianDiffusion, device: torch.device,
                 dtype: torch.dtype, spec: InferenceSpec, working_size: int = 224,
                 flow_size: int = 0, chain: bool = True) -> None:
        if spec.pipeline != "refine" or spec.t_start is None:
            raise ValueError(f"RefinePipeline needs a refine spec, got {spec}")
        spec.validate(diffusion.T)
        self.model, self.diffusion = model, diffusion
        self.device, self.dtype = device, dtype
        self.spec, self.working_size = spec, int(working_size)
        # The references the network was trained on: keys matched directly, or through the chain.
        # Its gate is 1 - the chosen warp's own confidence (the keys' agreement left out).
        self.flow = FlowPipeline(flow_size, chain and spec.refs == "chain-warped", agreement=False)
        self._adapted: tuple[Hashable, Any] | None = None   # (interval, network adapted to it)
        self._paint: tuple[bytes, PaintLookup] | None = None   # (the keys' paint, its table)

    def reset(self) -> None:
        """Forget the keys resized for the current pair and the network adapted to them."""
        self.flow.reset()
        self._adapted = None

    def _paint_lookup(self, paint: np.ndarray) -> PaintLookup:
        """The nearest-paint table of the keys' paint (built once per palette)."""
        key = np.ascontiguousarray(paint, np.uint8).tobytes()
        if self._paint is None or self._paint[0] != key:
            self._paint = (key, PaintLookup(paint))
        return self._paint[1]

    def adapt_steps(self, length: int) -> int:
        """Steps of adapting the network to a key interval of ``length`` drawings (keys included)
        before its first frame samples: the spec's ``adapt_per_frame`` per in-between (0: none)."""
        return int(self.spec.adapt_per_frame or 0) * max(1, int(length) - 2)

    def _will_adapt(self, inputs: FrameInputs) -> bool:
        """True when this frame's network is first adapted to its key interval."""
        if not self.spec.adapt_per_frame or inputs.interval is None:
            return False
        return self._adapted is None or self._adapted[0] != (inputs.interval.key, inputs.pair)

    def _network(self, inputs: FrameInputs, cancel: CancelToken | None
                 ) -> Generator[tuple[int, int], None, Any]:
        """The network for this frame: the model, or (spec ``adapt_per_frame``) a copy adapted to the
        frame's key interval (``adapt_per_frame`` steps per in-between), made on the interval's
        first frame and kept for the others."""
        if not self.spec.adapt_per_frame or inputs.interval is None:
            return self.model
        steps = self.adapt_steps(inputs.interval.length)
        key = (inputs.interval.key, inputs.pair)
        if self._adapted is not None and self._adapted[0] == key:
            return self._adapted[1]
        self._adapted = None
        pairs = self.flow.across_keys(inputs)
        if pairs is None:
            return self.model
        h, w = inputs.line.shape[:2]
        net = NetworkInputs(w, h, self.working_size, torch.device("cpu"), torch.float32)
        items = []
        for warp, confidence, line, rgb in pairs:
            warped = net.tensor(net.small(warp, None))
            items.append({"line": net.tensor(net.small(line, 255)), "prev": warped, "next": warped,
                          "prop": warped, "target": net.tensor(net.small(rgb, None)),
                          "confidence": torch.from_numpy(np.ascontiguousarray(
                              net.small(confidence, None), dtype=np.float32))[None, None]})
        total = steps + int(self.spec.steps or 1)
        gen = adapt(self.model, self.diffusion, self.spec, items, steps, self.device, self.dtype)
        try:
            while True:
                i = next(gen)
                if cancel is not None:
                    cancel.raise_if_cancelled()
                yield Step(i, total, "adapt")
        except StopIteration as stop:
            model = stop.value
        self._adapted = (key, model)
        return model

    def __call__(self, inputs: FrameInputs, cancel: CancelToken | None = None
                 ) -> Generator[tuple[int, int], None, Guess]:
        """Colour ``inputs``: yields after each of the spec's DDIM steps."""
        h, w = inputs.line.shape[:2]
        # 1. Flow at full resolution, or at flow_size for big frames (as the `flow` pipeline).
        prop, small = self.flow.propagate(inputs)
        prop_full = prop.rgb if small is None else cv2.resize(prop.rgb, (w, h),
                                                              interpolation=cv2.INTER_LINEAR)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if inputs.preview is not None and self._will_adapt(inputs):
            inputs.preview(prop_full)      # something to look at while the network adapts

        # 2. The network at the working size: warped keys as references, noised propagation as start.
        net = NetworkInputs(w, h, self.working_size, self.device, self.dtype)
        prop_small = net.small(prop.rgb, None)
        line_t = net.tensor(net.small(inputs.line, 255))
        prev_t = net.tensor(net.small(prop.warp_prev, None))
        next_t = net.tensor(net.small(prop.warp_next, None))
        prop_t = net.tensor(prop_small)
        model = yield from self._network(inputs, cancel)
        with inference(self.device, self.dtype):
            cond = model.encode_conditions(line_t, prev_t, next_t)
        gen = torch.Generator(device="cpu").manual_seed(int(inputs.seed))
        sampler = ddim_sample(model, self.diffusion, line_t, prev_t, next_t,
                              steps=int(self.spec.steps or 1), generator=gen, cond=cond,
                              x_init=prop_t.float(), t_start=self.spec.t_start)
        x0 = yield from drive_sampler(sampler, self.device, self.dtype, cancel)
        out = net.image(x0)

        # 3. Only the correction travels back to full resolution (the warp keeps its native detail).
        corr = out - prop_small[:net.rh, :net.rw].astype(np.float32)
        conf_small = resize(prop.confidence, (net.rw, net.rh))[..., None]
        corr = gated_correction(corr, conf_small, self.spec.gate, float(self.spec.strength), np.clip)
        corr_full = to_full_size(corr, w, h)
        rgb = prop_full.astype(np.float32) + corr_full
        if inputs.paint is not None:
            # Where the network moved a pixel, it moved it towards some paint: the nearest of the
            # keys' paints when it is close, so corrected regions come out flat and exact.
            moved = _largest_channel(np.abs(corr_full)) > PAINT_MOVED
            if moved.any():
                px = rgb[moved]
                self._paint_lookup(inputs.paint).snap(px, PAINT_REACH)
                rgb[moved] = px
        # The warp's own confidence goes with the guess: where the keys' warp is unsure, the paint
        # decided there is too (the engine's review flags).
        conf = prop.confidence if small is None else cv2.resize(
            prop.confidence, (w, h), interpolation=cv2.INTER_LINEAR)
        return Guess(np.clip(rgb + 0.5, 0, 255).astype(np.uint8),
                     np.clip(conf, 0.0, 1.0).astype(np.float32), base=prop_full)


def _largest_channel(img: np.ndarray) -> np.ndarray:
    """Per pixel the largest of the channels of a float32 (H, W, 3) image (plane by plane:
    numpy's max over the last axis is several times slower on a 1080p frame)."""
    a, b, c = cv2.split(np.ascontiguousarray(img, np.float32))
    return cv2.max(cv2.max(a, b), c)
