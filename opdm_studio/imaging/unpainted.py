"""The unpainted-pixel check (塗り残し): pixels of a frame's colour layer left in paper white or
line ink where paint belongs, as a paint-checking desk (RETAS PaintMan's 塗り残しチェック) shows
them, and the hatching that marks them in the viewer.

Where paint belongs: everywhere off the drawing's lines (``inside``: the regions' pixels). A
pixel counts as unpainted when its colour is paper white or line ink *and* is no paint of the
colour model: a white paint a colour designer chose (an eye's white) is paint, the paper is not.
numpy / OpenCV only.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

PAPER_MIN = 245     # every channel at least this: paper white
INK_MAX = 32        # every channel at most this: line ink
PAINT_TOLERANCE = 2  # a pixel this close (per channel) to a paint of the model is that paint
HATCH_TINT = (0, 200, 255)   # cyan: apart from the Review view's magenta


@dataclass(frozen=True)
class Unpainted:
    """What the check found on one frame."""

    mask: np.ndarray                       # bool (H, W): the unpainted pixels
    pixels: int                            # how many
    spots: int                             # connected groups of them (8-connected)
    boxes: tuple[tuple[int, int, int, int], ...]   # (x, y, w, h) of each spot, largest first

    @property
    def clean(self) -> bool:
        """True when no pixel is left unpainted."""
        return self.pixels == 0


def unpainted_mask(color: np.ndarray, inside: np.ndarray, paints: Iterable[tuple[int, int, int]] = (),
                   paper_min: int = PAPER_MIN, ink_max: int = INK_MAX) -> np.ndarray:
    """bool (H, W): pixels of ``color`` (uint8 RGB) inside ``inside`` (bool, where paint belongs)
    in paper white or ink that no paint of ``paints`` explains."""
    if color.shape[:2] != inside.shape:
        raise ValueError(f"colour {color.shape[:2]} and mask {inside.shape} differ in size")
    lo, hi = color.min(axis=2), color.max(axis=2)
    suspect = inside & ((lo >= paper_min) | (hi <= ink_max))
    if not suspect.any():
        return suspect
    px = color[suspect].astype(np.int16)
    keep = np.ones(len(px), bool)
    for rgb in paints:
        paint = np.asarray(rgb, np.int16)
        if paint.min() < paper_min and paint.max() > ink_max:
            continue            # a mid-tone paint cannot explain a white or ink pixel
        keep &= np.abs(px - paint).max(axis=1) > PAINT_TOLERANCE
    out = np.zeros_like(suspect)
    out[suspect] = keep
    return out


def find_unpainted(color: np.ndarray, inside: np.ndarray,
                   paints: Iterable[tuple[int, int, int]] = ()) -> Unpainted:
    """The check on one frame: the unpainted pixels, how many, and their spots."""
    mask = unpainted_mask(color, inside, paints)
    pixels = int(mask.sum())
    if not pixels:
        return Unpainted(mask, 0, 0, ())
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = sorted(range(1, n), key=lambda k: -int(stats[k, cv2.CC_STAT_AREA]))
    boxes = tuple((int(stats[k, 0]), int(stats[k, 1]), int(stats[k, 2]), int(stats[k, 3])) for k in order)
    return Unpainted(mask, pixels, n - 1, boxes)


def hatch(image: np.ndarray, mask: np.ndarray, tint: tuple[int, int, int] = HATCH_TINT,
          period: int = 6) -> np.ndarray:
    """``image`` (uint8 RGB) with ``mask`` hatched in ``tint``: diagonal stripes strongly tinted,
    the gaps lightly (the Review view's hatching, readable on any paint). A single pixel is
    hatched whole, so a speck never falls between two stripes."""
    out = image.astype(np.float32)
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) // period) % 2 == 0
    # Specks grown a little: a 1-px hole must be seen at fit-to-window zoom.
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    strong = (grown & stripes) | mask
    light = grown & ~strong
    t = np.asarray(tint, np.float32)
    out[strong] = 0.3 * out[strong] + 0.7 * t
    out[light] = 0.7 * out[light] + 0.3 * t
    return out.astype(np.uint8)
