"""The shapes a drawing's strokes close, faint pencil included, and mottled ones (imaging.shapes)."""
import numpy as np

from opdm_studio.imaging.lineart import line_mask_from_drawing
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.shapes import (
    KEYS_FLAT_SHARE,
    drawing_shapes,
    flat_share,
    mottled_pixels,
    mottled_shapes,
)

PAL = Palette(np.array([[255, 255, 255], [200, 60, 40], [40, 90, 200]], np.uint8))


def _pencil_box() -> np.ndarray:
    drawing = np.full((64, 96), 255, np.uint8)
    drawing[19:45, 29] = drawing[19:45, 60] = 200       # light pencil: no ink for the line mask
    drawing[19, 29:61] = drawing[44, 29:61] = 200
    return drawing


def _painted(box_rgb: tuple[int, int, int]) -> np.ndarray:
    rgb = np.full((64, 96, 3), 255, np.uint8)
    rgb[20:44, 30:60] = box_rgb
    return rgb


def test_the_faint_strokes_close_a_shape_the_line_mask_does_not_see():
    drawing = _pencil_box()
    assert not line_mask_from_drawing(drawing).any()
    shapes = drawing_shapes(drawing, line_mask_from_drawing(drawing))
    inside, outside = shapes.labels[30, 45], shapes.labels[5, 5]
    assert inside > 0 and outside > 0 and inside != outside


def test_a_shape_in_two_paints_is_mottled_and_one_in_one_paint_is_not():
    drawing = _pencil_box()
    shapes = drawing_shapes(drawing)
    key = _painted((200, 60, 40))
    half = key.copy()
    half[20:44, 45:60] = (40, 90, 200)
    inside = shapes.labels[30, 45]
    assert not mottled_shapes(key, shapes, PAL).any()
    assert mottled_shapes(half, shapes, PAL)[inside]
    pixels = mottled_pixels(half, drawing, PAL)
    assert pixels[30, 35] and pixels[30, 55] and not pixels[5, 5]
    # The paper around (more than a fifth of the frame) is never judged whole.
    around = key.copy()
    around[:, :20] = (40, 90, 200)
    assert not mottled_shapes(around, shapes, PAL)[shapes.labels[5, 5]]


def test_keys_painted_flat_in_their_shapes_and_keys_with_shading():
    shapes = drawing_shapes(_pencil_box())
    assert flat_share(_painted((200, 60, 40)), shapes, PAL) == 1.0
    shaded = _painted((200, 60, 40))
    shaded[20:44, 30:60, 2] = np.linspace(0, 200, 30).astype(np.uint8)[None, :]   # a soft ramp
    assert flat_share(shaded, shapes, PAL) < KEYS_FLAT_SHARE
