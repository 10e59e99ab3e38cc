"""Image losses shared by training and the refine pipeline's adaptation to a cut's keys:
differentiable SSIM and the content loss (paper Eq. 8: L1 + 1 - SSIM)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from opdm_studio.core.ssim import SIGMA, WINDOW, moments, ssim_map


def _gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, window: int = WINDOW,
         reduce: bool = True) -> torch.Tensor:
    """Differentiable SSIM (Wang et al. 2004, Gaussian 11x11, sigma 1.5) per channel, averaged.

    ``a``, ``b``: (B, C, H, W); ``data_range`` is 2 for images in [-1, 1]. Returns the mean, or the
    per-image mean (B,) with ``reduce=False``. Computed in float32 even under autocast.
    """
    # autocast would run the blurs in bf16 again; their differences (variances) then cancel to
    # ~0 or below and the ratio blows up (measured: SSIM -> inf at stage-2 step 46 under bf16).
    with torch.autocast(device_type=a.device.type, enabled=False):
        return _ssim(a.float(), b.float(), data_range, window, reduce)


def _ssim(a: torch.Tensor, b: torch.Tensor, data_range: float, window: int, reduce: bool) -> torch.Tensor:
    c = a.shape[1]
    g = _gaussian_window(window).to(a.device)
    win = min(window, a.shape[-1], a.shape[-2])
    if win != window:
        g = _gaussian_window(win).to(a.device)
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    s = ssim_map(*moments(a, b, blur), data_range)
    per_image = s.flatten(1).mean(1)
    return per_image.mean() if reduce else per_image


def _weighted_mean(x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return x.mean()
    w = weight.expand_as(x)
    return (x * w).sum() / w.sum().clamp_min(1e-8)


def content_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 8: L1 + (1 - SSIM). ``weight`` (B,1,H,W) re-weights the L1 term per pixel (refine: occlusions)."""
    l1 = _weighted_mean((pred.float() - target.float()).abs(), weight)
    return l1 + (1.0 - ssim(pred, target))
