"""Offset-Adapter (paper section 3.2): deformable alignment priors F_o at four scales.

For each level i (resolution H/2^(i-1)) and each branch b (0 = previous keyframe, 1 = next):

    line_i (B,1,h,w), ref_i (B,3,h,w)      area-downsampled target line art and reference
    offsets = estimator_b(concat(line_i, ref_i))      conv + 5 bottleneck blocks + conv
            -> (B, 2*N*N, h, w)   (dy, dx) per kernel tap, in pixels of level i (Eq. 1)
    aligned_b = DeformConv(ref_i, offsets) -> (B, D, h, w)     (grid_sample; == conv2d at zero offsets)
    F_o^i = align(concat(aligned_0, aligned_1)) -> (B, C_i, h, w)   2D convs match the U-Net channels

``OffsetAdapter.align_reference`` resamples a reference image by the mean displacement of a level's
offsets: the image-space alignment that training stage 1 supervises (the target colour frame is
the ground truth), so the estimator learns real correspondences before it is frozen.
"""
from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from opdm_studio.core.config import LEVELS, ModelConfig


def kernel_taps(n: int, device: torch.device | None = None) -> torch.Tensor:
    """Regular-grid offsets of an n x n kernel, row-major: (n*n, 2) as (dy, dx)."""
    r = torch.arange(n, device=device, dtype=torch.float32) - (n - 1) / 2
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([dy.reshape(-1), dx.reshape(-1)], dim=1)


def _normalise(coord: torch.Tensor, size: int) -> torch.Tensor:
    # grid_sample with align_corners=True maps -1/+1 to the centres of the first/last pixels.
    return coord * (2.0 / max(size - 1, 1)) - 1.0


_BASE_GRIDS: dict = {}


def _base_grid(n: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """Normalised sampling positions of the regular n x n kernel at every pixel: (1,K,H,W,2) as
    (x, y), cached because it depends only on the size (rebuilding it cost ~10% of F_o)."""
    key = (n, h, w, str(device))
    grid = _BASE_GRIDS.get(key)
    if grid is None:
        k = n * n
        taps = kernel_taps(n, device)
        yy = torch.arange(h, device=device, dtype=torch.float32).view(1, h, 1)
        xx = torch.arange(w, device=device, dtype=torch.float32).view(1, 1, w)
        gx = _normalise((xx + taps[:, 1].view(k, 1, 1)).expand(k, h, w), w)
        gy = _normalise((yy + taps[:, 0].view(k, 1, 1)).expand(k, h, w), h)
        grid = torch.stack([gx, gy], dim=-1).unsqueeze(0)            # (1,K,H,W,2)
        if len(_BASE_GRIDS) >= 16:
            _BASE_GRIDS.clear()
        _BASE_GRIDS[key] = grid
    return grid


def deform_sample(x: torch.Tensor, offsets: torch.Tensor, n: int) -> torch.Tensor:
    """Bilinear samples of x at every deformed kernel tap.

    x (B,C,H,W), offsets (B,2*n*n,H,W) as (dy,dx) per tap -> (B, C*n*n, H, W), channel c*n*n + k.
    Samples outside the image are zero, like the zero padding of a plain convolution.
    """
    b, c, h, w = x.shape
    k = n * n
    # (B,K,2,H,W) as (dy,dx) -> (B,K,H,W,2) as (dx,dy), the order grid_sample wants
    off = offsets.float().view(b, k, 2, h, w).flip(2).permute(0, 1, 3, 4, 2)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=x.device)
    grid = torch.addcmul(_base_grid(n, h, w, x.device), off, scale).view(b, k * h, w, 2)
    out = F.grid_sample(x.float().contiguous(), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=True)
    return out.view(b, c, k, h, w).reshape(b, c * k, h, w).to(x.dtype)   # (B, C*K, H, W)


class DeformConv2d(nn.Module):
    """Deformable convolution (Dai et al. 2017) written with grid_sample: no compiled extension.

    With zero offsets it equals ``F.conv2d(x, weight, bias, padding=n // 2)``.
    """

    def __init__(self, cin: int, cout: int, n: int):
        super().__init__()
        self.n = n
        self.weight = nn.Parameter(torch.empty(cout, cin, n, n))
        self.bias = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """x (B,cin,H,W), offsets (B,2*n*n,H,W) -> (B,cout,H,W)."""
        cols = deform_sample(x, offsets, self.n)
        w = self.weight.reshape(self.weight.shape[0], -1, 1, 1).to(cols.dtype)
        return F.conv2d(cols, w, self.bias.to(cols.dtype))


def offsets_to_flow(offsets: torch.Tensor) -> torch.Tensor:
    """Mean displacement over the kernel taps: (B,2K,H,W) -> (B,2,H,W) as (dy, dx) in pixels."""
    b, c, h, w = offsets.shape
    return offsets.float().view(b, c // 2, 2, h, w).mean(dim=1)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample image (B,C,H,W) at p + flow(p), flow (B,2,H,W) as (dy,dx); borders are clamped."""
    b, _, h, w = image.shape
    yy = torch.arange(h, device=image.device, dtype=torch.float32).view(1, h, 1)
    xx = torch.arange(w, device=image.device, dtype=torch.float32).view(1, 1, w)
    grid = torch.stack([_normalise(xx + flow[:, 1], w), _normalise(yy + flow[:, 0], h)], dim=-1)
    return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border",
                         align_corners=True).to(image.dtype)


