"""Next flagged region zooms on the region and centres it (pytest-qt, offscreen)."""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import colorize_all

BOX = (50, 20)           # inside the box of the 8-frame ball cut (64x64; it does not move)


def test_next_flagged_region_zooms_and_centres_on_it(qtbot, window, cut_dir):
    win = window
    assert win.open_cut(cut_dir)
    colorize_all(qtbot, win)
    win.set_mode("color")
    doc = win.doc
    from opdm_studio.imaging.export import write_png_atomic
    win.resize(900, 700)
    for f in range(1, 7):
        res = doc.project.results[f]
        conf = np.full((64, 64), 255, np.uint8)
        if f == 2:
            lab = doc.fixer.regions.labels(f)
            conf[lab == lab[BOX[1], BOX[0]]] = 0
        write_png_atomic(doc.project.root / res.confidence_path, conf, overwrite=True)
    doc.forget()
    win.go_to(0)
    win.viewer.fit()
    fitted = win.viewer.zoom()
    win.acts.next_flag.trigger()
    assert win.current_frame() == 2 and win.viewer.box_shown()
    assert win.viewer.zoom() > fitted * 1.2
    centre = win.viewer.mapToScene(win.viewer.viewport().rect().center())
    lab = doc.fixer.regions.labels(2)
    ys, xs = np.nonzero(lab == lab[BOX[1], BOX[0]])
    # Centred on the region, even near the picture's edge.
    assert abs(centre.x() - (xs.min() + xs.max()) / 2) < 2 and abs(centre.y() - (ys.min() + ys.max()) / 2) < 2


def test_viewer_zoom_on_a_small_region_of_a_large_picture(qtbot):
    from opdm_studio.app.viewer import Viewer
    v = Viewer()
    qtbot.addWidget(v)
    v.resize(800, 500)
    v.show()
    v.set_image(np.zeros((540, 960, 3), np.uint8))
    fitted = v.zoom()
    v.show_box((600, 300, 606, 304))         # a region of a few pixels
    assert v.box_shown() and v.zoom() == pytest.approx(8.0)
    c = v.mapToScene(v.viewport().rect().center())
    assert abs(c.x() - 603) < 2 and abs(c.y() - 302) < 2
    v.show_box((0, 0, 960, 540))             # a large one: never zoomed out below the fit
    assert v.zoom() == pytest.approx(fitted, rel=0.05)
    v.show_box(None)
    assert not v.box_shown()
