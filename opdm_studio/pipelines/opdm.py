"""The ``opdm`` pipeline: the paper's sampling (section 3.4).

The drawing and the two raw keyframes are brought to the working size (short side
``working_size``, aspect kept, padded to a multiple of 16), the DDIM sampler runs ``steps`` steps
from pure noise, and the guess is cropped and resized back to the drawing's full resolution.
Reference features F_r depend only on the key pair and are computed once per pair; F_r + F_o once
per frame and reused by every sampler step.
"""
from __future__ import annotations

from collections.abc import Generator, Hashable
from typing import Any

import cv2
import numpy as np
import torch

from opdm_studio.core.device import inference, prepare_inputs
from opdm_studio.core.diffusion import GaussianDiffusion, ddim_sample
from opdm_studio.pipelines.base import (
    CancelToken,
    FrameInputs,
    Guess,
    drive_sampler,
    pad,
    resize,
    working_geometry,
)


class NetworkInputs:
    """Images <-> network tensors at one working geometry (values in [-1, 1], device layout)."""

    def __init__(self, width: int, height: int, working_size: int, device: torch.device,
                 dtype: torch.dtype) -> None:
        self.rw, self.rh, self.pw, self.ph = working_geometry(width, height, working_size)
        self.device, self.dtype = device, dtype

    @property
    def key(self) -> tuple[int, int, int, int]:
        """The geometry, for caches."""
        return self.pw, self.ph, self.rw, self.rh

    def small(self, img: np.ndarray, pad_value: int | None) -> np.ndarray:
        """``img`` resized to the working size and padded (``pad_value`` None: edge replication)."""
        return pad(resize(img, (self.rw, self.rh)), self.pw, self.ph, pad_value)

    def tensor(self, small: np.ndarray) -> torch.Tensor:
        """A working-size uint8 image as a (1, C, H, W) tensor in [-1, 1] on the device."""
        arr = small.astype(np.float32) / 127.5 - 1.0
        arr = arr[None, None] if arr.ndim == 2 else arr.transpose(2, 0, 1)[None]
        return prepare_inputs(torch.from_numpy(np.ascontiguousarray(arr)), self.device, self.dtype)

    def image(self, x0: torch.Tensor) -> np.ndarray:
        """The network's x0 (1, 3, H, W) as float32 (rh, rw, 3) in [0, 255], padding cropped."""
        with inference(self.device, self.dtype):
            out = x0[0, :, :self.rh, :self.rw].float().clamp(-1, 1)
            return ((out + 1.0) * 127.5).permute(1, 2, 0).cpu().numpy()


def to_full_size(small: np.ndarray, width: int, height: int) -> np.ndarray:
    """A float image at the working size back to the drawing's size (bilinear)."""
    return cv2.resize(np.ascontiguousarray(small), (width, height), interpolation=cv2.INTER_LINEAR)


class OPDMPipeline:
    """DDIM from noise with the raw keyframes as references (the paper)."""

    def __init__(self, model: Any, diffusion: GaussianDiffusion, device: torch.device,
                 dtype: torch.dtype, working_size: int = 224, steps: int = 10) -> None:
        self.model, self.diffusion = model, diffusion
        self.device, self.dtype = device, dtype
        self.working_size, self.steps = int(working_size), int(steps)
        self._pair: Hashable = None
        self._refs: tuple[Any, ...] | None = None    # (geometry, prev_t, next_t, F_r)

    def reset(self) -> None:
        """Forget the reference features of the current pair."""
        self._pair, self._refs = None, None

    def __call__(self, inputs: FrameInputs, cancel: CancelToken | None = None
                 ) -> Generator[tuple[int, int], None, Guess]:
        """Colour ``inputs``: yields after each of the ``steps`` DDIM steps."""
        h, w = inputs.line.shape[:2]
        net = NetworkInputs(w, h, self.working_size, self.device, self.dtype)
        line_t = net.tensor(net.small(inputs.line, 255))
        model = self.model
        # The torch contexts are entered around each piece of work, never held across a yield:
        # the caller's code between steps must not run under inference mode or autocast.
        with inference(self.device, self.dtype):
            if self._refs is None or self._pair != inputs.pair or inputs.pair is None \
                    or self._refs[0] != net.key:
                prev_t = net.tensor(net.small(inputs.prev_rgb, None))
                next_t = net.tensor(net.small(inputs.next_rgb, None))
                self._pair = inputs.pair
                self._refs = (net.key, prev_t, next_t, model.encode_references(prev_t, next_t))
            _, prev_t, next_t, refs = self._refs
            cond = model.encode_conditions(line_t, prev_t, next_t, refs=refs)
        gen = torch.Generator(device="cpu").manual_seed(int(inputs.seed))
        sampler = ddim_sample(model, self.diffusion, line_t, prev_t, next_t, steps=self.steps,
                              generator=gen, cond=cond)
        x0 = yield from drive_sampler(sampler, self.device, self.dtype, cancel)
        # Back to the drawing's full resolution; snapping then makes region colours exact.
        big = to_full_size(net.image(x0), w, h)
        return Guess(np.clip(big + 0.5, 0, 255).astype(np.uint8))
