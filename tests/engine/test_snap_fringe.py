"""FrameColorizer.finish keeps the keys' line anti-aliasing on bare drawings (no line colours)."""
from __future__ import annotations

import numpy as np

from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.project import ColorizeSettings
from tests.imaging.test_fringe import PAINT, make_frame


def test_frame_colorizer_keeps_the_fringe_of_bare_drawings_only():
    key, mask = make_frame(1)
    line = np.where(mask, 0, 255).astype(np.uint8)
    fc = FrameColorizer("flow", settings=ColorizeSettings(method="flow", snap="auto"))
    fc.colorize(line, key, key, line, line)          # selects the key pair
    bare = fc.finish(key, line)                      # no line colours: the keys' fringe is kept
    assert fc.palette is not None and fc.palette.fringe == 1
    assert np.array_equal(bare.composite[11, 20], key[11, 20])
    drawn = fc.finish(key, line, line_rgb=np.stack([line] * 3, axis=2))   # the drawing's own lines
    assert (drawn.composite[11, 20] == PAINT).all()
