"""Hand painting when a fill leaks: brush and enclose-and-fill strokes paint pixels with a swatch,
stack with the fills in the order made, are carried like fills where they cover a region whole,
and are saved with the fixes."""
from __future__ import annotations

import numpy as np
import pytest

from opdm_studio.engine.fixes import Fixer, RegionCache, key_paint_colours
from opdm_studio.engine.hints import HintSet
from opdm_studio.engine.strokes import BRUSH, LASSO, Shape, covered_regions, shape_mask
from opdm_studio.engine.swatches import SwatchPalette
from opdm_studio.errors import ProjectError


def leaky_drawing() -> np.ndarray:
    """A 80x60 frame: a box split by a line that stops 20 px short of the bottom (an open line:
    the left 'forearm' and the right 'vest' are one region)."""
    line = np.full((60, 80), 255, np.uint8)
    line[5, 5:75] = line[55, 5:75] = 0
    line[5:56, 5] = line[5:56, 74] = 0
    line[5:35, 40] = 0
    return line


def leaky_fixer(n: int = 3, keys=(0, 2)) -> Fixer:
    line = leaky_drawing()
    pal = SwatchPalette()
    pal.sync([(200, 30, 30), (240, 200, 170)])     # the vest's red, skin
    return Fixer(RegionCache(lambda i: line, gap=3), n, lambda: list(keys), HintSet(), pal)


def test_a_lasso_paints_only_inside_its_outline_on_a_leaking_region():
    fixer = leaky_fixer()
    lab = fixer.regions.labels(1)
    assert lab[20, 20] == lab[20, 60] > 0          # the leak: one region both sides of the line
    red, skin = fixer.palette.live()[:2]
    fixer.fill(1, 60, 20, red.id, carry=False)     # the fill paints the forearm too
    base = np.zeros((60, 80, 3), np.uint8)
    assert (fixer.fixed(1, base)[20, 20] == red.source).all()
    out = fixer.paint(1, Shape.make(LASSO, [(6, 6), (39, 6), (39, 54), (6, 54)]), skin.id)
    img = fixer.fixed(1, base)
    assert (img[20, 20] == skin.source).all() and (img[50, 30] == skin.source).all()
    assert (img[20, 60] == red.source).all()        # the vest keeps its red
    assert out.fix.shape is not None and out.fix.carried == () and out.frames == [1]
    # An outline drawn loosely past the box's left line does not paint the sliver outside it.
    fixer.paint(1, Shape.make(LASSO, [(0, 6), (39, 6), (39, 54), (0, 54)]), skin.id)
    assert (fixer.fixed(1, base)[20, 2] == 0).all() and (fixer.fixed(1, base)[20, 20] == skin.source).all()
    fixer.remove(max(fixer.hints.fixes))
    # The stroke counts as fixed for the confidence map, its pixels only.
    mask = fixer.fixed_mask(1)
    assert mask[20, 20] and mask[20, 60]           # (the fill covers the region too)
    # Undo = dropping the fix: the fill's red is back.
    fixer.remove(out.fix.id)
    assert (fixer.fixed(1, base)[20, 20] == red.source).all()


def test_strokes_and_fills_stack_in_the_order_they_were_made():
    fixer = leaky_fixer()
    red, skin = fixer.palette.live()[:2]
    base = np.zeros((60, 80, 3), np.uint8)
    fixer.paint(1, Shape.make(BRUSH, [(20, 20), (30, 20)], radius=3), skin.id)
    assert (fixer.fixed(1, base)[20, 25] == skin.source).all()
    assert (fixer.fixed(1, base)[40, 25] == 0).all()       # outside the brush: untouched
    fixer.fill(1, 60, 20, red.id, carry=False)             # a later fill covers the stroke
    assert (fixer.fixed(1, base)[20, 25] == red.source).all()
    # ... and the stroke is kept (a fill replaces only the region's earlier fills).
    assert len(fixer.hints.strokes(1)) == 1
    fixer.paint(1, Shape.make(BRUSH, [(25, 45)], radius=2), skin.id)
    img = fixer.fixed(1, base)
    assert (img[45, 25] == skin.source).all() and (img[20, 25] == red.source).all()


def test_line_ink_is_never_painted_and_a_stroke_on_lines_only_is_refused():
    fixer = leaky_fixer()
    skin = fixer.palette.live()[1]
    line = leaky_drawing()
    shape = Shape.make(BRUSH, [(40, 8), (40, 30)], radius=6)
    fixer.paint(1, shape, skin.id)
    mask = fixer.fixed_mask(1)
    assert not mask[line == 0].any() and mask[20, 37]
    with pytest.raises(ProjectError, match="paints no region"):
        fixer.paint(1, Shape.make(BRUSH, [(-40, -20)], radius=2), skin.id)
    with pytest.raises(ProjectError, match="keyframe"):
        fixer.paint(0, shape, skin.id)


def test_shapes_rasterise_and_find_covered_regions():
    m = shape_mask(Shape.make(LASSO, [(0, 0), (9, 0), (9, 9), (0, 9)]), (20, 20))
    assert m[5, 5] and not m[15, 15]
    assert shape_mask(Shape.make(LASSO, [(0, 0), (5, 5)]), (20, 20)).sum() == 0   # not an outline
    b = shape_mask(Shape.make(BRUSH, [(10, 10)], radius=3), (20, 20))
    assert b[10, 13] and not b[10, 15]
    labels = np.zeros((20, 20), np.int32)
    labels[:, :10], labels[:, 10:] = 1, 2
    assert covered_regions(labels, m) == []
    big = np.zeros((20, 20), bool)
    big[:, :12] = True
    assert covered_regions(labels, big) == [1]


@pytest.fixture(scope="module")
def cut():
    from opdm_studio.synth.cut import generate_cut
    return generate_cut(10, (256, 144), seed=1, holds=False)


def test_a_stroke_covering_a_region_is_carried_like_a_fill_and_saved(cut):
    regions = RegionCache(lambda i: cut.lines[i], gap=3)
    pal = SwatchPalette()
    pal.sync(key_paint_colours((cut.colors[k], cut.lines[k]) for k in (0, 9)))
    fixer = Fixer(regions, len(cut), lambda: [0, 9], HintSet(), pal)
    lab = regions.labels(4)
    areas = np.bincount(lab.ravel())
    areas[0] = 0
    k = int(np.argsort(-areas)[3])
    ys, xs = np.nonzero(lab == k)
    outline = [(xs.min() - 2, ys.min() - 2), (xs.max() + 2, ys.min() - 2),
               (xs.max() + 2, ys.max() + 2), (xs.min() - 2, ys.max() + 2)]
    sw = pal.live()[0]
    out = fixer.paint(4, Shape.make(LASSO, outline), sw.id)
    assert out.fix.carried_frames() == [1, 2, 3, 5, 6, 7, 8]
    for f in out.fix.carried_frames():
        assert sw.id in fixer.fills(f).values()
    names = [f"f{i}" for i in range(len(cut))]
    again = HintSet.from_list(fixer.hints.to_list(names), names.index)
    assert again.fixes[out.fix.id] == out.fix
    base = np.zeros(cut.colors[4].shape, np.uint8)
    assert (fixer.fixed(4, base)[lab == k] == sw.source).all()
    # Without carrying, it stays on its frame.
    out2 = fixer.paint(5, Shape.make(LASSO, outline), sw.id, carry=False)
    assert out2.frames == [5]
