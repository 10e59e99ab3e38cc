"""Checks before export in the window: frames left out or out of date listed in the export
dialog, the unpainted-pixel check (塗り残し) and its view, go on or cancel, the range by frame
numbers, the export folder remembered, a folder that cannot be opened said in words."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from opdm_studio.app.export_dialog import ExportDialog, ExportRequest
from opdm_studio.app.viewer import compose

from .conftest import write_cut


def colour(qtbot, win, first: int, last: int):
    win.timeline.select_range(first, last)
    win.acts.colorize.trigger()
    qtbot.waitUntil(lambda: not win.busy, timeout=60000)
    return win.jobs.last_outcome


def open_dialog(qtbot, win) -> ExportDialog:
    win.timeline.select_range(0, 0)
    win.acts.export.trigger()
    dlg = win.export_dlg
    assert dlg is not None and dlg.isVisible()
    dlg.range_all.setChecked(True)
    assert dlg.check_panel.wait()
    return dlg


def punch_hole(win, frame: int) -> np.ndarray:
    """Paper white on a 3x3 patch of frame ``frame``'s stored colour, off the lines (the
    project's own result file, not a drawing)."""
    doc = win.doc
    res = doc.project.results[frame]
    path = doc.project.confined(res.color_path, "a stored result")
    color = np.array(Image.open(path).convert("RGB"))
    free = ~doc.project.cut.line_mask(frame)
    ys, xs = np.nonzero(free[2:-2, 2:-2] & free[1:-3, 1:-3] & free[3:-1, 3:-1])
    y, x = ys[0] + 2, xs[0] + 2
    color[y - 1:y + 2, x - 1:x + 2] = 255
    Image.fromarray(color).save(path)
    doc.forget(frame)
    return color


def test_dialog_lists_frames_left_out_and_asks_before_writing(qtbot, window, cut_dir, tmp_path, dialogs):
    assert window.open_cut(cut_dir)
    colour(qtbot, window, 0, 4)              # frames 6 and 7 (indices 5, 6) stay uncoloured
    dlg = open_dialog(qtbot, window)
    text = dlg.check_panel.label.text()
    assert "Not coloured, left out: frames 6-7 (2)" in text
    dlg.folder_edit.setText(str(tmp_path / "out"))
    dialogs.answers.append(QMessageBox.StandardButton.No)   # "Export anyway?" -> No
    dlg.export_button.click()
    assert dialogs.seen[-1][1] == "Export anyway?" and "frames 6-7" in dialogs.seen[-1][2]
    assert not window.busy and dlg.isVisible() and not (tmp_path / "out").exists()
    dialogs.answers.append(QMessageBox.StandardButton.Yes)  # go on: the coloured frames are written
    dlg.export_button.click()
    qtbot.waitUntil(lambda: not window.busy and not dlg.isVisible(), timeout=30000)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"ball_cut_{n:04d}.png" for n in (1, 2, 3, 4, 5, 8)]


def test_out_of_date_frames_and_unpainted_pixels_are_listed(qtbot, window, cut_dir, dialogs):
    assert window.open_cut(cut_dir)
    colour(qtbot, window, 0, 7)
    punch_hole(window, 3)
    dlg = open_dialog(qtbot, window)
    check = dlg.check_panel.check
    assert 3 in check.unpainted and check.unpainted[3].pixels >= 9
    assert "Unpainted pixels" in dlg.check_panel.label.text() and "4 (" in dlg.check_panel.label.text()
    # "Show in the Unpainted view": the dialog closes on the first such frame, zoomed on the hole.
    assert dlg.check_panel.show_button.isVisibleTo(dlg)
    first = min(check.unpainted)
    dlg.check_panel.show_button.click()
    assert not dlg.isVisible() and window.current_frame() == first and window.mode == "unpainted"
    # Other colouring settings: the in-betweens are out of date, and the dialog says so.
    new = type(window.settings)(**vars(window.settings))
    new.gap = window.settings.gap + 2
    window.apply_settings(new)
    dlg = open_dialog(qtbot, window)
    assert "Out of date, written as they are: frames 2-7 (6)" in dlg.check_panel.label.text()
    dlg.reject()


def test_unpainted_view_hatches_the_hole(qtbot, window, cut_dir):
    assert window.open_cut(cut_dir)
    colour(qtbot, window, 0, 7)
    img, note, _ = compose(window.doc, 0, "unpainted")      # a painted key: nothing left
    assert note == "no unpainted pixels"
    punch_hole(window, 3)
    img, note, _ = compose(window.doc, 3, "unpainted")
    assert "unpainted pixel(s)" in note
    assert (img != window.doc.composite(3)).any()
    window.go_to(3)
    window.set_mode("unpainted")                            # Ctrl+6, in the View menu
    assert window.acts.modes["unpainted"].shortcut().toString() == "Ctrl+6"
    assert "unpainted pixel(s)" in window.status_bar.message.text()


