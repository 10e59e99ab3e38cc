"""Fixes: a fill on one region, carried through the keyframe interval, applied to the results;
the palette's colours on top; regions flagged for review."""
from __future__ import annotations

import numpy as np
import pytest

from opdm_studio.engine.fixes import Fixer, RegionCache, key_paint_colours
from opdm_studio.engine.hints import HintSet
from opdm_studio.engine.review import next_flagged, review_places
from opdm_studio.engine.swatches import SwatchPalette
from opdm_studio.errors import ProjectError


@pytest.fixture(scope="module")
def cut():
    from opdm_studio.synth.cut import generate_cut
    return generate_cut(10, (256, 144), seed=1, holds=False)


def make_fixer(cut, keys=(0, 9)):
    keys = list(keys)
    regions = RegionCache(lambda i: cut.lines[i], gap=3)
    palette = SwatchPalette()
    palette.sync(key_paint_colours((cut.colors[k], cut.lines[k]) for k in (0, 9)))
    return Fixer(regions, len(cut), lambda: keys, HintSet(), palette), keys


def biggest_region(fixer, frame):
    lab = fixer.regions.labels(frame)
    areas = np.bincount(lab.ravel())
    areas[0] = 0
    # not the background touching the edges: a character part or a house wall
    k = int(np.argsort(-areas)[3])
    ys, xs = np.nonzero(lab == k)
    return k, int(xs[len(xs) // 2]), int(ys[len(ys) // 2])


def test_a_fill_is_carried_through_its_interval_and_applied(cut):
    fixer, keys = make_fixer(cut)
    k, x, y = biggest_region(fixer, 4)
    sw = fixer.palette.live()[0]
    out = fixer.fill(4, x, y, sw.id)
    carried = out.fix.carried_frames()
    assert carried and all(1 <= f <= 8 for f in carried) and 4 not in carried
    assert set(out.frames) == {4, *carried}
    assert all(s in ("keyframe", "unsure", "fixed", "end") for s in out.fix.stops)
    assert "frame 4" in out.describe()
    base = np.zeros(cut.colors[4].shape, np.uint8)
    fixed = fixer.fixed(4, base)
    lab = fixer.regions.labels(4)
    assert (fixed[lab == k] == sw.source).all() and (fixed[(lab != k) & (lab > 0)] == 0).all()
    for f in carried:
        assert fixer.fills(f) and sw.id in fixer.fills(f).values()
    # The swatch's new colour shows wherever it was painted, in every frame it reached.
    fixer.palette.recolour(sw.id, (1, 2, 3))
    shown = fixer.shown(carried[0], base)
    assert (shown == (1, 2, 3)).all(axis=2).any()
    # A keyframe marked inside the interval cuts the carried hints beyond it (they belong to
    # another interval now); the ones before it stay.
    assert carried == [1, 2, 3, 5, 6, 7, 8] and out.fix.stops == ("keyframe", "keyframe")
    keys.append(6)
    assert all(fixer.fills(f) for f in (1, 2, 3, 5)) and not fixer.fills(7) and not fixer.fills(8)


def test_fill_replaces_the_frames_own_fix_and_refuses_keys_and_lines(cut):
    fixer, _ = make_fixer(cut)
    k, x, y = biggest_region(fixer, 5)
    a, b = fixer.palette.live()[:2]
    first = fixer.fill(5, x, y, a.id, carry=False)
    second = fixer.fill(5, x, y, b.id, carry=False)
    assert second.replaced == [first.fix] and len(fixer.hints) == 1
    assert fixer.fills(5) == {k: b.id}
    with pytest.raises(ProjectError, match="keyframe"):
        fixer.fill(0, x, y, a.id)
    ly, lx = np.argwhere(fixer.regions.labels(5) == 0)[0]
    with pytest.raises(ProjectError, match="line"):
        fixer.fill(5, int(lx), int(ly), a.id)


def test_hints_survive_the_project_file(cut):
    fixer, _ = make_fixer(cut)
    _, x, y = biggest_region(fixer, 3)
    fixer.fill(3, x, y, fixer.palette.live()[1].id)
    names = [f"{i:04d}.png" for i in range(len(cut))]
    again = HintSet.from_list(fixer.hints.to_list(names), names.index)
    assert again.fixes == fixer.hints.fixes and again.next_id == fixer.hints.next_id


def test_flagged_regions_and_next_flagged(cut):
    fixer, _ = make_fixer(cut)
    conf = {f: np.ones(cut.lines[f].shape, np.float32) for f in range(1, 9)}
    k, x, y = biggest_region(fixer, 6)
    conf[6][fixer.regions.labels(6) == k] = 0.2
    flagged = fixer.flagged(6, conf[6])
    assert [r.label for r in flagged] == [k]
    assert fixer.regions.labels(6)[flagged[0].y, flagged[0].x] == k
    hit = next_flagged(fixer, 1, None, range(1, 9), conf.get)
    assert hit is not None and (hit.frame, hit.label) == (6, k)
    again = next_flagged(fixer, 6, k, range(1, 9), conf.get)     # wraps round to itself
    assert again is not None and again.frame == 6
    fixer.fill(6, x, y, fixer.palette.live()[0].id, carry=False)  # a fix settles it
    assert fixer.flagged(6, conf[6]) == [] and next_flagged(fixer, 1, None, range(1, 9), conf.get) is None


def test_frame_layers_apply_fixes_and_palette(cut):
    from opdm_studio.engine.fixes import frame_layers
    fixer, _ = make_fixer(cut)
    k, x, y = biggest_region(fixer, 4)
    base, comp = cut.colors[4].copy(), cut.colors[4].copy()
    assert frame_layers(fixer, 4, base, comp) == (base, comp)        # nothing to apply
    sw = fixer.palette.live()[2]
    fixer.fill(4, x, y, sw.id, carry=False)
    color, composite = frame_layers(fixer, 4, base, comp)
    assert composite is None and (color[fixer.regions.labels(4) == k] == sw.source).all()
    # A keyframe keeps its paint (no hints), but shows the palette's new colours.
    key_rgb = tuple(int(v) for v in cut.colors[0][fixer.regions.labels(0) > 0][0])
    ksw = fixer.palette.by_source(key_rgb)
    fixer.palette.recolour(ksw.id, (1, 1, 1))
    kc, kcomp = frame_layers(fixer, 0, cut.colors[0], cut.colors[0], key=True)
    assert (kc == (1, 1, 1)).all(axis=2).any() and (kcomp == (1, 1, 1)).all(axis=2).any()
    assert (kcomp[cut.lines[0] < 128] == cut.colors[0][cut.lines[0] < 128]).all()   # lines kept


def test_fill_honours_gap_closing():
    import cv2
    line = np.full((80, 120), 255, np.uint8)
    cv2.rectangle(line, (30, 20), (90, 60), 0, 2)
    line[38:42, 26:35] = 255                     # a 4 px gap in the box's left side
    pal = SwatchPalette()
    sw = pal.add((0, 0, 255), "Blue")
    base = np.full((80, 120, 3), 200, np.uint8)
    for gap, leaks in ((5, False), (0, True)):
        fixer = Fixer(RegionCache(lambda i: line, gap=gap), 3, lambda: [0, 2], HintSet(), pal)
        fixer.fill(1, 60, 40, sw.id, carry=False)
        out = fixer.fixed(1, base)
        assert (out[40, 60] == (0, 0, 255)).all()
        assert bool((out[5, 5] == (0, 0, 255)).all()) is leaks   # outside the box


def test_a_hatched_place_inside_a_region_not_flagged_is_a_stop_of_the_review(cut):
    """Faint lines can leave one big region hatched only in places: "Next flagged region" stops at
    each place big enough to see (``part``), after the flagged regions, and round again."""
    fixer, _ = make_fixer(cut)
    conf = {f: np.ones(cut.lines[f].shape, np.float32) for f in range(1, 9)}
    k, x, y = biggest_region(fixer, 4)
    lab = fixer.regions.labels(4)
    ys, xs = np.nonzero(lab == k)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    place = np.zeros(lab.shape, bool)
    place[cy - 4:cy + 4, cx - 4:cx + 4] = True
    place &= lab == k
    assert 0 < place.sum() < 0.5 * (lab == k).sum()          # the region itself is not flagged
    conf[4][place] = 0.1
    assert fixer.flagged(4, conf[4]) == []
    stops = review_places(fixer, 4, conf[4])
    assert len(stops) == 1 and stops[0].part and stops[0].label < 0
    assert place[stops[0].y, stops[0].x] and stops[0].area == int(place.sum())
    hit = next_flagged(fixer, 1, None, range(1, 9), conf.get)
    assert hit is not None and (hit.frame, hit.label, hit.part) == (4, stops[0].label, True)
    again = next_flagged(fixer, 4, hit.label, range(1, 9), conf.get)   # round to itself
    assert again is not None and again.label == hit.label
    small = np.ones(lab.shape, np.float32)
    small[cy, cx] = 0.1                                            # a speck is not a stop
    assert review_places(fixer, 4, small) == []
    from opdm_studio.engine.strokes import Shape
    brush = Shape("brush", ((cx - 6, cy), (cx + 6, cy)), radius=8)   # painted over: settled
    fixer.paint(4, brush, fixer.palette.live()[0].id, carry=False)
    assert review_places(fixer, 4, conf[4]) == []
    fixer.remove(max(fixer.hints.fixes))
    assert len(review_places(fixer, 4, conf[4])) == 1
    fixer.fill(4, x, y, fixer.palette.live()[0].id, carry=False)   # a fill settles the region
    assert review_places(fixer, 4, conf[4]) == []


def test_regions_to_review_count_those_with_a_hatched_place():
    """The timeline's triangle and the status bar count the regions flagged as a whole and those
    hatched in a place big enough to stop at."""
    from opdm_studio.engine.review import PLACE_MIN, to_review
    labels = np.zeros((40, 60), np.int32)
    labels[:, :20], labels[:, 20:40], labels[:, 40:] = 1, 2, 3
    flagged = np.array([False, False, True, False])     # region 2 flagged as a whole
    conf = np.ones(labels.shape, np.float32)
    assert to_review(labels, flagged, conf) == 1
    conf[:10, 22:22 + PLACE_MIN // 10 + 1] = 0.0            # a place in region 2 (flagged anyway)
    conf[20:30, 42:42 + PLACE_MIN // 10 + 1] = 0.0          # and one in region 3
    conf[0, 0] = 0.0                                        # a speck in region 1
    assert to_review(labels, flagged, conf) == 2
