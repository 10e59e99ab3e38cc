"""While a run colours an interval, its frames show a first picture in the Colour view and the
timeline; when a frame is finished, its result."""
from __future__ import annotations

import numpy as np

from opdm_studio.app.viewer import compose
from opdm_studio.app.worker import Progress

from .test_main_window import drop_folder


def test_the_colour_view_shows_a_frame_being_coloured(qtbot, window, cut_dir):
    drop_folder(window, cut_dir)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=5000)
    doc = window.doc
    window.go_to(3)
    window.set_mode("color")
    _, note, _ = compose(doc, 3, "color")
    assert note == "not coloured yet: showing the line art"
    h, w = doc.line(3).shape
    guess = np.full((h, w, 3), (200, 40, 40), np.uint8)
    window.jobs.kind = "colorize"           # as while the worker colours the cut
    try:
        window._on_progress(Progress(0.3, 1, 8, None, "colouring", [], {3: guess}))
        img, note, _ = compose(doc, 3, "color")
        assert note.startswith("being coloured")
        assert np.array_equal(img, doc.preview(3))
        # Red paint where the drawing has no ink, the drawing's lines on top.
        assert (img.reshape(-1, 3) == (200, 40, 40)).all(axis=1).mean() > 0.5
        assert window.viewer.has_image()
        assert "being coloured" in window.panel.header.text()
        window._on_progress(Progress(0.5, 2, 8, None, "done", [3], {}))
        assert doc.preview(3) is None
    finally:
        window.jobs.kind = None
