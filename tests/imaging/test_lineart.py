"""Line art: protocol extraction unchanged, scan binarisation, coloured trace lines."""
from __future__ import annotations

import cv2
import numpy as np

from opdm_studio.imaging.lineart import (
    TraceLines,
    binarize_scan,
    extract_lines,
    find_trace_lines,
    line_mask_from_darkness,
    luminance,
    rgb_lines_to_gray,
)


def test_extract_lines_protocol_behaviour():
    rgb = np.full((64, 64, 3), 230, np.uint8)
    rgb[:, 30:32] = 0
    dark = extract_lines(rgb)
    assert dark.dtype == np.float32 and dark.max() == 1.0
    mask = line_mask_from_darkness(dark)
    assert mask[:, 30:32].all() and not mask[:, :25].any()
    assert not extract_lines(np.full((16, 16, 3), 128, np.uint8)).any()


def test_binarize_scan_uneven_paper_and_dust():
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    paper = (235 - 110 * xx / w - 20 * yy / h).astype(np.float32)  # shading across the sheet
    truth = np.zeros((h, w), bool)
    cv2.circle(truth.view(np.uint8), (80, 60), 40, 1, 2)
    cv2.line(truth.view(np.uint8), (10, 100), (150, 20), 1, 1)
    pencil = paper.copy()
    pencil[truth] = paper[truth] - 90                              # graphite is darker than paper
    rng = np.random.default_rng(0)
    pencil += rng.normal(0, 3, pencil.shape)
    dust = rng.integers(0, h * w, 12)
    pencil.ravel()[dust] = 40                                       # single dark dust pixels
    scan = np.clip(pencil, 0, 255).astype(np.uint8)
    ink = binarize_scan(scan)
    assert ink.dtype == bool
    recall = (ink & truth).sum() / truth.sum()
    near = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    false_pos = (ink & ~near).sum()
    assert recall > 0.95 and false_pos < 0.002 * h * w
    # The darker right side of the sheet (paper below 150) is not taken for ink, as a global
    # threshold would take it.
    assert not (ink & ~near)[:, -20:].any()
    assert (scan[:, -20:][~near[:, -20:]] < 160).mean() > 0.9
    # Colour scans work the same.
    assert (binarize_scan(np.repeat(scan[..., None], 3, axis=2)) == ink).mean() > 0.999


def test_trace_lines_are_ink_with_their_colour():
    rgb = np.full((30, 40, 3), 255, np.uint8)
    rgb[5, :] = (0, 0, 0)
    rgb[10, :] = (230, 30, 40)
    rgb[15, :] = (40, 80, 235)
    rgb[20, :] = (40, 200, 60)
    rgb[25, :] = (150, 150, 150)   # gray pencil: ink by darkness, not a trace line
    gray = rgb_lines_to_gray(rgb)
    assert (gray[[5, 10, 15, 20], :] < 128).all() and (gray[0] == 255).all()
    tl = find_trace_lines(rgb, gray < 200)
    assert (tl.kind[10] == TraceLines.RED).all() and (tl.kind[15] == TraceLines.BLUE).all()
    assert (tl.kind[20] == TraceLines.OTHER).all()
    assert not tl.mask[5].any() and not tl.mask[25].any()


def test_luma_and_line_darkness_follow_their_formulas_on_any_layout():
    """The plane-by-plane versions give exactly the formulas' float32 results, also for a view
    that is not contiguous and for an image with alpha."""
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (33, 47, 4), dtype=np.uint8)
    for rgb in (img[..., :3], img[:, ::-1, :3], np.ascontiguousarray(img[..., :3])):
        f = rgb.astype(np.float32)
        luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
        assert np.array_equal(luminance(rgb), luma)
        chroma = (rgb.astype(np.int16).max(axis=2) - rgb.astype(np.int16).min(axis=2)).astype(np.float32)
        gray = np.clip(255.0 - np.maximum(255.0 - luma, chroma) + 0.5, 0, 255).astype(np.uint8)
        assert np.array_equal(rgb_lines_to_gray(rgb), gray)
    assert np.array_equal(luminance(img), luminance(img[..., :3]))