class Bottleneck(nn.Module):
    """Standard bottleneck residual block: 1x1 reduce, 3x3, 1x1 expand, skip connection."""

    def __init__(self, channels: int):
        super().__init__()
        mid = channels // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(mid, channels, 1))
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,C,h,w) -> (B,C,h,w)."""
        return self.act(x + self.body(x))


class OffsetEstimator(nn.Module):
    """concat(line art, reference) -> conv + bottleneck blocks + conv -> 2*N*N offsets (Eq. 1)."""

    def __init__(self, width: int, blocks: int, n: int):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(1 + 3, width, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))
        self.blocks = nn.Sequential(*[Bottleneck(width) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, 2 * n * n, 3, padding=1)
        # Zero offsets at initialisation: the deformable conv starts as a plain conv (as in DCN).
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(cast(torch.Tensor, self.tail.bias))

    def forward(self, line: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """line (B,1,h,w), ref (B,3,h,w) -> offsets (B,2*N*N,h,w) in pixels of this level."""
        return self.tail(self.blocks(self.head(torch.cat([line.to(ref.dtype), ref], dim=1))))


class OffsetLevel(nn.Module):
    """One Offset-Adapter block: two offset estimators, two deformable convs, channel alignment."""

    def __init__(self, cfg: ModelConfig, channels: int):
        super().__init__()
        n, d = cfg.offset_kernel, cfg.offset_feat_channels
        self.estimators = nn.ModuleList(
            [OffsetEstimator(cfg.offset_channels, cfg.offset_blocks, n) for _ in range(2)])
        self.deform = nn.ModuleList([DeformConv2d(3, d, n) for _ in range(2)])
        self.align = nn.Sequential(nn.Conv2d(2 * d, channels, 3, padding=1), nn.SiLU(),
                                   nn.Conv2d(channels, channels, 1))

    def forward(self, line: torch.Tensor, prev: torch.Tensor, next: torch.Tensor) -> torch.Tensor:
        """line (B,1,h,w), prev/next (B,3,h,w) -> F_o^i (B,C_i,h,w)."""
        aligned = [deform(ref, est(line, ref))
                   for est, deform, ref in zip(self.estimators, self.deform, (prev, next), strict=True)]
        return self.align(torch.cat(aligned, dim=1))


def pyramid(x: torch.Tensor, levels: int = LEVELS) -> list[torch.Tensor]:
    """[x, x/2, x/4, ...] by 2x2 area averaging (levels entries)."""
    out = [x]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(out[-1], 2))
    return out


class OffsetAdapter(nn.Module):
    """Four Offset-Adapter blocks producing F_o^1..F_o^4 with the U-Net's channels."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.levels = nn.ModuleList([OffsetLevel(cfg, c) for c in cfg.channels])

    def forward(self, line: torch.Tensor, prev: torch.Tensor, next: torch.Tensor) -> list[torch.Tensor]:
        """line (B,1,H,W), prev/next (B,3,H,W) -> [F_o^i (B,C_i,H/2^(i-1),W/2^(i-1))]."""
        lines, prevs, nexts = pyramid(line), pyramid(prev), pyramid(next)
        return [lvl(l, p, n) for lvl, l, p, n in zip(self.levels, lines, prevs, nexts, strict=True)]

    def offsets(self, line: torch.Tensor, ref: torch.Tensor, branch: int, level: int = 0) -> torch.Tensor:
        """Offsets of one branch at one level: (B, 2*N*N, H/2^level, W/2^level), in that level's pixels."""
        f = 2 ** level
        if f > 1:
            line, ref = F.avg_pool2d(line, f), F.avg_pool2d(ref, f)
        level_module = cast(OffsetLevel, self.levels[level])
        return level_module.estimators[branch](line, ref)

    def align_reference(self, line: torch.Tensor, ref: torch.Tensor, branch: int,
                        level: int = 0, at_level: bool = False) -> torch.Tensor:
        """The reference (B,3,H,W) resampled onto the target line art by a level's offsets.

        ``at_level``: return the level's own resolution (B,3,H/2^level,W/2^level), the area-
        downsampled reference warped by the level's flow, instead of the full-resolution warp.
        """
        flow = offsets_to_flow(self.offsets(line, ref, branch, level))    # (B,2,h,w) level pixels
        f = 2 ** level
        if at_level:
            return warp(F.avg_pool2d(ref, f) if f > 1 else ref, flow)
        if f > 1:
            flow = F.interpolate(flow, size=ref.shape[-2:], mode="bilinear", align_corners=False) * f
        return warp(ref, flow)

    def estimator_parameters(self):
        """Parameters of the offset estimators only (what stage 1 trains and then freezes)."""
        for lvl in self.levels:
            yield from cast(OffsetLevel, lvl).estimators.parameters()
