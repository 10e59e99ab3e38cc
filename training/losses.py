"""The OPDM training losses (paper section 3.4): noise MSE, content (L1 + 1 - SSIM), VGG19 perceptual.

VGG19 is defined here (torchvision does not load with this torch) with the same layer indices as
``torchvision.models.vgg19().features``, so a torchvision state dict loads into it unchanged. The
weights come from a file the user gives (safetensors, or a torchvision ``.pth`` read with
``torch.load(weights_only=True)``); nothing is downloaded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from opdm_studio.core.losses import content_loss, ssim
from opdm_studio.errors import CheckpointError

__all__ = ["content_loss", "ssim", "psnr", "noise_loss", "perceptual_loss", "load_vgg19", "L2SP",
           "VGG19Features", "PERCEPTUAL_LAYERS"]

# VGG19 "E" configuration: channels per conv, "M" = max-pool.
_VGG19: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"]
# Indices in features of relu1_2, relu2_2, relu3_4, relu4_4, relu5_4: the five layers of Eq. 9.
PERCEPTUAL_LAYERS = (3, 8, 17, 26, 35)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """PSNR in dB per image (B,) for images in [-1, 1] (data_range 2)."""
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(data_range ** 2 / mse)


class VGG19Features(nn.Module):
    """VGG19 convolutional trunk with torchvision's ``features`` indices; returns Eq. 9's layers."""

    mean: torch.Tensor      # buffers (nn.Module's __getattr__ types them loosely)
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features of an image in [-1, 1] at relu1_2, relu2_2, relu3_4, relu4_4, relu5_4."""
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        last = PERCEPTUAL_LAYERS[-1]
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in PERCEPTUAL_LAYERS:
                out.append(x)
            if i >= last:
                break
        return out


def load_vgg19(path: str | Path, device: torch.device | str = "cpu") -> VGG19Features:
    """VGG19 features from a weights file (safetensors or torchvision .pth), frozen, in eval mode.

    Accepts keys as in ``torchvision.models.vgg19().state_dict()`` (``features.N.weight``) or as in
    its ``features`` submodule (``N.weight``); classifier weights are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: VGG19 weights file not found")
    try:
        sd: dict[str, Any]
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            sd = load_file(str(path))
        else:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
            if isinstance(sd, dict) and "state_dict" in sd:
                sd = sd["state_dict"]
    except Exception as exc:  # corrupt file, pickle refused by weights_only, ...
        raise CheckpointError(f"{path}: cannot read VGG19 weights ({exc})") from exc
    feats = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if k.startswith("features."):
            feats[k] = v
        elif k.split(".")[0].isdigit():
            feats["features." + k] = v
    net = VGG19Features()
    try:
        missing, _ = net.load_state_dict(feats, strict=False)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: these are not VGG19 weights ({exc})") from exc
    if missing:
        raise CheckpointError(f"{path}: not VGG19 weights, missing {', '.join(missing[:4])}...")
    net.eval().requires_grad_(False)
    return net.to(device)


def perceptual_loss(vgg: VGG19Features, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 9: sum over five VGG19 layers of the mean squared feature difference."""
    fp = vgg(pred)
    with torch.no_grad():
        ft = vgg(target)
    terms = [F.mse_loss(a.float(), b.float()) for a, b in zip(fp, ft, strict=True)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def noise_loss(x0_pred: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, noise: torch.Tensor,
               alpha_bar: torch.Tensor, snr_clamp: float = 5.0) -> torch.Tensor:
    """Noise MSE for an x0-predicting network: MSE between the implied noise and the true noise.

    eps_hat = (x_t - sqrt(a) x0_hat) / sqrt(1 - a), so ||eps_hat - eps||^2 = SNR * ||x0_hat - x0||^2
    with SNR = a / (1 - a). Near t = 0 the SNR explodes (1e4 at t = 1) and one step would swamp
    training, so the weight is capped at ``snr_clamp`` (min-SNR weighting, Hang et al. 2023);
    ``snr_clamp <= 0`` gives the unclamped MSE.
    """
    a = alpha_bar.float().view(-1, 1, 1, 1)
    if snr_clamp > 0:
        snr = (a / (1 - a)).clamp(max=snr_clamp)
        return (snr * (x0_pred.float() - x0.float()).pow(2)).mean()
    eps_hat = (x_t.float() - a.sqrt() * x0_pred.float()) / (1 - a).sqrt()
    return F.mse_loss(eps_hat, noise.float())


class L2SP:
    """L2-SP (Li, Grandvalet and Davoine, 2018): ``weight / 2 * sum ||w - w_start||^2`` over the
    trained parameters. Fine-tuning on a small cut then moves the weights only as far as the cut's
    gain pays for, instead of drifting from what the start model knew."""

    def __init__(self, params: dict[str, nn.Parameter], start: dict[str, torch.Tensor], weight: float) -> None:
        missing = [k for k in params if k not in start or start[k].shape != params[k].shape]
        if missing:
            raise ValueError(f"start weights lack or mis-shape {len(missing)} tensor(s), e.g. {missing[0]}")
        self.weight = float(weight)
        self.pairs = [(p, start[k].detach().to(p.device, torch.float32).clone()) for k, p in params.items()]

    def __call__(self) -> torch.Tensor:
        """The penalty (a scalar with gradients to the parameters)."""
        total = self.pairs[0][0].new_zeros((), dtype=torch.float32)
        for p, p0 in self.pairs:
            total = total + (p.float() - p0).pow(2).sum()
        return 0.5 * self.weight * total

    def distance(self) -> float:
        """RMS distance of the parameters from the start weights (for the log)."""
        with torch.no_grad():
            sq = sum(float((p.float() - p0).pow(2).sum()) for p, p0 in self.pairs)
            n = sum(p0.numel() for _, p0 in self.pairs)
        return (sq / max(1, n)) ** 0.5
