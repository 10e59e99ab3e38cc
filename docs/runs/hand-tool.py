"""Enclose and fill (囲って塗る) in the window (docs/images/hand-tool.png):

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/runs/hand-tool.py OUT.png

The sample cut coloured with the flow preview; on an in-between, enclose and fill has painted
the left half of the largest region inside the picture with a far swatch (as a leak is fixed by
hand: only inside the outline, never the line ink, nor the sliver of the neighbour the loose
outline grazes), and a second outline is being drawn (the dashed line). Prints what the status
bar says."""
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["OPDM_STUDIO_HOME"] = tempfile.mkdtemp(prefix="opdm-hand-tool-")
out = Path(sys.argv[1])

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from opdm_studio.app.launch import make_app  # noqa: E402
from opdm_studio.app.main_window import MainWindow  # noqa: E402
from opdm_studio.engine.project_home import sample_cut_path  # noqa: E402


def settle(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.02)


def mouse(win, kind, x: float, y: float, buttons) -> None:
    vp = win.viewer.viewport()
    p = QPointF(win.viewer.mapFromScene(QPointF(x, y)))
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    QApplication.sendEvent(vp, QMouseEvent(kind, p, vp.mapToGlobal(p), button, buttons,
                                           Qt.KeyboardModifier.NoModifier))


def main() -> None:
    app = make_app()
    for kind in ("warning", "critical", "information"):    # a refusal is printed, never blocks
        setattr(QMessageBox, kind, staticmethod(lambda _parent, title, text, *a, **k: print(title, text)))
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    win.settings.method = "flow"          # quick: the hand tools work on any coloured frame
    win.resize(1400, 860)
    win.show()
    assert win.open_cut(sample_cut_path())
    doc = win.doc
    win.timeline.select_range(0, doc.n_frames - 1)
    win.colorize_selection()
    assert win.jobs.wait_idle(600)
    settle(app, 0.5)
    while not doc.palette_synced():
        settle(app, 0.1)
    keys = doc.keys()
    frame = (keys[0] + keys[1]) // 2 + 1          # an in-between (the hand tools leave keys alone)
    win.go_to(frame)
    win.set_mode("color")
    lab = doc.fixer.regions.labels(frame)
    regions = doc.fixer.regions.regions(frame)
    areas = np.bincount(lab.ravel())
    areas[0] = 0
    areas[regions.touches_edge[:len(areas)]] = 0        # not the sky or the ground
    k = int(np.argmax(areas))
    ys, xs = np.nonzero(lab == k)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    xm = (x0 + x1) / 2
    colour = tuple(int(v) for v in doc.result_color(frame)[ys[0], xs[0]])
    other = max(doc.palette.live(), key=lambda s: sum(abs(a - b) for a, b in zip(s.rgb, colour, strict=True)))
    win.fixes.panel.set_current(other.id)
    win.hand.lasso.trigger()
    pressed = Qt.MouseButton.LeftButton
    outline = [(x0 - 8, y0 - 8), (xm, y0 - 8), (xm, y1 + 8), (x0 - 8, y1 + 8), (x0 - 8, y0 - 6)]
    mouse(win, QEvent.Type.MouseButtonPress, *outline[0], pressed)
    for p in outline[1:]:
        mouse(win, QEvent.Type.MouseMove, *p, pressed)
    mouse(win, QEvent.Type.MouseButtonRelease, *outline[-1], Qt.MouseButton.NoButton)
    said = win.status_bar.message.text()
    win.viewer.zoom_on(QRectF(x0 - 40, y0 - 40, x1 - x0 + 80, y1 - y0 + 80))
    settle(app, 0.3)
    # A second outline being drawn (not released), to show the dashed line.
    second = [(xm + 10, y0 + 4), (x1 - 4, y0 + 4), (x1 - 4, (y0 + y1) / 2)]
    mouse(win, QEvent.Type.MouseButtonPress, *second[0], pressed)
    for p in second[1:]:
        mouse(win, QEvent.Type.MouseMove, *p, pressed)
    settle(app, 1.0)
    image = win.grab().toImage()
    if image.width() > 1200:
        image = image.scaledToWidth(1200, Qt.TransformationMode.SmoothTransformation)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(out), "PNG")
    print(f"frame {doc.frame_label(frame)}, region {k} ({int(areas[k])} px); status: {said}")
    mouse(win, QEvent.Type.MouseButtonRelease, *second[-1], Qt.MouseButton.NoButton)
    win.undo.setClean()
    win.close()


if __name__ == "__main__":
    main()
