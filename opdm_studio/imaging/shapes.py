"""The shapes a drawing's own strokes close, faint pencil strokes included, and the ones a guess
leaves in several paints inside a paint region whose lines stay open.

Paint regions are found on the line mask (:func:`~opdm_studio.imaging.lineart.line_mask_from_drawing`:
ink darker than 160). A pencil drawing's light strokes fall outside it: on Anita's drawings
(``lineart/`` + ``color/``) 0.14 % of the pixels count as ink and each frame is one paint region
that the keys show in every paint. The track decision
(:mod:`~opdm_studio.imaging.paint_tracks`) rightly keeps the guess in such a region (its keys
hold several tones), and none of its region rules (a track's paint, a contradicted key, a
mottled region) can judge it.

A colourist still sees the shapes the strokes close, a hair strand, a face, a sleeve, and
expects each to hold one paint, as each does on the keys. So inside a region kept for its
several tones the drawing is cut again along every stroke the adaptive ink finds
(:func:`drawing_shapes`), and a shape the guess paints in several paints
(:func:`mottled_shapes`) is flagged, where the keys paint their own shapes flat
(:func:`flat_share`). numpy / OpenCV only.
"""
from __future__ import annotations

import numpy as np

from opdm_studio.imaging.lineart import binarize_scan
from opdm_studio.imaging.palette import Palette
from opdm_studio.imaging.regions import Regions, find_regions
from opdm_studio.imaging.snapping import region_stats

#: A shape is one paint when at least this share of it agrees with its nearest paint (the
#: frame-alone snapping asks 0.95; the keys' own open shapes score 0.6-0.9, their closed 0.95+).
FLAT_AGREEMENT = 0.9
#: A guessed shape with less of it on one paint than this is mottled: on Anita frame 28 the
#: shapes below it were 68 % wrong by area (the hair strand over the eye half skin, half hair).
MOTTLED_BELOW = 0.6
#: The keys paint their shapes flat when at least this share of the judged shapes' area is flat
#: (Anita's keys 20 and 36: 87.9 % and 99.5 %, key 20's face shared with the hair over it by an
#: open line; keys with soft shading or textures fall well below).
KEYS_FLAT_SHARE = 0.8
#: Shapes smaller than this many pixels are left unjudged (specks between strokes) ...
MIN_SHAPE = 64
#: ... and so are shapes larger than this share of the frame: the background seen through the
#: drawing's open lines, which hatching whole would tell the colourist nothing.
MAX_SHAPE_FRACTION = 0.2


def drawing_shapes(drawing: np.ndarray, line_mask: np.ndarray | None = None, gap: int = 3) -> Regions:
    """The closed shapes of a gray drawing (uint8 (H, W), 255 paper) with every stroke counted:
    the ink an adaptive threshold finds (faint pencil included) together with ``line_mask``."""
    ink = binarize_scan(drawing)
    if line_mask is not None:
        ink |= line_mask
    return find_regions(ink, gap=gap)


def flat_share(rgb: np.ndarray, shapes: Regions, palette: Palette) -> float:
    """Share of the judged shapes' area (see :data:`MIN_SHAPE`, :data:`MAX_SHAPE_FRACTION`) that
    ``rgb`` paints flat: one paint on at least :data:`FLAT_AGREEMENT` of the shape; 1.0 when no
    shape is judged."""
    st = region_stats(rgb, shapes, palette, shapes.line_mask)
    judged = _judged(shapes)
    area = shapes.areas[: shapes.count + 1].astype(np.float64) * judged
    if area.sum() <= 0:
        return 1.0
    return float(area[st.agreement >= FLAT_AGREEMENT].sum() / area.sum())


def mottled_shapes(guess: np.ndarray, shapes: Regions, palette: Palette) -> np.ndarray:
    """bool per shape (indexed by label, 0 = the strokes): the guess paints it in several paints,
    less than :data:`MOTTLED_BELOW` of it on its nearest one (judged shapes only)."""
    st = region_stats(guess, shapes, palette, shapes.line_mask)
    return (st.agreement < MOTTLED_BELOW) & _judged(shapes)


def mottled_pixels(guess: np.ndarray, drawing: np.ndarray, palette: Palette,
                   line_mask: np.ndarray | None = None, gap: int = 3) -> np.ndarray:
    """bool (H, W) at the drawing's size: the pixels of the drawing's shapes the guess paints in
    several paints (:func:`drawing_shapes`, :func:`mottled_shapes`)."""
    shapes = drawing_shapes(drawing, line_mask, gap)
    return mottled_shapes(guess, shapes, palette)[shapes.labels]


def _judged(shapes: Regions) -> np.ndarray:
    n = shapes.count + 1
    area = shapes.areas[:n]
    judged = (area >= MIN_SHAPE) & (area <= MAX_SHAPE_FRACTION * shapes.labels.size)
    judged[0] = False
    return np.asarray(judged, bool)


__all__ = ["drawing_shapes", "flat_share", "mottled_pixels", "mottled_shapes"]
