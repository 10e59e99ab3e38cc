"""Fixtures of the GUI tests: a small synthetic cut, dialogs that never block, a main window."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

PALETTE = {"bg": (236, 226, 200), "body": (220, 80, 60), "eye": (40, 90, 200), "box": (90, 170, 90)}


def _draw(i: int, n: int, size: int) -> tuple[Image.Image, Image.Image]:
    """Frame i of a ball moving right past a box: (line art, painted colour)."""
    t = i / max(1, n - 1)
    r = size // 6
    cx, cy = int(size * 0.25 + t * size * 0.4), size // 2
    line = Image.new("L", (size, size), 255)
    color = Image.new("RGB", (size, size), PALETTE["bg"])
    for img, ink, fills in ((line, 0, None), (color, (0, 0, 0), PALETTE)):
        d = ImageDraw.Draw(img)
        box = (int(size * 0.65), int(size * 0.2), int(size * 0.9), int(size * 0.45))
        d.rectangle(box, fill=fills["box"] if fills else None, outline=ink, width=2)
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fills["body"] if fills else None, outline=ink, width=2)
        e = max(2, r // 3)
        d.ellipse((cx - e, cy - r // 2 - e, cx + e, cy - r // 2 + e), fill=fills["eye"] if fills else None,
                  outline=ink, width=1)
    return line, color


def write_cut(root: Path, n: int = 8, size: int = 64, keys=(0, None)) -> Path:
    """A cut folder ``root/lineart`` + ``root/color`` (colour files for ``keys``; None = last)."""
    (root / "lineart").mkdir(parents=True)
    (root / "color").mkdir()
    keyset = {n - 1 if k is None else k for k in keys}
    for i in range(n):
        line, color = _draw(i, n, size)
        line.save(root / "lineart" / f"{i + 1:04d}.png")
        if i in keyset:
            color.save(root / "color" / f"{i + 1:04d}.png")
    return root


@pytest.fixture
def cut_dir(tmp_path) -> Path:
    """An 8-frame 64x64 cut with painted frames 1 and 8."""
    return write_cut(tmp_path / "ball_cut")


@pytest.fixture
def painted_frame(tmp_path) -> Path:
    """A colour image of frame 4 (index 3) of the 8-frame cut, outside the cut folder."""
    _, color = _draw(3, 8, 64)
    p = tmp_path / "paint_0004.png"
    color.save(p)
    return p


@pytest.fixture
def dialogs(monkeypatch):
    """Record every message box instead of blocking; question() answers from ``answers``."""
    from PySide6.QtWidgets import QMessageBox
    seen: list[tuple[str, str, str]] = []
    answers: list = []

    def record(kind):
        def f(parent, title, text, *a, **k):
            seen.append((kind, title, text))
            if kind == "question":
                return answers.pop(0) if answers else QMessageBox.StandardButton.No
            return QMessageBox.StandardButton.Ok
        return f
    for kind in ("warning", "critical", "information", "question", "about"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(record(kind)))
    seen_answers = type("Dialogs", (), {"seen": seen, "answers": answers})
    return seen_answers


@pytest.fixture(autouse=True)
def _english_interface(monkeypatch):
    """The tests read English texts: the system's language counts as English whatever the
    machine's locale (tests of the Japanese interface store 日本語 in the settings)."""
    monkeypatch.setattr("opdm_studio.app.i18n.system_language", lambda: "en")


@pytest.fixture
def window(qtbot, dialogs):
    """A main window with no cut open (first-start sample disabled)."""
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    make_app()
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    if win.busy:
        win.cancel()
        win.jobs.wait_idle(30)
    win.undo.setClean()
    win.close()


@pytest.fixture(autouse=True)
def _without_shipped_model(request, monkeypatch, tmp_path_factory):
    """GUI tests run as on an install without resources/models/default.safetensors, so what they
    check does not depend on the shipped weights; mark a test `shipped_model` to keep them."""
    if request.node.get_closest_marker("shipped_model"):
        return
    import opdm_studio.engine.models as models
    absent = tmp_path_factory.mktemp("no_default") / "default.safetensors"
    monkeypatch.setattr(models, "default_model_path", lambda: absent)


def colorize_all(qtbot, win, timeout=60000):
    """Select every frame of the open cut, Colorize, and wait for the run's outcome."""
    win.timeline.select_range(0, win.doc.n_frames - 1)
    win.acts.colorize.trigger()
    assert win.busy
    qtbot.waitUntil(lambda: not win.busy, timeout=timeout)
    return win.jobs.last_outcome


@pytest.fixture
def coloured(qtbot, window, cut_dir):
    """The window with the ball cut open and coloured (flow preview)."""
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    qtbot.waitUntil(window.doc.palette_synced, timeout=10000)   # read on another thread
    window.set_mode("color")
    return window
