"""Line art from colour frames (high-pass extraction) and binarisation of scanned drawings.

Conventions: colour images are ``uint8`` RGB ``(H, W, 3)``; line *darkness* maps are ``float32``
``(H, W)`` in [0, 1] where 1 is full ink; line *masks* are ``bool`` ``(H, W)``, True on ink.
"""
from __future__ import annotations

import cv2
import numpy as np

PROTOCOL_SIGMA = 3.0
PROTOCOL_PERCENTILE = 99.9
PROTOCOL_THRESHOLD = 0.25


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB uint8 image as float32 in [0, 255]."""
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def extract_lines(rgb: np.ndarray, sigma: float = PROTOCOL_SIGMA,
                  percentile: float = PROTOCOL_PERCENTILE) -> np.ndarray:
    """Line darkness of a colour frame by the classic high-pass (the evaluation protocol's).

    gray = luminance; high-pass = gray - GaussianBlur(gray, sigma); the dark residue (negative
    part) is normalised by its ``percentile``-th percentile and clipped to [0, 1].
    """
    gray = luminance(rgb)
    blur = cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, sigmaY=sigma)
    dark = np.maximum(blur - gray, 0.0)
    scale = float(np.percentile(dark, percentile)) if dark.size else 0.0
    if scale <= 1e-6:
        return np.zeros(gray.shape, np.float32)
    return np.clip(dark / scale, 0.0, 1.0).astype(np.float32)


def line_mask_from_darkness(darkness: np.ndarray, threshold: float = PROTOCOL_THRESHOLD) -> np.ndarray:
    """Binary ink mask of a darkness map (protocol threshold 0.25)."""
    return darkness > threshold


def darkness_to_lineart(darkness: np.ndarray) -> np.ndarray:
    """Render a darkness map as a line drawing: uint8 gray, 255 paper, 0 full ink."""
    return np.clip(255.0 * (1.0 - darkness), 0, 255).astype(np.uint8)
