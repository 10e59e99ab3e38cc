"""SSIM's one definition (Wang et al. 2004): its constants and its formula over the blurred image
moments, written with arithmetic only so numpy arrays and torch tensors both go through it.

Torch-free (like ``core.config``): the evaluation's metric (``evaluation.metrics``: numpy, cv2's
Gaussian blur, scikit-image's figures) and the differentiable loss (``core.losses``: training and
the refine pipeline's adaptation) each blur their own way and share everything else here.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

#: Stabilising constants: C1 = (K1 * data range)^2, C2 = (K2 * data range)^2.
K1, K2 = 0.01, 0.03
#: The Gaussian window: 11 x 11 taps, sigma 1.5 (scikit-image's ``gaussian_weights=True``).
WINDOW = 11
SIGMA = 1.5

T = TypeVar("T")   # a numpy array or a torch tensor


def moments(a: T, b: T, blur: Callable[[T], T]) -> tuple[T, T, T, T, T]:
    """The local means, variances and covariance of two images under ``blur`` (the window)."""
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a  # type: ignore[operator]
    var_b = blur(b * b) - mu_b * mu_b  # type: ignore[operator]
    cov = blur(a * b) - mu_a * mu_b  # type: ignore[operator]
    return mu_a, mu_b, var_a, var_b, cov


def ssim_map(mu_a: T, mu_b: T, var_a: T, var_b: T, cov: T, data_range: float) -> T:
    """Per-pixel SSIM from the local means, variances and covariance of two images."""
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (  # type: ignore[operator]
        (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))  # type: ignore[operator]


def contrast_structure(var_a: T, var_b: T, cov: T, data_range: float) -> T:
    """Per-pixel contrast-structure term of SSIM (MS-SSIM's finer scales)."""
    c2 = (K2 * data_range) ** 2
    return (2 * cov + c2) / (var_a + var_b + c2)  # type: ignore[operator]
