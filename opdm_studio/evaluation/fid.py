"""Fréchet Inception Distance from a user-given Inception feature extractor (never downloaded).

The weights file must be a TorchScript Inception network: the standard one is NVIDIA's
``inception-2015-12-05.pt`` (StyleGAN2-ADA / clean-fid), called as ``net(uint8 NCHW 299x299,
return_features=True)`` -> (N, 2048). A TorchScript module taking a float (N, 3, 299, 299) batch in
[0, 1] and returning (N, D) features is accepted too. Without a file the metric is skipped.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from opdm_studio.errors import CheckpointError


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between two Gaussians (the FID formula)."""
    from scipy import linalg

    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        # Singular product (few samples): regularise as pytorch-fid does.
        eps = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + eps).dot(sigma2 + eps))
    covmean = np.real(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a (N, D) feature matrix."""
    feats = np.asarray(feats, np.float64)
    return feats.mean(0), np.cov(feats, rowvar=False)


class InceptionFeatures:
    """Inception features of uint8 RGB images from a TorchScript file the user points to."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        import torch

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"FID weights file not found: {path}")
        try:
            self.net = torch.jit.load(str(path), map_location=device).eval()
        except Exception as exc:  # noqa: BLE001 - any load failure is a bad file for the user
            raise CheckpointError(f"{path} is not a TorchScript Inception network ({exc})") from exc
        self.device = device

    def __call__(self, images: Sequence[np.ndarray], batch: int = 16) -> np.ndarray:
        """(N, D) float64 features of uint8 RGB images (resized to 299x299 bilinear)."""
        import torch

        out = []
        for i in range(0, len(images), batch):
            arr = np.stack([cv2.resize(im, (299, 299), interpolation=cv2.INTER_LINEAR)
                            for im in images[i:i + batch]])
            x = torch.from_numpy(arr).permute(0, 3, 1, 2).to(self.device)
            with torch.no_grad():
                try:
                    f = self.net(x, return_features=True)          # NVIDIA's uint8 interface
                except Exception:  # noqa: BLE001 - fall back to the plain float interface
                    f = self.net(x.float() / 255.0)
            out.append(f.reshape(f.shape[0], -1).double().cpu().numpy())
        return np.concatenate(out)


def fid(real: Sequence[np.ndarray], fake: Sequence[np.ndarray], features: InceptionFeatures) -> float:
    """FID between two sets of uint8 RGB images."""
    if len(real) < 2 or len(fake) < 2:
        return float("nan")
    return frechet_distance(*feature_stats(features(real)), *feature_stats(features(fake)))
