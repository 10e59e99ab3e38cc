"""The unpainted-pixel check (塗り残し) and its hatching, on tiny hand-made frames."""
from __future__ import annotations

import numpy as np
import pytest

from opdm_studio.imaging.unpainted import find_unpainted, hatch, unpainted_mask


def frame():
    """A 20x20 colour layer: red paint, a line across row 10, inside = off the line."""
    color = np.zeros((20, 20, 3), np.uint8)
    color[:] = (200, 40, 40)
    inside = np.ones((20, 20), bool)
    inside[10, :] = False
    color[10, :] = 0          # the line itself is ink: not a hole
    return color, inside


def test_paper_white_and_ink_inside_paint_are_found():
    color, inside = frame()
    color[2:4, 2:4] = 255          # a 2x2 hole of paper white
    color[15, 15] = (10, 10, 10)   # a speck of ink
    found = find_unpainted(color, inside)
    assert found.pixels == 5 and found.spots == 2
    assert found.boxes[0] == (2, 2, 2, 2) and found.boxes[1] == (15, 15, 1, 1)
    assert not found.mask[10].any()  # pixels on the line are never counted
    assert not found.clean


def test_a_white_paint_of_the_model_is_paint_not_paper():
    color, inside = frame()
    color[2:4, 2:4] = (250, 250, 250)   # the eye's white of the colour model
    color[5, 5] = 255                   # paper
    assert unpainted_mask(color, inside).sum() == 5
    mask = unpainted_mask(color, inside, paints=[(250, 250, 250), (200, 40, 40)])
    assert mask.sum() == 1 and mask[5, 5]


def test_a_clean_frame_and_bad_sizes():
    color, inside = frame()
    found = find_unpainted(color, inside)
    assert found.clean and found.pixels == 0 and found.spots == 0 and found.boxes == ()
    with pytest.raises(ValueError):
        unpainted_mask(color, inside[:5])


def test_hatch_marks_every_hole_and_nothing_far_away():
    color, inside = frame()
    color[15, 15] = 255
    mask = unpainted_mask(color, inside)
    out = hatch(color, mask)
    assert out.shape == color.shape and out.dtype == np.uint8
    assert (out[15, 15] != color[15, 15]).any()          # the speck itself is hatched
    assert (out[0, 0] == color[0, 0]).all()              # far from it: untouched
