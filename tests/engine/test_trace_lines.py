"""Colour-trace lines in the finished frames: keys and in-betweens treat them as the keys show,
in every exported layer (issue 23)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from opdm_studio.engine.composite import compose, trace_treatment
from opdm_studio.engine.project import Project
from opdm_studio.imaging.lineart import TraceTreatment, find_trace_lines, line_mask_from_drawing

from .conftest import read_png
from .trace_sample import FRAMES, coloured_sample, copy_sample_cut


def _trace(project: Project, i: int):
    cut = project.cut
    return find_trace_lines(cut.line_rgb(i), line_mask_from_drawing(cut.line(i))), cut.line_rgb(i)


def _shows_line(img: np.ndarray, line_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per trace pixel: the image shows the drawing's red / blue there (bright, near it)."""
    return np.abs(img[mask].astype(int) - line_rgb[mask].astype(int)).max(axis=1) <= 40


def test_keys_and_inbetweens_treat_trace_lines_alike(tmp_path_factory):
    out = coloured_sample(tmp_path_factory)
    project = Project.load(out)
    # The sample's keys paint their red and blue lines over with the neighbouring paint.
    assert trace_treatment(project) == TraceTreatment(red="painted", blue="painted")
    key0 = read_png(out / "cut_0000.png")
    for i in FRAMES:
        trace, line_rgb = _trace(project, i)
        assert trace.mask.sum() > 500                    # red and blue lines in every drawing
        composite = read_png(out / f"cut_{i:04d}.png")
        lines = read_png(out / f"cut_{i:04d}_lines.png")
        color = read_png(out / f"cut_{i:04d}_color.png")
        assert not _shows_line(composite, line_rgb, trace.mask).any(), i
        assert not _shows_line(color, line_rgb, trace.mask).any(), i
        assert (lines[trace.mask, 3] == 0).all(), i      # not in the line layer
        assert np.array_equal(composite[trace.mask], color[trace.mask])
        black = line_mask_from_drawing(project.cut.line(i)) & ~trace.mask
        assert (lines[black, 3] == 255).all()            # the black lines stay
    # Frame 1 is key 0's drawing: at the trace lines it shows what key 0 shows.
    trace, _ = _trace(project, 1)
    assert np.array_equal(read_png(out / "cut_0001.png")[trace.mask], key0[trace.mask])
    # The key itself is still its own paint, byte for byte.
    assert np.array_equal(key0, project.key_color(0))


def test_the_treatment_follows_the_keys(tmp_path):
    cut = copy_sample_cut(tmp_path / "cut")
    project = Project.create(cut, tmp_path / "out", keys=[0])
    assert trace_treatment(project).red == "painted"
    # Key 0 repainted keeping its trace lines in their colour: the treatment is learnt again.
    trace, line_rgb = _trace(project, 0)
    paint = project.key_color(0).copy()
    paint[trace.mask] = line_rgb[trace.mask]
    Image.fromarray(paint).save(tmp_path / "kept.png")
    project.set_keyframe(0, color_path=tmp_path / "kept.png")
    assert trace_treatment(project) == TraceTreatment()
    shown = compose(project, 2, compose(project, 0, paint).color).composite
    trace2, line2 = _trace(project, 2)
    assert _shows_line(shown, line2, trace2.mask).all()
