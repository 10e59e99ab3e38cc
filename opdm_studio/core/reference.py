"""Reference encoder (paper Eq. 4): F_r = encoder(concat(previous keyframe, next keyframe)).

Per level i = 1..4 (resolution H/2^(i-1)): a 3x3 conv and five residual blocks give the level's
features; a 1x1 projection matches the U-Net channels (F_r^i, injected into encoder level i); a
2x max-pool feeds the next level.

    concat(prev, next) (B,6,H,W)
      level 1: conv -> 5 x ResBlock -> F_r^1 (B,C1,H,W)       -> maxpool -> (B,R1,H/2,W/2)
      level 2: conv -> 5 x ResBlock -> F_r^2 (B,C2,H/2,W/2)   -> maxpool ...
      ...
      level 4:                         F_r^4 (B,C4,H/8,W/8)
"""
from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from opdm_studio.core.config import LEVELS, ModelConfig
from opdm_studio.core.unet import ResBlock


class ReferenceEncoder(nn.Module):
    """Multi-scale encoder of the two keyframes; its output does not depend on t or x_t."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.levels = nn.ModuleList()
        cin = 6
        for width, cout in zip(cfg.ref_widths, cfg.channels, strict=True):
            self.levels.append(nn.ModuleDict({
                "conv": nn.Conv2d(cin, width, 3, padding=1),
                "blocks": nn.Sequential(*[_Plain(ResBlock(width, width, 0, cfg.norm_groups))
                                          for _ in range(cfg.ref_blocks)]),
                "proj": nn.Conv2d(width, cout, 1) if width != cout else nn.Identity(),
            }))
            cin = width

    def forward(self, prev: torch.Tensor, next: torch.Tensor) -> list[torch.Tensor]:
        """prev, next (B,3,H,W) in [-1,1] -> [F_r^1..F_r^4], F_r^i (B,C_i,H/2^(i-1),W/2^(i-1))."""
        h = torch.cat([prev, next], dim=1)
        feats = []
        for i, module in enumerate(self.levels):
            level = cast(nn.ModuleDict, module)
            h = level["blocks"](level["conv"](h))
            feats.append(level["proj"](h))
            if i + 1 < LEVELS:
                h = F.max_pool2d(h, 2)
        return feats


class _Plain(nn.Module):
    """Adapter so a ResBlock without timestep runs inside nn.Sequential."""

    def __init__(self, block: ResBlock):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)
