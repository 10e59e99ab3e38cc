"""The ``refine`` pipeline: the network corrects the flow propagation instead of generating.

For one frame (the shipped default model runs this):

1. line-art optical flow warps both keyframes onto the drawing and picks, per pixel, the better
   warp (:class:`~opdm_studio.pipelines.flow.FlowPipeline`'s propagation, at full resolution or
   at ``flow_size`` for big frames): each key matched to the drawing directly for a spec with
   ``refs="flow-warped"`` (what the shipped model was trained on), or through the chain of
   in-between drawings for ``refs="chain-warped"``;
2. at the working size the network gets the drawing, the two *warped* keys as its references
   (F_r and the Offset-Adapter's F_o) and runs DDIM from the propagation noised to the spec's
   ``t_start``, ``steps`` steps back to x0;
3. only its correction ``x0 - propagation`` (at the working size, multiplied by the gate:
   ``1 - warp confidence`` for ``"confidence"``, and by the spec's ``strength``) is upsampled and added to the full-resolution
   propagation, so the result keeps the native-resolution detail of the warp.
"""
from __future__ import annotations

from collections.abc import Generator
from typing import Any

import cv2
import numpy as np
import torch

from opdm_studio.core.config import InferenceSpec
from opdm_studio.core.device import inference
from opdm_studio.core.diffusion import GaussianDiffusion, ddim_sample
from opdm_studio.pipelines.base import (
    CancelToken,
    FrameInputs,
    Guess,
    drive_sampler,
    resize,
)
from opdm_studio.pipelines.flow import FlowPipeline
from opdm_studio.pipelines.opdm import NetworkInputs, to_full_size


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

    def reset(self) -> None:
        """Forget the keys resized for the current pair."""
        self.flow.reset()

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

        # 2. The network at the working size: warped keys as references, noised propagation as start.
        net = NetworkInputs(w, h, self.working_size, self.device, self.dtype)
        prop_small = net.small(prop.rgb, None)
        line_t = net.tensor(net.small(inputs.line, 255))
        prev_t = net.tensor(net.small(prop.warp_prev, None))
        next_t = net.tensor(net.small(prop.warp_next, None))
        prop_t = net.tensor(prop_small)
        with inference(self.device, self.dtype):
            cond = self.model.encode_conditions(line_t, prev_t, next_t)
        gen = torch.Generator(device="cpu").manual_seed(int(inputs.seed))
        sampler = ddim_sample(self.model, self.diffusion, line_t, prev_t, next_t,
                              steps=int(self.spec.steps or 1), generator=gen, cond=cond,
                              x_init=prop_t.float(), t_start=self.spec.t_start)
        x0 = yield from drive_sampler(sampler, self.device, self.dtype, cancel)
        out = net.image(x0)

        # 3. Only the correction travels back to full resolution (the warp keeps its native detail).
        corr = out - prop_small[:net.rh, :net.rw].astype(np.float32)
        if self.spec.gate == "confidence":
            conf_small = resize(prop.confidence, (net.rw, net.rh))
            corr *= np.clip(1.0 - conf_small, 0.0, 1.0)[..., None]
        if self.spec.strength != 1.0:
            corr *= float(self.spec.strength)
        rgb = np.clip(prop_full.astype(np.float32) + to_full_size(corr, w, h) + 0.5, 0, 255)
        return Guess(rgb.astype(np.uint8))
