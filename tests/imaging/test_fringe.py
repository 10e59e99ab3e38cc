"""The lines' anti-aliasing just outside the ink mask (line_fringe, snap_to_palette's fringe):
kept from the guess where the keys show one, snapped flat where they do not."""
from __future__ import annotations

import numpy as np

from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.snapping import line_fringe, snap_to_palette

PAINT = (200, 120, 60)
PAPER = (235, 235, 235)


def make_frame(ring: int, shade: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """A 64x64 frame: a box of PAINT outlined in ink on PAPER; ``ring`` px of the paint next to
    the ink darkened by ``shade`` (the soft edge of a stroke that the ink mask leaves out)."""
    mask = np.zeros((64, 64), bool)
    mask[10, 10:54] = mask[53, 10:54] = True
    mask[10:54, 10] = mask[10:54, 53] = True
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:] = PAPER
    rgb[11:53, 11:53] = PAINT
    rgb[mask] = (20, 20, 20)
    for d in range(1, ring + 1):
        edge = np.zeros_like(mask)
        edge[10 + d, 10 + d:54 - d] = edge[53 - d, 10 + d:54 - d] = True
        edge[10 + d:54 - d, 10 + d] = edge[10 + d:54 - d, 53 - d] = True
        rgb[edge] = np.clip(np.array(PAINT) - shade // d, 0, 255)
    return rgb, mask


PALETTE = Palette(np.array([PAINT, PAPER], np.uint8))


def test_line_fringe_measures_the_keys_soft_edges():
    assert line_fringe([make_frame(0)], PALETTE) == 0      # the mask covers the line: paint next to it
    assert line_fringe([make_frame(1)], PALETTE) == 1
    assert line_fringe([make_frame(2)], PALETTE) == 2
    assert line_fringe([make_frame(2), make_frame(0)], PALETTE) == 2    # half the ring is fringe
    assert line_fringe([make_frame(2)], Palette(np.zeros((0, 3), np.uint8))) == 0


def test_snapping_keeps_the_guess_on_the_fringe_only_when_asked():
    guess, mask = make_frame(1)
    regions = find_regions(mask)
    inside = regions.labels[30, 30]
    flat = snap_to_palette(guess, regions, PALETTE, mode="auto", line_mask=mask)
    assert flat.snapped[inside]
    assert (flat.image[11, 20] == PAINT).all()                  # the old behaviour: painted flat
    kept = snap_to_palette(guess, regions, PALETTE, mode="auto", line_mask=mask, fringe=1)
    assert kept.snapped[inside]
    assert np.array_equal(kept.image[11, 20], guess[11, 20])    # the soft edge stays
    assert (kept.image[30, 30] == PAINT).all()                  # the rest of the region is flat
    assert (kept.color_only[11, 20] == PAINT).all()             # the colour layer stays flat
    # A guess lighter than the paint next to the ink is not line anti-aliasing: snapped.
    light = guess.copy()
    light[11, 12:52] = (230, 160, 100)
    res = snap_to_palette(light, regions, PALETTE, mode="auto", line_mask=mask, fringe=1)
    assert (res.image[11, 20] == PAINT).all()

