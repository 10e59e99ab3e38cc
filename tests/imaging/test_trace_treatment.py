"""Colour-trace lines: the treatment learnt from painted keys, and the composite that follows it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from opdm_studio.imaging.export import make_layers
from opdm_studio.imaging.lineart import (
    TraceLines,
    TraceTreatment,
    find_trace_lines,
    learn_trace_treatment,
    line_mask_from_drawing,
    painted_trace_mask,
    rgb_lines_to_gray,
)

RED, BLUE = (230, 30, 40), (40, 80, 235)
LEFT, RIGHT = (200, 160, 120), (90, 140, 200)


def _drawing() -> tuple[np.ndarray, np.ndarray]:
    """12x16 drawing: a black frame line on row 1, a red trace line down column 7 splitting a
    left and a right paint zone, a blue one along row 9 on the right. (RGB drawing, ink mask)."""
    rgb = np.full((12, 16, 3), 255, np.uint8)
    rgb[1, :] = 0
    rgb[2:, 7] = RED
    rgb[9, 8:] = BLUE
    return rgb, line_mask_from_drawing(rgb_lines_to_gray(rgb))


def _paint(line_rgb: np.ndarray, keep: tuple[tuple[int, int, int], ...] = ()) -> np.ndarray:
    """A key's paint: both zones painted, the black line shown; trace lines whose colour is in
    ``keep`` shown in it, the others painted over with the left zone's paint."""
    paint = np.zeros_like(line_rgb)
    paint[:, :7] = LEFT
    paint[:, 7:] = RIGHT
    paint[2:, 7] = LEFT
    paint[9, 8:] = RIGHT
    paint[1, :] = 0
    for colour in keep:
        hit = (line_rgb == colour).all(axis=2)
        paint[hit] = colour
    return paint


def test_the_drawing_has_red_and_blue_trace_lines():
    rgb, mask = _drawing()
    kinds = set(find_trace_lines(rgb, mask).kind[mask].tolist())
    assert {TraceLines.RED, TraceLines.BLUE} <= kinds


def test_a_key_that_paints_over_its_trace_lines_teaches_painted_over():
    rgb, mask = _drawing()
    t = learn_trace_treatment([(_paint(rgb), rgb, mask)])
    assert t == TraceTreatment(red="painted", blue="painted", other="kept")


def test_a_key_that_keeps_the_colour_teaches_kept():
    rgb, mask = _drawing()
    assert learn_trace_treatment([(_paint(rgb, keep=(RED, BLUE)), rgb, mask)]) == TraceTreatment()
    # Each kind on its own: red kept, blue painted over.
    t = learn_trace_treatment([(_paint(rgb, keep=(RED,)), rgb, mask)])
    assert (t.red, t.blue) == ("kept", "painted")


def test_no_key_with_a_kind_keeps_it_as_drawn():
    rgb, mask = _drawing()
    assert learn_trace_treatment([]) == TraceTreatment()
    plain = np.full_like(rgb, 255)
    plain[1, :] = 0
    plain_mask = line_mask_from_drawing(rgb_lines_to_gray(plain))
    assert learn_trace_treatment([(_paint(plain), plain, plain_mask)]) == TraceTreatment()


def test_the_treatment_is_json():
    t = TraceTreatment(red="painted")
    assert TraceTreatment.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    assert TraceTreatment.from_dict({}) == TraceTreatment()
    with pytest.raises(ValueError):
        TraceTreatment(blue="hidden")


def test_painted_over_lines_leave_the_line_layer_and_show_the_paint():
    rgb, mask = _drawing()
    painted = TraceTreatment(red="painted", blue="painted")
    trace = find_trace_lines(rgb, mask).mask
    # An in-between's colour layer (line pixels already filled from their neighbours).
    color = make_layers(_paint(rgb), mask).color
    layers = make_layers(color, mask, rgb, painted)
    assert (layers.lines[trace, 3] == 0).all()
    assert (layers.lines[1, :, 3] == 255).all()                 # the black line stays
    assert np.array_equal(layers.composite[trace], layers.color[trace])
    assert not (layers.composite == RED).all(axis=2).any()
    # Kept: the drawing's colours, as without a treatment.
    kept = make_layers(color, mask, rgb, TraceTreatment())
    assert np.array_equal(kept.composite, make_layers(color, mask, rgb).composite)
    assert (kept.composite[2:, 7] == RED).all()


def test_a_keys_own_paint_stays_on_its_painted_over_lines():
    rgb, mask = _drawing()
    painted = TraceTreatment(red="painted", blue="painted")
    paint = _paint(rgb)
    paint[2:, 7] = RIGHT                       # painted over with the right zone's paint
    layers = make_layers(paint, mask, rgb, painted)
    assert (layers.color[2:, 7] == RIGHT).all()
    assert np.array_equal(layers.composite, paint)   # the layers stack to the key's paint
    # A colour that still shows the line there gets the neighbours' paint instead.
    shows = paint.copy()
    shows[2:, 7] = RED
    assert not (make_layers(shows, mask, rgb, painted).composite == RED).all(axis=2).any()


def test_the_soft_edge_of_a_painted_over_line_goes_with_it():
    rgb, mask = _drawing()
    rgb[2:, 8] = (245, 170, 175)               # anti-aliasing of the red line
    rgb[0, :] = 160                            # anti-aliasing of the black line
    mask = line_mask_from_drawing(rgb_lines_to_gray(rgb))
    assert not mask[2:, 8].any() and not mask[0].any()
    out = painted_trace_mask(rgb, mask, TraceTreatment(red="painted"))
    assert out is not None and out[2:, 8].all() and not out[0].any() and not out[9, 9:].any()
    layers = make_layers(_paint(rgb), mask, rgb, TraceTreatment(red="painted"))
    assert (layers.lines[2:, 8, 3] == 0).all() and (layers.lines[0, :, 3] > 0).all()
    assert painted_trace_mask(rgb, mask, TraceTreatment()) is None
