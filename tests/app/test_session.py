"""Between sessions and beside the file manager: the last cut reopened at start, folder drops
taken as a copy or a link (never a move); colour again on purpose."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox

from opdm_studio.app.session import reopen_last_cut

_KEEP: list = []   # an event does not own its mime data: keep it alive while the test runs


def drag(folder, actions, kind=QDragEnterEvent):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    _KEEP.append(mime)
    return kind(QPoint(10, 10), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)


def test_folder_drops_are_a_copy_or_a_link_never_a_move(qtbot, window, cut_dir):
    A = Qt.DropAction
    ev = drag(cut_dir, A.MoveAction | A.CopyAction | A.LinkAction)
    window.dragEnterEvent(ev)
    assert ev.isAccepted() and ev.dropAction() == A.CopyAction
    ev = drag(cut_dir, A.MoveAction | A.LinkAction)
    window.dragEnterEvent(ev)
    assert ev.isAccepted() and ev.dropAction() == A.LinkAction
    ev = drag(cut_dir, A.MoveAction)                 # only a move offered: refused
    window.dragEnterEvent(ev)
    assert not ev.isAccepted()
    ev = drag(cut_dir / "lineart" / "0001.png", A.CopyAction)   # a file, not a folder
    window.dragEnterEvent(ev)
    assert not ev.isAccepted()
    drop = drag(cut_dir, A.MoveAction | A.CopyAction, kind=QDropEvent)
    window.dropEvent(drop)
    assert drop.isAccepted() and drop.dropAction() == A.CopyAction
    qtbot.waitUntil(lambda: window.doc is not None, timeout=10000)
    assert window.doc.name == "ball_cut"


def test_restart_reopens_the_last_cut(qtbot, window, cut_dir, tmp_path):
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    assert window.open_cut(cut_dir)                  # the session before: this cut was open
    settings = AppSettings.load()
    assert settings.recent[0] == str(cut_dir.resolve())
    again = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(again)
    assert reopen_last_cut(again, settings) and again.doc is not None and again.doc.name == "ball_cut"
    # A last cut that was moved away since: a word in the status bar, no dialog.
    settings.recent = [str(tmp_path / "gone")]
    third = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(third)
    assert not reopen_last_cut(third, settings) and third.doc is None
    assert "no longer there" in third.status_bar.message.text()
    for w in (again, third):
        w.close()


def test_launch_reopens_the_last_cut(qtbot, cut_dir, monkeypatch):
    """`opdm-studio gui` without a cut: the window comes up on the last session's cut."""
    from opdm_studio.app import launch
    from opdm_studio.app.settings import AppSettings, qsettings
    s = AppSettings.load()
    s.add_recent(cut_dir)
    s.save()
    qsettings().setValue("app/first_run_done", True)
    seen = {}
    from PySide6.QtWidgets import QApplication

    def fake_exec(self=None):
        win = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow" and w.isVisible())
        seen["doc"] = win.doc.name if win.doc is not None else None
        win.close()
        return 0
    monkeypatch.setattr(QApplication, "exec", fake_exec)
    monkeypatch.setattr("opdm_studio.app.errors_ui.install_excepthook", lambda *_: None)
    assert launch.main([]) == 0
    assert seen["doc"] == "ball_cut"


def colour_all(qtbot, win):
    win.timeline.select_range(0, win.doc.n_frames - 1)
    win.acts.colorize.trigger()
    qtbot.waitUntil(lambda: not win.busy, timeout=60000)
    return win.jobs.last_outcome


def test_colour_again_on_purpose(qtbot, window, cut_dir, dialogs):
    assert window.open_cut(cut_dir)
    assert colour_all(qtbot, window).done == 8
    before = {i: r.finished for i, r in window.doc.project.results.items() if r.status == "done"}
    # Ctrl+Enter on finished frames: asked; No runs nothing and says how to colour again.
    dialogs.answers.append(QMessageBox.StandardButton.No)
    window.acts.colorize.trigger()
    assert not window.busy and dialogs.seen[-1][1] == "Colour again?"
    assert "Ctrl+Shift+Enter" in window.status_bar.message.text()
    # Yes colours them again (the command line's --force).
    dialogs.answers.append(QMessageBox.StandardButton.Yes)
    window.acts.colorize.trigger()
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    after = {i: r.finished for i, r in window.doc.project.results.items() if r.status == "done"}
    assert before and all(after[i] > before[i] for i in before)
    # Colour > Colour again does it at once, without a question.
    asked = len(dialogs.seen)
    again = window.recolour.action
    colour_menu = next(m.menu() for m in window.menuBar().actions() if m.text() == "&Colour")
    assert again in colour_menu.actions() and again.shortcut().toString() == "Ctrl+Shift+Return"
    window.timeline.select_range(2, 3)
    again.trigger()
    assert window.busy
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    assert len(dialogs.seen) == asked and window.jobs.last_outcome.done == 2
    again_after = window.doc.project.results
    assert again_after[2].finished > after[2] and again_after[5].finished == after[5]
