"""OPDM: the denoising U-Net conditioned on line art, two keyframes and Offset-Adapter priors.

Tensors: colour (B,3,H,W) in [-1,1]; line art (B,1,H,W) in [-1,1] (-1 ink, +1 paper);
H and W multiples of 16; t (B,) integer timesteps in [0, T).

Two ways to run it, giving the same numbers:

    x0 = model(x_t, t, line, prev, next)                     # naive: everything every step
    refs = model.encode_references(prev, next)               # once per keyframe pair   F_r
    cond = model.encode_conditions(line, prev, next, refs)   # once per frame           F_r + F_o
    x0 = model.denoise(x_t, t, line, cond)                   # every sampling step      U-Net only

References and conditions computed with batch 1 broadcast over a batch of frames of the same pair.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from opdm_studio.core.config import LEVELS, ModelConfig
from opdm_studio.core.offsets import OffsetAdapter
from opdm_studio.core.reference import ReferenceEncoder
from opdm_studio.core.unet import UNet


@dataclass
class Conditions:
    """Timestep-free conditions of one target frame: inject[i] = F_r^i + F_o^i (Eq. 5)."""

    inject: list[torch.Tensor]

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frame these conditions were computed for."""
        h, w = self.inject[0].shape[-2:]
        return int(h), int(w)


class OPDM(nn.Module):
    """Offset Prior-based Diffusion Model (Zhu et al.): predicts x0 from x_t and the conditions."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg.validate()
        self.unet = UNet(cfg)
        self.ref_encoder = ReferenceEncoder(cfg)
        self.offset_adapter = OffsetAdapter(cfg)

    # --- checks ---------------------------------------------------------------------------
    def _in(self, x: torch.Tensor) -> torch.Tensor:
        # Inputs follow the weights: dtype, and channels_last when the model was prepared that
        # way (a sampler's fresh noise is NCHW; mixing layouts makes oneDNN reorder every layer).
        w = self.unet.in_conv.weight
        if x.dtype != w.dtype:
            x = x.to(w.dtype)
        if w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() \
                and not x.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _check(self, name: str, x: torch.Tensor, channels: int) -> None:
        m = self.config.size_multiple
        if x.dim() != 4 or x.shape[1] != channels:
            raise ValueError(f"{name} must have shape (B,{channels},H,W), got {tuple(x.shape)}")
        if x.shape[-1] % m or x.shape[-2] % m or x.shape[-1] < m or x.shape[-2] < m:
            raise ValueError(f"{name}: height and width must be multiples of {m}, got {tuple(x.shape[-2:])}")

    def _timesteps(self, t: torch.Tensor | int | float, batch: int, device: torch.device) -> torch.Tensor:
        t = torch.as_tensor(t, device=device)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
        return t

    # --- conditions -----------------------------------------------------------------------
    def encode_references(self, prev: torch.Tensor, next: torch.Tensor) -> list[torch.Tensor]:
        """F_r^1..F_r^4 of a keyframe pair, reusable for every frame between them."""
        self._check("prev", prev, 3)
        self._check("next", next, 3)
        if prev.shape != next.shape:
            raise ValueError(f"prev and next differ in shape: {tuple(prev.shape)} vs {tuple(next.shape)}")
        return self.ref_encoder(self._in(prev), self._in(next))

    def encode_offsets(self, line: torch.Tensor, prev: torch.Tensor, next: torch.Tensor) -> list[torch.Tensor]:
        """F_o^1..F_o^4 of one target frame (Offset-Adapter)."""
        self._check("line", line, 1)
        b = line.shape[0]
        if prev.shape[0] != b:
            prev = prev.expand(b, -1, -1, -1)
        if next.shape[0] != b:
            next = next.expand(b, -1, -1, -1)
        return self.offset_adapter(self._in(line), self._in(prev), self._in(next))

    def encode_conditions(self, line: torch.Tensor, prev: torch.Tensor, next: torch.Tensor,
                          refs: list[torch.Tensor] | None = None) -> Conditions:
        """F_r + F_o per level for one target frame; pass ``refs`` to reuse a pair's F_r."""
        self._check("line", line, 1)
        if refs is None:
            refs = self.encode_references(prev, next)
        if len(refs) != LEVELS:
            raise ValueError(f"refs must hold {LEVELS} feature maps, got {len(refs)}")
        if tuple(refs[0].shape[-2:]) != tuple(line.shape[-2:]):
            raise ValueError(f"refs were computed for size {tuple(refs[0].shape[-2:])}, "
                             f"the line art is {tuple(line.shape[-2:])}")
        offs = self.encode_offsets(line, prev, next)
        return Conditions([r + o for r, o in zip(refs, offs, strict=True)])

    # --- denoising ------------------------------------------------------------------------
    def denoise(self, x_t: torch.Tensor, t: torch.Tensor | int, line: torch.Tensor,
                cond: Conditions) -> torch.Tensor:
        """Cached path: x0 (B,3,H,W) from x_t, t, line and precomputed conditions."""
        self._check("x_t", x_t, 3)
        self._check("line", line, 1)
        if cond.size != tuple(x_t.shape[-2:]):
            raise ValueError(f"conditions were computed for size {cond.size}, x_t is {tuple(x_t.shape[-2:])}")
        t = self._timesteps(t, x_t.shape[0], x_t.device)
        return self.unet(self._in(x_t), t, self._in(line), cond.inject)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, line: torch.Tensor,
                prev: torch.Tensor, next: torch.Tensor) -> torch.Tensor:
        """Naive path: encode the conditions and denoise, all in one call -> x0 (B,3,H,W)."""
        return self.denoise(x_t, t, line, self.encode_conditions(line, prev, next))

    # --- stage 1 (offset estimator) -------------------------------------------------------
    def align_reference(self, line: torch.Tensor, ref: torch.Tensor, branch: int = 0,
                        level: int = 0, at_level: bool = False) -> torch.Tensor:
        """The reference (B,3,H,W) deformably resampled onto the target line art (B,1,H,W).

        branch 0 uses the previous-keyframe estimator, 1 the next one; level picks the scale
        (0 = full resolution). Training stage 1 compares the result with the target colours.
        ``at_level`` returns the warp at the level's own resolution (H/2^level, W/2^level).
        """
        if branch not in (0, 1):
            raise ValueError(f"branch must be 0 (previous) or 1 (next), got {branch!r}")
        if not 0 <= level < LEVELS:
            raise ValueError(f"level must be in [0, {LEVELS}), got {level!r}")
        self._check("line", line, 1)
        self._check("ref", ref, 3)
        return self.offset_adapter.align_reference(self._in(line), self._in(ref), branch, level,
                                                   at_level=at_level)

    def offset_estimator_parameters(self):
        """Parameters of the eight offset estimators (4 levels x 2 branches)."""
        return self.offset_adapter.estimator_parameters()

    def freeze_offset_estimators(self, frozen: bool = True) -> None:
        """Stop (or restart) gradient flow into the offset estimators (fixed after stage 1)."""
        for p in self.offset_adapter.estimator_parameters():
            p.requires_grad_(not frozen)

    def num_parameters(self) -> int:
        """Total number of parameters."""
        return sum(p.numel() for p in self.parameters())
