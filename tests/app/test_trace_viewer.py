"""The viewer shows the exported composite, byte for byte (one composite function)."""
from __future__ import annotations

import numpy as np

from opdm_studio.app.document import Document
from opdm_studio.app.viewer import compose
from opdm_studio.engine.export import export_results
from opdm_studio.engine.project import Project
from opdm_studio.imaging.cut import read_image

from ..engine.trace_sample import FRAMES, coloured_sample


def test_viewer_pixels_equal_the_exported_composite(tmp_path_factory, tmp_path):
    out = coloured_sample(tmp_path_factory)
    doc = Document(Project.load(out))
    again = tmp_path / "export"
    assert [i for _, _, i in export_results(doc.project, again, frames=list(FRAMES))] == list(FRAMES)
    for i in FRAMES:                       # key 0, its held drawing, a coloured in-between
        shown = doc.composite(i)
        assert shown is not None
        assert np.array_equal(shown, read_image(out / f"cut_{i:04d}.png", mode="rgb")), i
        assert np.array_equal(shown, read_image(again / f"cut_{i:04d}.png", mode="rgb")), i
        assert np.array_equal(compose(doc, i, "color")[0], shown), i
        assert np.array_equal(doc.thumbnail_source(i), shown), i
    assert doc.composite(5) is None        # not coloured
