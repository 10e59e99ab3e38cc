"""Following a region from one drawing to the next (flow + overlap), and stopping when unsure."""
from __future__ import annotations

import numpy as np

from opdm_studio.imaging.lineart import line_mask_from_drawing
from opdm_studio.imaging.regions import find_regions
from opdm_studio.imaging.tracking import Correspondence, region_point


def drawing(dx: int, split: bool = False) -> np.ndarray:
    """A 160x96 drawing: a frame line, a box that moves by ``dx``, a circle that stays."""
    import cv2
    img = np.full((96, 160), 255, np.uint8)
    cv2.rectangle(img, (2, 2), (157, 93), 0, 2)
    cv2.rectangle(img, (20 + dx, 20), (60 + dx, 70), 0, 2)
    if split:
        cv2.line(img, (20 + dx, 45), (60 + dx, 45), 0, 2)
    cv2.circle(img, (120, 48), 18, 0, 2)
    return img


def labels_of(img: np.ndarray) -> np.ndarray:
    return find_regions(line_mask_from_drawing(img), gap=3).labels


def test_a_moving_region_is_followed_and_a_held_drawing_matches_itself():
    a, b = drawing(0), drawing(6)
    la, lb = labels_of(a), labels_of(b)
    box_a, box_b = la[45, 40], lb[45, 46]
    m = Correspondence.between(la, lb, a, b).match(int(box_a))
    assert m.sure and m.label == box_b and m.score > 0.8
    circle = Correspondence.between(la, lb, a, b).match(int(la[48, 120]))
    assert circle.sure and circle.label == lb[48, 120]
    same = Correspondence.between(la, la.copy(), a, a.copy())
    assert same.identical and same.match(int(box_a)).label == box_a


def test_a_region_that_splits_is_not_carried():
    a, b = drawing(0), drawing(2, split=True)
    la, lb = labels_of(a), labels_of(b)
    m = Correspondence.between(la, lb, a, b).match(int(la[45, 40]))
    assert not m.sure


def test_region_point_is_inside_the_region():
    la = labels_of(drawing(0))
    k = int(la[45, 40])
    x, y = region_point(la, k)
    assert la[y, x] == k and 30 <= x <= 50
    assert region_point(la, 999) is None


def test_follow_finds_the_pieces_of_a_split_region_and_the_whole_again():
    a, b, c = drawing(0), drawing(2, split=True), drawing(4)
    la, lb, lc = labels_of(a), labels_of(b), labels_of(c)
    pieces = Correspondence.between(la, lb, a, b).follow([int(la[45, 40])])
    assert sorted(pieces) == sorted({int(lb[30, 42]), int(lb[60, 42])}) and 0 not in pieces
    whole = Correspondence.between(lb, lc, b, c).follow(pieces)
    assert whole == [int(lc[45, 44])]
    # The circle beside it is its own region: following it finds only itself.
    assert Correspondence.between(la, lb, a, b).follow([int(la[48, 120])]) == [int(lb[48, 120])]
