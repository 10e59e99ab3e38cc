"""The engine's paint decision per interval (engine.paint)."""
import numpy as np

from opdm_studio.engine.paint import FrameDecision
from opdm_studio.imaging.paint_tracks import ALONE, TrackPaint
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.snapping import region_stats


def test_the_review_view_hatches_the_unsure_part_of_a_region_left_as_guessed():
    mask = np.zeros((40, 40), bool)
    mask[:, 20] = True                                  # two regions: left and right
    reg = find_regions(mask, gap=0)
    left = reg.labels[5, 5]
    guess = np.full((40, 40, 3), 120, np.uint8)
    pal = Palette(np.array([[120, 120, 120]], np.uint8))
    n = reg.count + 1
    paint = np.full(n, -1, np.int32)
    paint[left] = 0                                     # left painted, right kept as guessed
    tp = TrackPaint(paint, np.ones(n, np.float32), np.zeros(n, bool), np.full(n, -1), np.full(n, ALONE, np.uint8))
    warp = np.ones((40, 40), np.float32)
    warp[:20, :] = 0.1                                  # the warp is unsure in the top half
    fd = FrameDecision(tp, region_stats(guess, reg, pal, mask), reg, warp)
    cmap = fd.confidence_map()
    assert (cmap[:20, 25:] < 0.5).all() and (cmap[20:, 25:] == 1.0).all()
    assert (cmap[:, :20] == 1.0).all()                  # a painted region keeps its confidence
    assert np.array_equal(fd.snap(pal, mask).confidence_map, cmap)
