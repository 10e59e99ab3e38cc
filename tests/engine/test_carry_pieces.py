"""Carrying a fill where a crossing line splits the region for a frame: the fill reaches every
piece and the frames beyond; a region that really changes is not reached."""
from __future__ import annotations

import cv2
import numpy as np

from opdm_studio.engine.fixes import Fixer, RegionCache
from opdm_studio.engine.hints import HintSet
from opdm_studio.engine.swatches import SwatchPalette

W, H = 96, 56


def drawing(split: bool = False, two: bool = False, merged: bool = False) -> np.ndarray:
    """Gray line art: a box (``two``: two boxes side by side sharing a wall, ``merged``: the wall
    left out); ``split``: a crossing line through the box, top to bottom."""
    img = np.full((H, W), 255, np.uint8)
    cv2.rectangle(img, (8, 8), (86, 46), 0, 2)
    if two and not merged:
        cv2.line(img, (47, 8), (47, 46), 0, 2)
    if split:
        cv2.line(img, (30, 4), (36, 52), 0, 2)
    return img


def fixer_for(frames: list[np.ndarray]) -> Fixer:
    palette = SwatchPalette()
    palette.sync([(200, 40, 40), (40, 40, 200)])
    keys = [0, len(frames) - 1]
    return Fixer(RegionCache(frames.__getitem__, gap=3), len(frames), lambda: keys, HintSet(), palette)


def test_a_fill_is_carried_to_both_pieces_of_a_split_region_and_beyond():
    plain = drawing()
    fixer = fixer_for([plain, plain.copy(), drawing(split=True), plain.copy(), plain.copy()])
    sw = fixer.palette.live()[0]
    out = fixer.fill(1, 60, 27, sw.id)
    # Frame 2: both pieces of the box (left and right of the crossing line); frame 3 beyond.
    assert sorted(f for f, _, _ in out.fix.carried) == [2, 2, 3]
    assert out.fix.carried_frames() == [2, 3] and out.fix.stops == ("keyframe", "keyframe")
    assert out.describe() == "frame 1, carried to 2-3 (stopped at a keyframe)"
    lab2 = fixer.regions.labels(2)
    pieces = {int(lab2[27, 15]), int(lab2[27, 60])}
    assert len(pieces) == 2 and 0 not in pieces
    assert {k for k, s in fixer.fills(2).items() if s == sw.id} == pieces
    assert int(fixer.regions.labels(3)[27, 60]) in fixer.fills(3)
    # From the far side too, up to the frame's own fix; the fill on frame 1 stays its own.
    back = fixer.fill(3, 60, 27, fixer.palette.live()[1].id)
    assert len(back.fix.carried) == 2 and back.fix.carried_frames() == [2]
    assert back.fix.stops == ("fixed", "keyframe")
    assert fixer.fills(1) == {int(fixer.regions.labels(1)[27, 60]): sw.id}


def test_a_region_that_really_changes_is_not_reached():
    two = drawing(two=True)
    fixer = fixer_for([two, two.copy(), drawing(two=True, merged=True), two.copy(), two.copy()])
    sw = fixer.palette.live()[0]
    out = fixer.fill(1, 25, 27, sw.id)          # the left box
    # Frame 2 has one region where frames 1 and 3 have two: half of it is the other box.
    assert out.fix.carried_frames() == [] and out.fix.stops == ("keyframe", "unsure")
    assert not fixer.fills(2) and not fixer.fills(3)
