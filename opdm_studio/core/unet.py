"""Denoising U-Net of OPDM (paper section 3.3) whose encoder ResNet blocks accept injected features.

Shapes for an input of H x W (multiples of 16), C = config.channels:

    x_t (B,3,H,W) ++ line (B,1,H,W) -> in_conv -> (B,C1,H,W)
    encoder level i = 1..4 at H/2^(i-1): num_res_blocks ResBlocks; inside each block
        F_m^i = F_e^i + F_r^i + F_o^i  (the injected condition is added after the first conv)
        then a stride-2 conv down to the next level (after level 4: to the middle at H/16)
    middle at H/16: mid_blocks ResBlocks with config.middle_channels
    decoder level i = 4..1: concat(upsampled, encoder skip of level i) -> num_res_blocks ResBlocks
    out: GroupNorm, SiLU, conv -> x0 (B,3,H,W)   (the network predicts the clean image)
"""
from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from opdm_studio.core.config import LEVELS, ModelConfig


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    g = max(d for d in range(1, min(groups, channels) + 1) if channels % d == 0)
    return nn.GroupNorm(g, channels, eps=1e-6)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (B,) -> (B, dim) as in DDPM / Transformer positional encodings."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class ResBlock(nn.Module):
    """Pre-activation ResNet block: GN-SiLU-conv (+temb +injection) GN-SiLU-conv, with a skip."""

    def __init__(self, cin: int, cout: int, temb_dim: int = 0, groups: int = 32, dropout: float = 0.0):
        super().__init__()
        self.norm1 = group_norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb_dim, cout) if temb_dim else None
        self.norm2 = group_norm(cout, groups)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None,
                inject: torch.Tensor | None = None) -> torch.Tensor:
        """x (B,cin,h,w), temb (B,temb_dim) already SiLU'd, inject (B|1,cout,h,w) -> (B,cout,h,w)."""
        # In-place adds and activations on fresh tensors: on the CPU every full-size temporary
        # costs an allocation and a memory pass, which at 224x224 rivals the convolutions.
        h = self.conv1(F.silu(self.norm1(x), inplace=True))
        if self.temb is not None and temb is not None:
            h += self.temb(temb)[:, :, None, None].to(h.dtype)
        if inject is not None:
            # Eq. 5 of the paper: F_m = F_e + F_r + F_o, fused inside the encoder ResNet block.
            h += inject.to(h.dtype)
        h = self.conv2(self.dropout(F.silu(self.norm2(h), inplace=True)))
        h += self.skip(x)
        return h


class Downsample(nn.Module):
    """Stride-2 3x3 convolution (keeps the channel count)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,C,h,w) -> (B,C,h/2,w/2)."""
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest 2x upsampling followed by a 3x3 convolution cin -> cout."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,cin,h,w) -> (B,cout,2h,2w)."""
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """Four-level U-Net predicting x0 from concat(x_t, line) with per-level injected conditions."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        ch = cfg.channels
        tdim, g, p = cfg.temb_dim, cfg.norm_groups, cfg.dropout
        self.base = cfg.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(cfg.base_channels, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.in_conv = nn.Conv2d(3 + 1, ch[0], 3, padding=1)

        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        cin = ch[0]
        for i in range(LEVELS):
            blocks = nn.ModuleList()
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResBlock(cin, ch[i], tdim, g, p))
                cin = ch[i]
            self.enc.append(blocks)
            self.down.append(Downsample(ch[i]))

        cmid = cfg.middle_channels
        self.mid = nn.ModuleList()
        for _ in range(cfg.mid_blocks):
            self.mid.append(ResBlock(cin, cmid, tdim, g, p))
            cin = cmid

        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(LEVELS)):
            self.up.append(Upsample(cin, ch[i]))
            blocks = nn.ModuleList([ResBlock(2 * ch[i], ch[i], tdim, g, p)])
            for _ in range(cfg.num_res_blocks - 1):
                blocks.append(ResBlock(ch[i], ch[i], tdim, g, p))
            self.dec.append(blocks)
            cin = ch[i]

        self.out_norm = group_norm(ch[0], g)
        self.out_conv = nn.Conv2d(ch[0], 3, 3, padding=1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, line: torch.Tensor,
                inject: list[torch.Tensor] | None = None) -> torch.Tensor:
        """x_t (B,3,H,W), t (B,), line (B,1,H,W), inject: 4 x (B|1,C_i,H/2^i,W/2^i) -> x0 (B,3,H,W)."""
        temb = F.silu(self.time_mlp(timestep_embedding(t, self.base).to(x_t.dtype)))
        h = self.in_conv(torch.cat([x_t, line.to(x_t.dtype)], dim=1))
        skips = []
        for i in range(LEVELS):
            cond = inject[i] if inject is not None else None
            for block in cast(nn.ModuleList, self.enc[i]):
                h = block(h, temb, cond)
            skips.append(h)                      # (B, C_i, H/2^i, W/2^i)
            h = self.down[i](h)
        for block in self.mid:                   # (B, Cmid, H/16, W/16)
            h = block(h, temb)
        for up, blocks in zip(self.up, self.dec, strict=True):
            h = up(h)
            h = torch.cat([h, skips.pop()], dim=1)
            for block in cast(nn.ModuleList, blocks):
                h = block(h, temb)
        return self.out_conv(F.silu(self.out_norm(h)))
