"""Acceptance tests of the desktop app (pytest-qt, offscreen)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence
from PySide6.QtWidgets import QMessageBox

from opdm_studio import paths
from opdm_studio.app.export_dialog import ExportRequest
from opdm_studio.app.settings import AppSettings
from opdm_studio.app.status_bar import network_text
from opdm_studio.app.viewer import MODES, compose
from opdm_studio.engine.project import Project

from .conftest import colorize_all, write_cut


def drop_folder(widget, folder: Path) -> None:
    """Simulate dropping a folder from the file manager on ``widget``."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    ev = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(ev)


@pytest.fixture
def one_torch_thread():
    """One torch thread for tiny models (all overhead on more, and CI cores are shared)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def save_tiny_default_model() -> Path:
    """A tiny random-weight OPDM installed as the user's default model."""
    import torch

    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.model import OPDM
    torch.manual_seed(0)
    model = OPDM(ModelConfig.preset("tiny")).eval()
    path = paths.models_dir() / "default.safetensors"
    save_checkpoint(path, model, metadata={"note": "test"})
    return path


def test_drop_mark_two_keys_and_colorize_with_flow(qtbot, window, cut_dir, dialogs):
    # No model installed: the app falls back to the flow preview and says so.
    assert window.method == "flow" and window.settings.method == "model"  # preference kept
    assert "No OPDM model" in network_text(window.network) and "no OPDM model" in window.status_bar.method_label.text()
    drop_folder(window, cut_dir)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=5000)
    doc = window.doc
    assert doc.n_frames == 8 and doc.keys() == [0, 7]  # painted frames start as keys
    # Unmark both painted keys, then mark them again with K.
    for f in (0, 7):
        window.go_to(f)
        window.acts.key.trigger()
    assert doc.keys() == []
    for f in (0, 7):
        window.go_to(f)
        window.acts.key.trigger()
    assert doc.keys() == [0, 7]
    assert window.acts.key.shortcut() == QKeySequence("K")

    outcome = colorize_all(qtbot, window)
    assert outcome.error is None and not outcome.cancelled and outcome.done == 8
    assert all(doc.has_result(i) for i in range(1, 7))
    # Results are on disk and in the project file.
    saved = Project.load(doc.project.root)
    assert sorted(i for i, r in saved.results.items() if r.status == "done") == list(range(1, 7))
    # Frame 4's result shows in the viewer and its tile gets a coloured thumbnail.
    window.go_to(3)
    window.set_mode("color")
    img, note, _ = compose(doc, 3, "color")
    assert note == "" and img.shape == (64, 64, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 3
    assert window.viewer.has_image()
    assert not [d for d in dialogs.seen if d[0] in ("warning", "critical")]


def test_colorize_with_tiny_model(qtbot, dialogs, tmp_path, one_torch_thread):
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    save_tiny_default_model()
    make_app()
    s = AppSettings(method="model", steps=2, working_size=64)
    win = MainWindow(settings=s, open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(win)
    assert win.network.usable and win.method == "model"
    assert win.status_bar.method_label.text() == "OPDM · 2 steps"      # a plain model runs the steps setting
    assert win.open_cut(write_cut(tmp_path / "short", n=4, size=64))
    outcome = colorize_all(qtbot, win, timeout=120000)
    assert outcome.error is None, outcome.details or outcome.error
    assert outcome.done == 4
    results = win.doc.project.results
    assert all(results[i].method == "model" for i in (1, 2))
    assert win.doc.result_color(2).shape == (64, 64, 3)
    win.close()


def test_cancel_midway_keeps_finished_frames(qtbot, dialogs, tmp_path, one_torch_thread, monkeypatch):
    from opdm_studio.app import main_window
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.worker import Job
    from opdm_studio.engine.run import ProgressEvent
    save_tiny_default_model()
    hold = [True]
    reached = [False]

    def held_colorize_job(project, frames, what=None, force=False):
        """The window's job, paused before the third in-between is sampled (two are sampled, their
        paint not decided yet) until the GUI cancels: a tiny model colours the whole cut before a
        throttled progress signal reaches the GUI."""
        job = main_window.colorize_job.__wrapped__(project, frames, what, force)

        def run(cancel):
            for ev in job.run(cancel):
                yield ev
                if hold[0] and ev.kind == "frame" and ev.index == 3:
                    reached[0] = True
                    end = time.perf_counter() + 10
                    while not cancel.cancelled and time.perf_counter() < end:
                        time.sleep(0.01)
                        yield ProgressEvent("frame", ev.frame, ev.frames, name="held")
        return Job(job.kind, run, job.meta)
    held_colorize_job.__wrapped__ = main_window.colorize_job
    monkeypatch.setattr(main_window, "colorize_job", held_colorize_job)
    folder = write_cut(tmp_path / "long", n=6, size=64)
    make_app()
    win = MainWindow(settings=AppSettings(method="model", steps=2, working_size=64),
                     open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(win)
    assert win.open_cut(folder)

    def cancel_when_held(p):
        if reached[0]:
            win.cancel()
    win.jobs.progress.connect(cancel_when_held)
    outcome = colorize_all(qtbot, win, timeout=120000)
    assert outcome.cancelled and outcome.error is None
    # The two in-betweens sampled before the cancel are finished and kept; the rest is not done.
    done = [i for i in range(6) if win.doc.has_result(i)]
    assert {1, 2} <= set(done) and not {3, 4} & set(done)
    assert "cancelled" in win.status_bar.message.text()
    # Finished frames are kept on disk and in the project file; a second run resumes.
    saved = Project.load(win.doc.project.root)
    assert sorted(i for i, r in saved.results.items() if r.status == "done") == done
    assert not win.busy and win.acts.colorize.isEnabled()
    win.jobs.progress.disconnect(cancel_when_held)
    hold[0] = False
    outcome = colorize_all(qtbot, win, timeout=120000)
    assert not outcome.cancelled and all(win.doc.has_result(i) for i in range(1, 5))
    win.close()


def test_undo_redo_keyframe_marking_and_colour_drop(qtbot, window, cut_dir, painted_frame, dialogs):
    assert window.open_cut(cut_dir)
    doc = window.doc
    window.go_to(0)
    window.acts.key.trigger()
    assert doc.keys() == [7]
    window.undo.undo()
    assert doc.keys() == [0, 7]
    window.undo.redo()
    assert doc.keys() == [7]
    window.undo.undo()
    # K on a frame without colour explains what to do and changes nothing.
    window.go_to(3)
    window.acts.key.trigger()
    assert doc.keys() == [0, 7]
    assert any("no colour yet" in d[2] for d in dialogs.seen)
    # Dropping a coloured image on a frame makes it a keyframe with that colour; undo removes it.
    window.assign_colour(3, str(painted_frame))
    assert doc.keys() == [0, 3, 7]
    assert doc.key_color(3).shape == (64, 64, 3)
    assert window.panel.next_slot.frame == 3 or window.panel.prev_slot.frame == 3
    window.undo.undo()
    assert doc.keys() == [0, 7]
    # A wrong-size image is refused with a message naming the file; nothing changes.
    from PIL import Image
    bad = painted_frame.with_name("small.png")
    Image.new("RGB", (20, 20), (255, 0, 0)).save(bad)
    window.assign_colour(3, str(bad))
    assert doc.keys() == [0, 7]
    assert any("small.png" in d[2] for d in dialogs.seen)
    assert window.undo.count() == 1 and window.undo.index() == 0  # refused edits add nothing


def test_promote_coloured_frame_recolours_neighbours(qtbot, window, cut_dir):
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    window.go_to(3)
    window.acts.promote.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    doc = window.doc
    assert doc.keys() == [0, 3, 7]
    res = doc.project.results
    assert res[1].keys == (0, 3) and res[5].keys == (3, 7)
    window.undo.undo()
    assert doc.keys() == [0, 7] and doc.has_result(3)


def test_export_writes_layers_and_asks_before_overwriting(qtbot, window, cut_dir, tmp_path, dialogs):
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    out = tmp_path / "export"
    req = ExportRequest(folder=out, frames=list(range(8)), layers=["composite", "color", "lines"],
                        psd=True, template="{cut}_{frame:04d}.png", open_folder=False)
    window.start_export(req)
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 8 * 4
    assert "ball_cut_0004.png" in names and "ball_cut_0004_color.png" in names
    assert "ball_cut_0004_lines.png" in names and "ball_cut_0004.psd" in names
    from PIL import Image
    assert Image.open(out / "ball_cut_0004_lines.png").mode == "RGBA"
    # A second export asks first; "No" leaves the files untouched.
    before = (out / "ball_cut_0004.png").stat().st_mtime_ns
    dialogs.answers.append(QMessageBox.StandardButton.No)
    window.start_export(ExportRequest(folder=out, frames=[3], open_folder=False))
    assert not window.busy
    assert dialogs.seen[-1][0] == "question" and "Overwrite" in dialogs.seen[-1][1]
    assert (out / "ball_cut_0004.png").stat().st_mtime_ns == before
    dialogs.answers.append(QMessageBox.StandardButton.Yes)
    window.start_export(ExportRequest(folder=out, frames=[3], open_folder=False))
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    assert window.jobs.last_outcome.error is None and window.jobs.last_outcome.done == 1


def test_export_dialog_builds_request(qtbot, window, cut_dir):
    from opdm_studio.app.export_dialog import ExportDialog
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    dlg = ExportDialog(window, window.doc, [2, 3, 4])
    qtbot.addWidget(dlg)
    dlg.layer_boxes["lines"].setChecked(True)
    dlg.template_edit.setText("shot_{frame:03d}.png")
    req = dlg.request()
    assert req.frames == [2, 3, 4] and req.layers == ["composite", "lines"]
    assert "shot_003.png" in dlg.preview.text()
    dlg.template_edit.setText("{bogus}")
    assert not dlg.export_button.isEnabled() and "not valid" in dlg.preview.text()


def test_settings_persist_across_windows(qtbot, dialogs):
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    make_app()
    w1 = MainWindow(open_sample=False)
    qtbot.addWidget(w1)
    new = AppSettings.load()
    new.method, new.steps, new.snapping, new.gap, new.thumb_size = "flow", 7, "all", 5, 64
    new.device, new.working_size = "cpu", 256
    w1.apply_settings(new)
    w1.close()
    # The store is private to this test's OPDM_STUDIO_HOME, never the user's settings.
    assert (paths.data_dir() / "settings.ini").is_file()
    w2 = MainWindow(open_sample=False)
    qtbot.addWidget(w2)
    s = w2.settings
    assert (s.steps, s.snapping, s.gap, s.thumb_size, s.device, s.working_size) == (7, "all", 5, 64, "cpu", 256)
    w2.close()


def test_settings_dialog_round_trip(qtbot, window):
    from opdm_studio.app.settings import SettingsDialog
    dlg = SettingsDialog(window.settings, network_text(window.network), [], window)
    qtbot.addWidget(dlg)
    dlg.steps_spin.setValue(25)
    dlg.snap_box.setCurrentIndex(dlg.snap_box.findData("off"))
    s = dlg.result_settings()
    assert s.steps == 25 and s.snapping == "off"
    assert "No OPDM model" in dlg.model_status.text()


@pytest.mark.parametrize("kind", ["missing", "empty", "mixed_sizes", "corrupt"])
def test_broken_folder_shows_error_dialog(qtbot, window, tmp_path, dialogs, kind):
    from PIL import Image
    folder = tmp_path / "broken"
    if kind != "missing":
        folder.mkdir()
    if kind == "mixed_sizes":
        Image.new("L", (32, 32), 255).save(folder / "0001.png")
        Image.new("L", (40, 32), 255).save(folder / "0002.png")
    if kind == "corrupt":
        (folder / "0001.png").write_bytes(b"not a png at all")
    drop_folder(window, folder) if kind != "missing" else window.open_cut(folder)
    qtbot.waitUntil(lambda: bool(dialogs.seen), timeout=5000)
    kind_, _title, text = dialogs.seen[-1]
    assert kind_ == "warning" and "broken" in text
    assert window.doc is None
    # The app keeps working.
    assert window.open_cut(write_cut(tmp_path / "good"))


def test_unexpected_error_is_logged_and_shown(qtbot, window, cut_dir, dialogs, monkeypatch):
    from opdm_studio.app import document
    def boom(folder):
        raise RuntimeError("synthetic bug")
    monkeypatch.setattr(document.Document, "open", staticmethod(boom))
    assert not window.open_cut(cut_dir)
    assert dialogs.seen[-1][0] == "critical"
    log = paths.log_file().read_text()
    assert "synthetic bug" in log and "Traceback" in log


def test_viewer_modes_and_colour_picker(qtbot, window, cut_dir):
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    for frame in (0, 3):
        window.go_to(frame)
        for mode in MODES:
            window.set_mode(mode)
            assert window.viewer.has_image()
    img, _, offset = compose(window.doc, 3, "side")
    assert img.shape[1] == 3 * 64 + 2 * 12 and offset == 64 + 12
    window.set_mode("color")
    window.viewer.fit()
    z = window.viewer.zoom()
    window.viewer.zoom_by(2.0)
    assert window.viewer.zoom() == pytest.approx(2 * z)
    window.acts.pick.setChecked(True)
    window.viewer.picked.emit(5, 5)   # background paint of the ball cut
    assert window.last_pick[2] == tuple(window.doc.result_color(3)[5, 5])
    assert "#" in window.status_bar.swatch.text()


def test_navigation_keys(qtbot, window, cut_dir):
    assert window.open_cut(cut_dir)
    window.acts.next.trigger()
    window.acts.next.trigger()
    assert window.current_frame() == 2
    window.acts.prev.trigger()
    assert window.current_frame() == 1
    window.acts.last.trigger()
    assert window.current_frame() == 7
    window.acts.first.trigger()
    assert window.current_frame() == 0
    shortcuts = {a.shortcut().toString() for a in (window.acts.prev, window.acts.next, window.acts.first,
                                                     window.acts.last, window.acts.cancel, window.acts.export,
                                                     window.acts.save)}
    assert shortcuts == {",", ".", "Home", "End", "Esc", "Ctrl+E", "Ctrl+S"}
    assert "Ctrl+Return" in [s.toString() for s in window.acts.colorize.shortcuts()]


def test_save_project_and_reopen_resumes(qtbot, window, cut_dir, painted_frame):
    assert window.open_cut(cut_dir)
    window.assign_colour(3, str(painted_frame))
    assert window.isWindowModified()
    window.acts.save.trigger()
    assert not window.isWindowModified()
    data = json.loads((window.doc.project.root / "opdm-project.json").read_text())
    assert [k["index"] for k in data["keyframes"]] == [0, 3, 7]
    assert window.open_cut(cut_dir)   # reopening the cut finds its project
    assert window.doc.keys() == [0, 3, 7]
    assert str(cut_dir.resolve()) in window.settings.recent


def test_first_start_opens_sample_cut(qtbot, dialogs, monkeypatch, cut_dir):
    from opdm_studio.app import main_window
    from opdm_studio.app.launch import make_app
    monkeypatch.setattr(main_window, "sample_cut_path", lambda: cut_dir)
    make_app()
    w = main_window.MainWindow()
    qtbot.addWidget(w)
    assert w.doc is not None and w.doc.n_frames == 8
    w.close()
    w2 = main_window.MainWindow()   # only the first start does it
    qtbot.addWidget(w2)
    assert w2.doc is None
    w2.close()


def test_finetune_wizard_menu_entry(qtbot, window, dialogs, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "opdm_studio.app.finetune_wizard", None)  # import fails
    window.acts.wizard.trigger()
    assert dialogs.seen and "fine-tune wizard is not available" in dialogs.seen[-1][2]
    tools = [m for m in window.menuBar().actions() if m.text() == "&Tools"][0].menu()
    assert window.acts.wizard in tools.actions()


def test_export_from_dialog_runs_and_closes(qtbot, window, cut_dir, tmp_path, dialogs):
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    window.acts.export.trigger()
    dlg = window.export_dlg
    assert dlg.isVisible()
    dlg.folder_edit.setText(str(tmp_path / "out"))
    dlg.range_custom.setChecked(True)
    dlg.first_spin.setValue(2)
    dlg.last_spin.setValue(3)
    dlg.check_panel.wait()
    if not dlg.check_panel.check.clean:        # the check before export asks: go on
        dialogs.answers.append(QMessageBox.StandardButton.Yes)
    dlg.export_button.click()
    qtbot.waitUntil(lambda: not window.busy and not dlg.isVisible(), timeout=30000)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ball_cut_0002.png", "ball_cut_0003.png"]


@pytest.mark.shipped_model
def test_first_start_selects_the_shipped_model(qtbot, dialogs):
    """A fresh install opens the sample cut with the bundled OPDM model selected (no fallback)."""
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.engine.models import default_model_path
    assert default_model_path().is_file()
    make_app()
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.doc is not None and w.doc.n_frames == 24
    assert w.network.usable and w.method == "model"
    assert "no OPDM model" not in w.status_bar.method_label.text()
    # The shipped model refines the flow preview in one step (it does not run the steps setting),
    # with a copy adapted to each key interval's keys.
    assert w.status_bar.method_label.text() == \
        "OPDM · refines the flow preview · 1 step · adapts to each key interval"
    assert "refines the flow preview" in network_text(w.network)
    w.close()


def test_changed_settings_mark_results_out_of_date_until_recoloured(qtbot, window, tmp_path, dialogs):
    """A colourist who changes snapping sees which frames the next Colorize will redo."""
    import copy

    from opdm_studio.app.timeline import OutdatedRole
    window.settings.method = "flow"
    assert window.open_cut(write_cut(tmp_path / "c", n=6, size=64, keys=(0, 5)))
    outcome = colorize_all(qtbot, window)
    assert outcome.error is None and outcome.done == 6
    model = window.frames
    coloured = [i for i in range(6) if window.doc.result_info(i) is not None
                and window.doc.result_info(i).method == "flow"]
    assert coloured and not any(model.index(i).data(OutdatedRole) for i in range(6))
    new = copy.deepcopy(window.settings)
    new.snapping = "all" if window.settings.snapping != "all" else "off"
    window.apply_settings(new)
    assert all(model.index(i).data(OutdatedRole) for i in coloured)
    assert "out of date" in model.index(coloured[0]).data(Qt.ItemDataRole.ToolTipRole)
    assert window.doc.has_result(coloured[0])          # still shown until it is redone
    outcome = colorize_all(qtbot, window)
    assert outcome.error is None
    assert not any(model.index(i).data(OutdatedRole) for i in range(6))
