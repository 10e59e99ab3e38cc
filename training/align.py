"""Stage 1 (paper section 3.2): train the offset estimators, then freeze them.

There is no ground-truth correspondence between a keyframe and the target, so the estimators are
supervised through the deformable sampling itself: each reference, resampled by its branch's
offsets onto the target line art (``OPDM.align_reference``), must reproduce the target colours.
Every level of the Offset-Adapter (full, 1/2, 1/4, 1/8 resolution) and both branches (previous
and next key) are trained together. Only the estimators' parameters are optimised; stage 2 starts
from this checkpoint with them frozen (``OPDM.freeze_offset_estimators``).

Paper settings: 80 epochs, batch 10, learning rate 1e-4 (the CLI defaults).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from opdm_studio.core.config import LEVELS
from training.losses import ssim
from training.train import (Stage, TrainConfig, add_common_args, config_from_args, finish_distributed,
                            make_grid, run)


class AlignObjective(nn.Module):
    """L1 (+ 1 - SSIM) between each deformably aligned reference and the target, all levels."""

    def __init__(self, model: nn.Module, ssim_weight: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.ssim_weight = ssim_weight

    def forward(self, batch: dict[str, torch.Tensor], gen: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Losses of one micro-batch (``gen`` unused: stage 1 draws no noise)."""
        # fp32 even under bf16 autocast: offsets are sampling positions, and bf16 quantises them to
        # ~0.5 px at 128 px, which blurs the aligned reference (measured: 18.9 dB vs 29.7 dB unaligned).
        with torch.autocast(device_type=batch["line"].device.type, enabled=False):
            return self._losses({k: v.float() for k, v in batch.items()})

    def _losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        line, target = batch["line"], batch["target"].float()
        total = target.new_zeros(())
        out: dict[str, torch.Tensor] = {}
        for level in range(LEVELS):
            # Each level is compared at its own resolution: the photometric gradient of a warp
            # reaches one pixel of the compared image, so a level-k flow sees motions 2^k times
            # larger than it would through a full-resolution comparison.
            f = 2 ** level
            tgt = F.avg_pool2d(target, f) if f > 1 else target
            lv = target.new_zeros(())
            for branch, ref in ((0, batch["prev"]), (1, batch["next"])):
                aligned = self.model.align_reference(line, ref, branch=branch, level=level,
                                                     at_level=True).float()
                lv = lv + (aligned - tgt).abs().mean()
                if self.ssim_weight > 0 and min(tgt.shape[-2:]) >= 11:
                    lv = lv + self.ssim_weight * (1 - ssim(aligned, tgt))
            out[f"l1_level{level}"] = lv / 2
            total = total + lv / 2
        out["loss"] = total / LEVELS
        with torch.no_grad():   # what doing nothing scores: alignment must beat this
            out["l1_unaligned"] = ((batch["prev"].float() - target).abs().mean()
                                   + (batch["next"].float() - target).abs().mean()) / 2
        return out


class AlignStage(Stage):
    """Stage 1: only the offset estimators learn; validation measures alignment PSNR."""

    name = "align"

    def prepare(self, model: nn.Module) -> list[nn.Parameter]:
        """Freeze everything but the offset estimators."""
        model.requires_grad_(False)
        params = list(model.offset_estimator_parameters())
        for p in params:
            p.requires_grad_(True)
        return params

    def objective(self, model: nn.Module, diffusion: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
        """The alignment loss."""
        return AlignObjective(model)

    @torch.no_grad()
    def validate(self, model: nn.Module, diffusion: nn.Module, batch: dict[str, torch.Tensor],
                 cfg: TrainConfig, device: torch.device) -> tuple[dict[str, float], np.ndarray]:
        """PSNR/SSIM of the full-resolution aligned keys vs the target (and of the unaligned keys)."""
        with torch.autocast(device_type=device.type, enabled=False):
            return self._validate(model, {k: v.float() for k, v in batch.items()})

    def _validate(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[dict[str, float], np.ndarray]:
        line, tgt = batch["line"], batch["target"].float()
        ap = model.align_reference(line, batch["prev"], branch=0).float().clamp(-1, 1)
        an = model.align_reference(line, batch["next"], branch=1).float().clamp(-1, 1)
        # PSNR of the mean squared error over the whole batch (both keys): a per-image mean would be
        # ruled by held frames, whose unaligned key is exact (~120 dB).
        def pooled_psnr(a: tuple[torch.Tensor, torch.Tensor], b: torch.Tensor) -> float:
            mse = (torch.cat([a[0], a[1]]).float() - torch.cat([b, b])).pow(2).mean().clamp_min(1e-12)
            return float(10 * torch.log10(4.0 / mse))

        keys = (batch["prev"].float(), batch["next"].float())
        metrics = {
            "val_psnr": pooled_psnr((ap, an), tgt),
            "val_ssim": float((ssim(ap, tgt) + ssim(an, tgt)) / 2),
            "val_psnr_unaligned": pooled_psnr(keys, tgt),
        }
        rows = [[line[i], batch["prev"][i], ap[i], tgt[i], an[i], batch["next"][i]] for i in range(tgt.shape[0])]
        return metrics, make_grid(rows)


def main(argv: list[str]) -> int:
    """`python -m training align DATA --out RUN ...`: stage 1."""
    d = TrainConfig(stage="align", lr=1e-4, batch=10, steps=0)
    ap = argparse.ArgumentParser(prog="python -m training align",
                                 description="Stage 1: train the offset estimators (then freeze them).")
    add_common_args(ap, d)
    ap.add_argument("--epochs", type=float, default=80.0,
                    help="training length in epochs over the training frames (paper: 80); --steps overrides")
    ns = ap.parse_args(argv)
    cfg = config_from_args(ns, "align")
    cfg.joint = False
    if cfg.steps <= 0:
        from training.train import make_datasets, build_model
        _, mcfg, _ = build_model(cfg)
        train_ds, _, _ = make_datasets(cfg, cfg.size or mcfg.image_size)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        per_step = cfg.batch * cfg.accum * world
        cfg.steps = max(1, int(round(ns.epochs * len(train_ds) / per_step)))
    ev = run(cfg, AlignStage())
    finish_distributed()
    if ev.status == "finished" and int(os.environ.get("RANK", "0")) == 0:
        print(f"stage 1 finished at step {ev.step}; start stage 2 with "
              f"--init {Path(cfg.out)} (offset estimators are frozen there)")
    return 0
