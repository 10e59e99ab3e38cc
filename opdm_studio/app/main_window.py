"""The main window: timeline, viewer, keyframe panel, colouring in the background, export.

The window wires parts that live in their own modules: the actions, menus and toolbar
(:mod:`.actions`), the status bar (:mod:`.status_bar`), the network's status
(:mod:`opdm_studio.engine.network`), the open cut (:class:`.document.Document`: the engine's
Qt-free workspace with a signal) and the background jobs (:mod:`.jobs`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from opdm_studio import paths
from opdm_studio.app import recolour, session
from opdm_studio.app.actions import WindowActions
from opdm_studio.app.document import Document
from opdm_studio.app.errors_ui import show_exception, show_user_error
from opdm_studio.app.export_dialog import ExportDialog, ExportRequest, confirm_export
from opdm_studio.app.fixing import FixTool
from opdm_studio.app.jobs import JobRunner, colorize_job, frames_to_colour, outcome_text
from opdm_studio.app.keyframes import KeyframeEditor, KeyframePanel
from opdm_studio.app.playback import Playback
from opdm_studio.app.relink import open_document
from opdm_studio.app.settings import AppSettings, SettingsDialog, qsettings, restore_window_layout, save_window_layout
from opdm_studio.app.status_bar import StatusBar, cut_summary, network_text, result_summary
from opdm_studio.app.timeline import FrameListModel, TimelineView
from opdm_studio.app.unsaved import unsaved_question
from opdm_studio.app.viewer import Viewer, mode_label
from opdm_studio.app.worker import Outcome, Progress
from opdm_studio.engine.network import ModelPreloader, NetworkStatus, network_status
from opdm_studio.engine.project_home import sample_cut_path

log = logging.getLogger("opdm_studio.app")


class MainWindow(QMainWindow):
    """OPDM Studio's main window."""

    def __init__(self, settings: AppSettings | None = None, open_sample: bool = True,
                 open_dialogs_on_finish: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("OPDM Studio")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings.load()
        self.network = NetworkStatus(False, "")      # the colouring network's status (checked below)
        self.doc: Document | None = None
        self.undo = QUndoStack(self)
        self.open_folder_after_export = open_dialogs_on_finish
        self.last_pick: tuple[int, int, tuple[int, int, int]] | None = None   # x, y, RGB
        self.export_dlg: ExportDialog | None = None
        self.settings_dlg: SettingsDialog | None = None
        self.wizard: QWidget | None = None
        self._mode = "color"

        self.frames = FrameListModel(self)           # the timeline's Qt model of the cut's frames
        self.timeline = TimelineView(self.frames)
        self.viewer = Viewer()
        self.panel = KeyframePanel()
        self.fixes = FixTool(self)                   # fill tool, palette, next flagged region
        self._build_layout()
        self.acts = WindowActions(self, self.undo, self._mode)
        self.acts.fill.toggled.connect(lambda on: self.fixes.warm() if on else None)
        self.hand = self.fixes.hand_tools()          # brush, enclose and fill (beside the fill tool)
        self.playback = Playback(self)               # Space plays, O onion skin (Playback menu)
        self.acts.fill_recent(self.settings.recent, self.open_cut)
        self.recolour = recolour.ColourAgain(self)   # Colour again; Colorize asks on finished frames
        self.status_bar = StatusBar(self.statusBar())
        self.key_edits = KeyframeEditor(self.undo, self._frame_changed)
        self.jobs = JobRunner(self)                  # colouring and export, one at a time
        self._connect()
        self._check_model()
        self.preloader = ModelPreloader(wanted=self.method == "model")
        if self.preloader.pending:   # once the window is up, while the user looks at the cut
            QTimer.singleShot(0, self, lambda: self.preloader.start(self.settings.model))
        restore_window_layout(self)
        self._update_actions()
        self.panel.show_frame(None, -1)
        if open_sample:
            self._maybe_open_sample()

    # ------------------------------------------------------------------ construction

    def _build_layout(self) -> None:
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.viewer, 1)
        col.addWidget(self.timeline, 0)  # fixed height: follows the thumbnail size
        self.setCentralWidget(central)
        dock = QDockWidget(self.tr("Keyframes"), self)
        dock.setObjectName("keyframeDock")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.panel.setMinimumWidth(300)
        pal = QDockWidget(self.tr("Palette"), self)
        pal.setObjectName("paletteDock")
        pal.setWidget(self.fixes.panel)
        pal.setFeatures(dock.features())
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, pal)
        self.fixes.panel.setMinimumWidth(230)

    def _connect(self) -> None:
        self.timeline.currentFrameChanged.connect(self._on_current)
        self.timeline.colourDropped.connect(self.assign_colour)
        self.panel.prev_slot.imageDropped.connect(self.assign_colour)
        self.panel.next_slot.imageDropped.connect(self.assign_colour)
        self.panel.prev_slot.clicked.connect(self.go_to)
        self.panel.next_slot.clicked.connect(self.go_to)
        self.panel.mark_button.clicked.connect(lambda: self.guard(self.toggle_key))
        self.panel.promote_button.clicked.connect(lambda: self.guard(self.promote_current))
        self.undo.cleanChanged.connect(self._on_clean_changed)
        self.undo.indexChanged.connect(self._on_undo_index)
        self.jobs.started.connect(self._on_started)
        self.jobs.progress.connect(self._on_progress)
        self.jobs.finished.connect(self._on_finished)

    def _on_clean_changed(self, clean: bool) -> None:
        if shiboken6.isValid(self):
            self.setWindowModified(not clean)

    def _on_undo_index(self, _index: int) -> None:
        # The stack also signals while the window is being destroyed: ignore that one.
        if shiboken6.isValid(self) and shiboken6.isValid(self.undo):
            self._update_actions()

    # ------------------------------------------------------------------ helpers

    def guard(self, fn, *args) -> None:
        """Run a user action; show OPDMError plainly and log anything unexpected."""
        try:
            fn(*args)
        except Exception as exc:
            show_exception(self, exc)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """Show a message in the status bar."""
        self.status_bar.say(text, timeout_ms)

    @property
    def busy(self) -> bool:
        """True while a background job runs."""
        return self.jobs.busy

    def current_frame(self) -> int:
        """Index of the current frame (-1 without a cut)."""
        return self.timeline.current_frame()

    @property
    def method(self) -> str:
        """The method colouring uses now: the chosen one, or flow while no model is usable.

        The stored preference is kept as chosen, so installing a model later brings OPDM back.
        """
        return self.settings.method if self.network.usable else "flow"

    def _check_model(self) -> None:
        self.network = network_status(self.settings.model, self.settings.steps)
        if not self.network.usable and self.settings.method == "model":
            # Without a model the app still works end to end with the flow preview.
            self.status(network_text(self.network))
        self.status_bar.show_method(self.method, self.network)

    def _update_actions(self) -> None:
        has, busy = self.doc is not None, self.busy
        self.acts.update(has, busy, self.undo.canUndo(), self.undo.canRedo())
        self.panel.setEnabled(has and not busy)

    # ------------------------------------------------------------------ opening

    def _maybe_open_sample(self) -> None:
        s = qsettings()
        if s.value("app/first_run_done", False, type=bool):
            return
        sample = sample_cut_path()
        s.setValue("app/first_run_done", True)
        if sample is not None:
            self.open_cut(sample)
            self.status(self.tr("Welcome! This is the bundled sample cut: press Ctrl+Enter to colour the "
                                "frames up to the next keyframe, or select frames on the timeline first."))

    def open_dialog(self) -> None:
        """File > Open: choose a cut folder."""
        start = self.settings.recent[0] if self.settings.recent else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open a cut folder"), start)
        if folder:
            self.open_cut(folder)

    def open_cut(self, folder: str | Path) -> bool:
        """Open a cut (or project) folder; errors are shown in a dialog. True on success."""
        if self.busy:
            show_user_error(self, self.tr("Colouring is running: cancel it (Esc) before opening another cut."))
            return False
        if not self._maybe_save_changes():
            return False
        try:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                doc = open_document(self, folder)
            finally:
                QApplication.restoreOverrideCursor()
        except Exception as exc:
            show_exception(self, exc)
            return False
        self.doc = doc
        self.undo.clear()
        self.frames.set_document(doc, self.settings.thumb_size)
        self.fixes.set_document(doc)
        self.settings.add_recent(folder)
        self.settings.save()
        self.acts.fill_recent(self.settings.recent, self.open_cut)
        self.setWindowTitle(f"{doc.name}[*] — OPDM Studio")
        self.status(self.tr("Opened {summary}").format(summary=cut_summary(doc)))
        self.timeline.set_current_frame(0)
        self._update_actions()
        self.refresh_view()
        return True

    def dragEnterEvent(self, event) -> None:
        """Accept a dragged folder, as a copy or a link (never a move)."""
        session.accept_folder_drop(event)

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, event) -> None:
        """Open a dropped cut folder (after the drop returns: the file manager is not kept waiting)."""
        path = session.accept_folder_drop(event)
        if path is not None:
            QTimer.singleShot(0, self, lambda: self.open_cut(path))

    # ------------------------------------------------------------------ navigation and view

    def go_to(self, frame: int) -> None:
        """Make ``frame`` current (clamped)."""
        self.timeline.set_current_frame(frame)

    def step_frame(self, delta: int) -> None:
        """Previous / next frame."""
        self.go_to(max(0, self.current_frame() + delta))

    def set_mode(self, mode: str) -> None:
        """Switch the viewer mode."""
        self._mode = mode
        self.acts.modes[mode].setChecked(True)
        self.refresh_view()

    @property
    def mode(self) -> str:
        """The viewer mode."""
        return self._mode

    def _on_current(self, frame: int) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        """Redraw the viewer and keyframe panel for the current frame."""
        frame = self.current_frame()
        if self.doc is None or frame < 0:
            self.viewer.set_image(None)
            self.panel.show_frame(None, -1)
            return
        try:
            img, note, offset = self.playback.picture(frame, self._mode)
        except Exception as exc:
            self.viewer.set_image(None)
            show_exception(self, exc)
            return
        self.viewer.set_image(img, offset, self.doc.size[0])
        self.panel.show_frame(self.doc, frame)
        if not self.busy:
            self.status(self.tr("Frame {label} ({name}) · {mode}").format(
                label=self.doc.frame_label(frame), name=self.doc.frame_name(frame), mode=mode_label(self._mode))
                + result_summary(self.doc, frame) + (f" · {note}" if note else ""))

    # ------------------------------------------------------------------ keyframe edits

    def _frame_changed(self, frame: int) -> None:
        self.frames.frame_changed(frame)
        self.fixes.panel.refresh()       # a key's paint may bring new swatches
        if self.doc is not None:
            # The neighbours' slots and the current view depend on the keys.
            self.refresh_view()

    def toggle_key(self, frame: int | None = None) -> None:
        """K: mark the current frame as a keyframe, or unmark it."""
        frame = self.current_frame() if frame is None else frame
        if self.doc is not None and not self.busy and frame >= 0:
            self.status(self.key_edits.toggle(self.doc, frame))

    def assign_colour(self, frame: int, image_path: str) -> None:
        """A coloured image dropped on a frame or slot: it becomes that keyframe's colour."""
        if self.doc is None or self.busy:
            return
        try:
            self.status(self.key_edits.assign_colour(self.doc, frame, image_path))
        except Exception as exc:
            show_exception(self, exc)

    def promote_current(self) -> None:
        """Promote the current coloured frame to a keyframe and re-colour its neighbourhood."""
        if self.doc is not None and not self.busy:
            self.colorize(self.key_edits.promote(self.doc, self.current_frame()))

    # ------------------------------------------------------------------ background jobs

    def colorize_selection(self) -> None:
        """Ctrl+Enter: colour the selected frames (min..max; only keyframes selected: the
        intervals they bound), or the whole cut if none."""
        if self.doc is None or self.busy:
            return
        self.recolour.colorize(*frames_to_colour(self.doc, self.timeline.selected_frames()))

    def colorize(self, frames, what: str | None = None, force: bool = False) -> None:
        """Colour ``frames`` in the background (results appear one by one); ``what`` says
        which, in words; ``force``: finished frames too."""
        if self.doc is None or self.busy:
            return
        if not self.doc.keys():
            show_user_error(self, self.tr("No keyframes yet: mark at least one painted frame as a keyframe "
                                          "(select it and press K), or drop a coloured image on a frame."))
            return
        self.doc.apply_settings(self.settings, self.method)
        job = colorize_job(self.doc.project, frames, what, force)
        self.jobs.start(job)
        text = (self.tr("Colouring {what} with OPDM... (Esc cancels)") if self.method == "model" else
                self.tr("Colouring {what} with the flow preview... (Esc cancels)"))
        self.status(text.format(what=job.meta["what"]))

    def cancel(self) -> None:
        """Esc: stop the running job after its current step."""
        if self.jobs.cancel():
            self.status(self.tr("Cancelling after the current step..."))

    def _on_started(self, _kind: str) -> None:
        self.status_bar.job_started()
        self._update_actions()

    def _on_progress(self, p: Progress) -> None:
        self.status_bar.job_progress(p)
        if self.doc is not None and self.jobs.kind == "colorize":
            for f, rgb in p.previews.items():
                self.doc.set_preview(f, rgb)   # a first picture while its interval is coloured
            for f in p.frames:
                self.doc.drop_preview(f)       # its result now; the timeline hears it (frames_changed)
            if self.current_frame() in p.frames or self.current_frame() in p.previews:
                self.refresh_view()

    def _on_finished(self, outcome: Outcome) -> None:
        self.status_bar.job_ended()
        self._update_actions()
        if self.doc is not None:
            self.doc.clear_previews()
            self.doc.forget()            # the timeline hears it (frames_changed) and repaints
        if outcome.kind == "colorize" and self.doc is not None:
            self.refresh_view()
        if outcome.error is not None:
            show_exception(self, outcome.error)
        self.status(outcome_text(outcome))
        if outcome.kind == "export" and outcome.error is None and not outcome.cancelled:
            self._export_done(outcome)

    # ------------------------------------------------------------------ saving and export

    def save(self) -> None:
        """Ctrl+S: save the project file."""
        if self.doc is None or self.busy:
            return
        path = self.doc.save()
        self.undo.setClean()
        self.status(self.tr("Saved {path}").format(path=path), 5000)

    def _maybe_save_changes(self) -> bool:
        if self.doc is None or self.undo.isClean():
            return True
        button = QMessageBox.StandardButton
        answer = QMessageBox.question(self, self.tr("Unsaved changes"), unsaved_question(self.undo, self.doc.name),
            button.Save | button.Discard | button.Cancel, button.Save)
        if answer == button.Cancel:
            return False
        if answer == button.Save:
            try:
                self.save()
            except Exception as exc:
                show_exception(self, exc)
                return False
        return True

    def export_dialog(self) -> None:
        """Ctrl+E: the export dialog."""
        if self.doc is None or self.busy:
            return
        dlg = ExportDialog(self, self.doc, self.timeline.selected_frames())
        self.export_dlg = dlg
        dlg.exportRequested.connect(lambda req: self.guard(self.start_export, req))
        dlg.cancelRequested.connect(self.cancel)
        self.jobs.progress.connect(dlg.on_progress)
        self.jobs.finished.connect(dlg.on_finished)
        dlg.open()

    def start_export(self, request: ExportRequest) -> None:
        """Run an export request in the background (after the overwrite question)."""
        if self.doc is None or self.busy:
            return
        job = None
        try:
            job = confirm_export(self, self.doc, request)
        finally:
            if job is None and self.export_dlg is not None:
                self.export_dlg.export_refused()
        if job is None:
            self.status(self.tr("Export not started: nothing was overwritten."))
            return
        self.jobs.start(job)
        self.status(self.tr("Exporting {n} frame(s) to {folder}...").format(n=len(job.meta["frames"]),
                                                                             folder=request.folder))

    def _export_done(self, outcome: Outcome) -> None:
        request = outcome.meta.get("request")
        if self.export_dlg is not None and self.export_dlg.isVisible():
            self.export_dlg.accept()
        if request is not None and request.open_folder and self.open_folder_after_export:
            session.open_folder(self, request.folder)

    # ------------------------------------------------------------------ settings and dialogs

    def settings_dialog(self) -> None:
        """Tools > Settings."""
        from opdm_studio.engine.models import installed_models
        models = [m.path for m in installed_models() if not m.shipped]
        dlg = SettingsDialog(self.settings, network_text(self.network), models, self)
        self.settings_dlg = dlg
        if dlg.exec():
            self.apply_settings(dlg.result_settings())

    def apply_settings(self, new: AppSettings) -> None:
        """Use and store new settings."""
        thumbs_changed = new.thumb_size != self.settings.thumb_size
        if new.language != self.settings.language:
            self.status(self.tr("The new language applies when OPDM Studio starts again."))
        self.settings = new
        self.settings.save()
        self.network = network_status(new.model, new.steps)
        if new.method == "model" and not self.network.usable:
            show_user_error(self, network_text(self.network))
        self.status_bar.show_method(self.method, self.network)
        if self.doc is not None and not self.busy:
            # The timeline marks results made with the old settings as out of date at once.
            self.doc.apply_settings(self.settings, self.method)
            self.frames.layoutChanged.emit()
        if thumbs_changed:
            self.frames.set_thumb_size(new.thumb_size)

    def open_finetune_wizard(self) -> None:
        """Tools > Fine-tune wizard (built by the training side, imported on demand)."""
        try:
            from opdm_studio.app.finetune_wizard import FineTuneWizard
        except Exception as exc:
            log.warning("fine-tune wizard unavailable: %r", exc)
            show_user_error(self, self.tr("The fine-tune wizard is not available in this installation "
                                          "({error}). Use `opdm-studio train` instead.").format(
                error=f"{type(exc).__name__}: {exc}"))
            return
        wiz = FineTuneWizard(self)
        self.wizard = wiz
        # A fine-tune installs a model: look again when the wizard closes.
        if hasattr(wiz, "finished"):
            wiz.finished.connect(lambda _result: self._check_model())
        wiz.show()

    def about(self) -> None:
        """Help > About."""
        from opdm_studio import __version__
        QMessageBox.about(self, self.tr("About OPDM Studio"), self.tr(
            "<b>OPDM Studio {version}</b><br>Colour 2D animation from painted keyframes with the Offset "
            "Prior-based Diffusion Model.<br>Everything runs on this computer.<br><br>{network}<br>Log: {log}")
            .format(version=__version__, network=network_text(self.network), log=paths.log_file()))

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the worker, offer to save, remember the window layout."""
        if self.jobs.cancel():
            self.jobs.wait_idle(30)
        if not self._maybe_save_changes():
            event.ignore()
            return
        save_window_layout(self)
        self.fixes.set_document(None)
        self.frames.set_document(None)
        self.jobs.stop()
        event.accept()