def test_range_counts_frame_numbers_not_positions(qtbot, window, tmp_path, dialogs):
    cut = write_cut(tmp_path / "zero_cut", n=6)
    for sub in ("lineart", "color"):          # files numbered from 0, like the sample cut
        for p in sorted((cut / sub).iterdir()):
            p.rename(p.with_name(f"{int(p.stem) - 1:04d}.png"))
    assert window.open_cut(cut)
    colour(qtbot, window, 0, 5)
    dlg = open_dialog(qtbot, window)
    assert (dlg.first_spin.minimum(), dlg.last_spin.maximum()) == (0, 5)
    dlg.range_custom.setChecked(True)
    dlg.first_spin.setValue(1)
    dlg.last_spin.setValue(3)
    assert dlg.request().frames == [1, 2, 3]     # frames 1-3 are the files 0001-0003
    dlg.folder_edit.setText(str(tmp_path / "out"))
    assert dlg.check_panel.wait()
    if not dlg.check_panel.check.clean:
        dialogs.answers.append(QMessageBox.StandardButton.Yes)
    dlg.export_button.click()
    qtbot.waitUntil(lambda: not window.busy and not dlg.isVisible(), timeout=30000)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "zero_cut_0001.png", "zero_cut_0002.png", "zero_cut_0003.png"]


def test_export_remembers_its_folder_per_cut(qtbot, window, cut_dir, tmp_path, dialogs):
    assert window.open_cut(cut_dir)
    colour(qtbot, window, 0, 7)
    dlg = open_dialog(qtbot, window)
    assert Path(dlg.folder_edit.text()) == window.doc.project.root / "export"
    out = tmp_path / "delivery"
    dlg.folder_edit.setText(str(out))
    if not dlg.check_panel.check.clean:
        dialogs.answers.append(QMessageBox.StandardButton.Yes)
    dlg.export_button.click()
    qtbot.waitUntil(lambda: not window.busy and not dlg.isVisible(), timeout=30000)
    dlg = open_dialog(qtbot, window)
    assert Path(dlg.folder_edit.text()) == out                 # the next export: same folder
    dlg.reject()
    other = write_cut(tmp_path / "other_cut", n=4)
    assert window.open_cut(other)
    dlg = open_dialog(qtbot, window)                           # another cut: its own default
    assert Path(dlg.folder_edit.text()) == window.doc.project.root / "export"
    dlg.reject()


def test_a_folder_that_cannot_be_opened_is_said(qtbot, window, cut_dir, tmp_path, dialogs, monkeypatch):
    from PySide6.QtGui import QDesktopServices
    opened: list = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) and False))
    assert window.open_cut(cut_dir)
    colour(qtbot, window, 0, 7)
    window.open_folder_after_export = True
    window.start_export(ExportRequest(folder=tmp_path / "out", frames=[0, 1], open_folder=True))
    qtbot.waitUntil(lambda: not window.busy, timeout=30000)
    assert opened and opened[0].toLocalFile() == str(tmp_path / "out")
    kind, title, text = dialogs.seen[-1]
    assert kind == "warning" and title == "Folder not opened" and str(tmp_path / "out") in text


def test_the_check_speaks_japanese(qtbot, dialogs, cut_dir):
    """In the Japanese interface the check, its question, the Unpainted view and Colour again
    say it in a colour department's words."""
    from opdm_studio.app import i18n
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    s = AppSettings.load()
    s.language = "ja"
    s.save()
    app = make_app()
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(win)
    win.show()
    try:
        assert win.open_cut(cut_dir)
        colour(qtbot, win, 0, 4)
        dlg = open_dialog(qtbot, win)
        assert dlg.check_panel.title() == "書き出し前チェック"
        assert "未彩色のため書き出さないフレーム: 6-7（2）" in dlg.check_panel.label.text()
        dlg.folder_edit.setText(str(cut_dir.parent / "out"))
        dlg.export_button.click()                      # answered No
        assert dialogs.seen[-1][1] == "このまま書き出しますか？"
        dlg.reject()
        assert win.acts.modes["unpainted"].text() == "塗り残し"
        assert win.recolour.action.text() == "再彩色(&A)"
    finally:
        win.undo.setClean()
        win.close()
        i18n.install(app, "en")
