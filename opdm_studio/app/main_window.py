"""The main window: timeline, viewer, keyframe panel, colouring in the background, export."""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import (QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence,
                           QUndoStack)
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu,
                               QMessageBox, QProgressBar, QToolBar, QToolButton, QVBoxLayout,
                               QWidget)

from opdm_studio import paths
from opdm_studio.app.document import Document
from opdm_studio.app.errors_ui import show_exception, show_user_error
from opdm_studio.app.keyframes import KeyframePanel, apply_key_edit
from opdm_studio.app.settings import AppSettings, SettingsDialog, qsettings
from opdm_studio.app.theme import icon
from opdm_studio.app.timeline import FrameListModel, TimelineView
from opdm_studio.app.viewer import MODE_LABELS, MODES, Viewer, compose
from opdm_studio.app.worker import Job, Outcome, Progress, WorkerThread
from opdm_studio.errors import ModelNotInstalledError, OPDMError

log = logging.getLogger("opdm_studio.app")


def sample_cut_path() -> Path | None:
    """The bundled sample cut folder, None if this install has none."""
    try:
        from opdm_studio.resources import resource_path
        p = Path(str(resource_path("sample_cut")))
    except Exception:
        return None
    return p if p.is_dir() and any(p.iterdir()) else None


def model_status(settings: AppSettings) -> tuple[bool, str, str]:
    """(OPDM model usable?, sentence for the status bar and the settings dialog, what the model
    runs: "10 steps" or, for a refine-mode model, its own step count)."""
    from opdm_studio.engine.models import HOW_TO_GET_A_MODEL, resolve_model, sampling_summary
    try:
        path = resolve_model(None if settings.model == "default" else settings.model)
    except ModelNotInstalledError:
        return False, ("No OPDM model is installed: colouring uses the fast flow preview. To get "
                       "one: " + HOW_TO_GET_A_MODEL + "."), ""
    except OPDMError as exc:
        return False, f"The chosen model cannot be used ({exc}); colouring uses the flow preview.", ""
    sampling = sampling_summary(path, settings.steps)
    return True, f"Model: {path.name} ({sampling})", sampling


def _preload_model(choice: str) -> None:
    """Import torch and load the chosen model into the engine's cache (a background thread)."""
    try:
        import opdm_studio.core.diffusion  # noqa: F401  (imports torch)
        import opdm_studio.core.model  # noqa: F401
        from opdm_studio.engine.models import load_model, resolve_model
        load_model(resolve_model(None if choice == "default" else choice))
    except Exception:  # the first colouring reports the real problem in a dialog
        log.exception("preloading the model failed")


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"ETA {seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"ETA {seconds} s"


class MainWindow(QMainWindow):
    """OPDM Studio's main window."""

    def __init__(self, settings: AppSettings | None = None, open_sample: bool = True,
                 open_dialogs_on_finish: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("OPDM Studio")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings.load()
        self.doc: Document | None = None
        self.undo = QUndoStack(self)
        self.open_folder_after_export = open_dialogs_on_finish
        self._job_started = 0.0
        self._running_kind: str | None = None
        self._last_outcome: Outcome | None = None
        self._mode = "color"

        self.model = FrameListModel(self)
        self.timeline = TimelineView(self.model)
        self.viewer = Viewer()
        self.panel = KeyframePanel()
        self._build_layout()
        self._build_actions()
        self._build_status()
        self._connect()
        self._workers = WorkerThread()
        self._workers.worker.progress.connect(self._on_progress)
        self._workers.worker.finished.connect(self._on_finished)
        self._check_model()
        self._preload: threading.Thread | None = None
        self._preload_pending = self.method == "opdm" and "torch" not in sys.modules
        if self._preload_pending:
            # Importing torch and loading the model take seconds and hold Python's GIL in parts:
            # do it while the user looks at the cut, not in the worker at the first Ctrl+Enter
            # (which froze the window for 0.2-0.4 s in the GUI benchmark).
            QTimer.singleShot(0, self, self._start_preload)
        self._restore_geometry()
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
        dock = QDockWidget("Keyframes", self)
        dock.setObjectName("keyframeDock")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.panel.setMinimumWidth(300)

    def _act(self, text: str, slot, shortcut=None, icon_name: str | None = None,
             tip: str | None = None, checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if icon_name:
            a.setIcon(icon(icon_name))
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        a.setToolTip(tip or text.replace("&", "").replace("...", ""))
        a.setCheckable(checkable)
        if checkable:
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda _=False: self._guard(slot))
        self.addAction(a)  # shortcuts work wherever the focus is
        return a

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.a_open = self._act("&Open cut...", self.open_dialog, K.Open, "mdi6.folder-open")
        self.a_save = self._act("&Save project", self.save, "Ctrl+S", "mdi6.content-save")
        self.a_export = self._act("&Export...", self.export_dialog, "Ctrl+E", "mdi6.export")
        self.a_quit = self._act("&Quit", self.close, K.Quit)
        self.a_undo = self.undo.createUndoAction(self, "&Undo")
        self.a_undo.setShortcut(K.Undo)
        self.a_undo.setIcon(icon("mdi6.undo"))
        self.a_redo = self.undo.createRedoAction(self, "&Redo")
        self.a_redo.setShortcut(K.Redo)
        self.a_redo.setIcon(icon("mdi6.redo"))
        self.addActions([self.a_undo, self.a_redo])
        self.a_key = self._act("Mark / unmark &keyframe", self.toggle_key, "K", "mdi6.key")
        self.a_promote = self._act("&Promote and re-colour neighbours", self.promote_current, None,
                                   "mdi6.key-star")
        self.a_prev = self._act("&Previous frame", lambda: self.step_frame(-1), ",", "mdi6.chevron-left")
        self.a_next = self._act("&Next frame", lambda: self.step_frame(1), ".", "mdi6.chevron-right")
        self.a_first = self._act("&First frame", lambda: self.go_to(0), "Home", "mdi6.page-first")
        self.a_last = self._act("&Last frame", lambda: self.go_to(10 ** 9), "End", "mdi6.page-last")
        self.a_colorize = self._act("&Colorize selection", self.colorize_selection,
                                    ["Ctrl+Return", "Ctrl+Enter"], "mdi6.palette",
                                    "Colour the selected frames (all frames if none) — Ctrl+Enter")
        self.a_cancel = self._act("C&ancel", self.cancel, "Esc", "mdi6.stop-circle-outline",
                                  "Stop colouring after the current step; finished frames are kept (Esc)")
        self.a_settings = self._act("&Settings...", self.settings_dialog, K.Preferences, "mdi6.cog")
        self.a_wizard = self._act("&Fine-tune wizard...", self.open_finetune_wizard, None, "mdi6.school")
        self.a_fit = self._act("&Fit", self.viewer.fit, "F", "mdi6.fit-to-screen-outline")
        self.a_100 = self._act("&Actual size", self.viewer.actual_size, "1", "mdi6.magnify")
        self.a_zoom_in = self._act("Zoom &in", lambda: self.viewer.zoom_by(1.25), K.ZoomIn)
        self.a_zoom_out = self._act("Zoom &out", lambda: self.viewer.zoom_by(0.8), K.ZoomOut)
        self.a_pick = self._act("Colour &picker", self.viewer.set_pick_mode, "I", checkable=True)
        self.a_pick.setIcon(icon("mdi6.eyedropper"))
        self.a_logs = self._act("Open &log folder", lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(paths.log_dir()))))
        self.a_about = self._act("&About OPDM Studio", self.about)

        self.mode_group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        mode_icons = {"line": "mdi6.draw", "color": "mdi6.palette-swatch", "overlay": "mdi6.layers",
                      "side": "mdi6.view-column", "review": "mdi6.alert-decagram"}
        for n, mode in enumerate(MODES, start=2):
            a = QAction(icon(mode_icons[mode]), MODE_LABELS[mode], self)
            a.setCheckable(True)
            a.setShortcut(QKeySequence(f"Ctrl+{n - 1}"))
            a.setToolTip(f"{MODE_LABELS[mode]} (Ctrl+{n - 1})")
            a.triggered.connect(lambda _=False, m=mode: self.set_mode(m))
            self.mode_group.addAction(a)
            self.mode_actions[mode] = a
            self.addAction(a)
        self.mode_actions[self._mode].setChecked(True)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.a_open)
        self.recent_menu = QMenu("Open &recent", self)
        m.addMenu(self.recent_menu)
        m.addSeparator()
        m.addActions([self.a_save, self.a_export])
        m.addSeparator()
        m.addAction(self.a_quit)
        m = mb.addMenu("&Edit")
        m.addActions([self.a_undo, self.a_redo])
        m.addSeparator()
        m.addActions([self.a_key, self.a_promote])
        m = mb.addMenu("&View")
        m.addActions(list(self.mode_actions.values()))
        m.addSeparator()
        m.addActions([self.a_fit, self.a_100, self.a_zoom_in, self.a_zoom_out, self.a_pick])
        m = mb.addMenu("F&rame")
        m.addActions([self.a_prev, self.a_next, self.a_first, self.a_last])
        m = mb.addMenu("&Colour")
        m.addActions([self.a_colorize, self.a_cancel])
        m = mb.addMenu("&Tools")
        m.addActions([self.a_settings, self.a_wizard])
        m = mb.addMenu("&Help")
        m.addActions([self.a_logs, self.a_about])
        self._fill_recent()

        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addAction(self.a_open)
        tb.addAction(self.a_save)
        tb.addSeparator()
        for a in (self.a_undo, self.a_redo):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.a_key)
        tb.addSeparator()
        tb.addActions(list(self.mode_actions.values()))
        tb.addSeparator()
        tb.addAction(self.a_fit)
        tb.addAction(self.a_pick)
        tb.addSeparator()
        tb.addAction(self.a_colorize)
        tb.addAction(self.a_cancel)
        tb.addAction(self.a_export)
        tb.addAction(self.a_settings)
        for a in (self.a_undo, self.a_redo, self.a_fit, self.a_pick, self.a_save, self.a_key,
                  *self.mode_actions.values()):
            w = tb.widgetForAction(a)
            if isinstance(w, QToolButton):
                w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(tb)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.message = QLabel("")
        self.swatch = QLabel("")
        self.swatch.setMinimumWidth(0)
        self.method_label = QLabel("")
        self.method_label.setStyleSheet("color: #c0c4c9; padding: 0 6px;")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.eta = QLabel("")
        sb.addWidget(self.message, 1)
        sb.addPermanentWidget(self.swatch)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.eta)
        sb.addPermanentWidget(self.method_label)

    def _connect(self) -> None:
        self.timeline.currentFrameChanged.connect(self._on_current)
        self.timeline.colourDropped.connect(self.assign_colour)
        self.panel.prev_slot.imageDropped.connect(self.assign_colour)
        self.panel.next_slot.imageDropped.connect(self.assign_colour)
        self.panel.prev_slot.clicked.connect(self.go_to)
        self.panel.next_slot.clicked.connect(self.go_to)
        self.panel.mark_button.clicked.connect(lambda: self._guard(self.toggle_key))
        self.panel.promote_button.clicked.connect(lambda: self._guard(self.promote_current))
        self.viewer.picked.connect(self._on_pick)
        self.undo.cleanChanged.connect(self._on_clean_changed)
        self.undo.indexChanged.connect(self._on_undo_index)

    def _on_clean_changed(self, clean: bool) -> None:
        if shiboken6.isValid(self):
            self.setWindowModified(not clean)

    def _on_undo_index(self, _index: int) -> None:
        # The stack also signals while the window is being destroyed: ignore that one.
        if shiboken6.isValid(self) and shiboken6.isValid(self.undo):
            self._update_actions()

    def _restore_geometry(self) -> None:
        s = qsettings()
        geo = s.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 860)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)

    # ------------------------------------------------------------------ helpers

    def _start_preload(self) -> None:
        self._preload_pending = False
        if "torch" in sys.modules or self._preload is not None:
            return
        self._preload = threading.Thread(target=_preload_model, args=(self.settings.model,),
                                         name="opdm-preload", daemon=True)
        self._preload.start()

    def preload_done(self) -> bool:
        """True once the background import of torch (if one was planned) has finished."""
        if self._preload_pending:
            return False
        return self._preload is None or not self._preload.is_alive()

    def _guard(self, fn, *args) -> None:
        """Run a user action; show OPDMError plainly and log anything unexpected."""
        try:
            fn(*args)
        except Exception as exc:
            show_exception(self, exc)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        """Show a message in the status bar."""
        self.message.setText(text)
        if timeout_ms:
            # The label is the timer's context: the call is dropped if the window is gone by then.
            QTimer.singleShot(timeout_ms, self.message,
                              lambda t=text: self.message.text() == t and self.message.setText(""))

    @property
    def busy(self) -> bool:
        """True while a background job runs."""
        return self._running_kind is not None

    def current_frame(self) -> int:
        """Index of the current frame (-1 without a cut)."""
        return self.timeline.current_frame()

    @property
    def method(self) -> str:
        """The method colouring uses now: the chosen one, or flow while no model is usable.

        The stored preference is kept as chosen, so installing a model later brings OPDM back.
        """
        return self.settings.method if self.model_ok else "flow"

    def _check_model(self) -> None:
        ok, text, self.model_sampling = model_status(self.settings)
        self.model_ok, self.model_text = ok, text
        if not ok and self.settings.method == "opdm":
            # Without a model the app still works end to end with the flow preview.
            self.status(text)
        self._show_method()

    def _show_method(self) -> None:
        if self.method == "opdm":
            text = f"OPDM · {self.model_sampling}"
        elif not self.model_ok:
            # Say it where the user looks while colouring, not only once at start-up.
            text = "Flow preview · no OPDM model installed (see Tools > Settings)"
        else:
            text = "Flow preview"
        self.method_label.setText(text)
        self.method_label.setToolTip(self.model_text)

    def _update_actions(self) -> None:
        has = self.doc is not None
        busy = self.busy
        for a in (self.a_save, self.a_export, self.a_prev, self.a_next, self.a_first, self.a_last,
                  self.a_fit, self.a_100, self.a_pick, self.a_zoom_in, self.a_zoom_out):
            a.setEnabled(has)
        for a in (self.a_key, self.a_promote, self.a_colorize):
            a.setEnabled(has and not busy)
        self.a_save.setEnabled(has and not busy)
        self.a_export.setEnabled(has and not busy)
        self.a_open.setEnabled(not busy)
        self.a_cancel.setEnabled(busy)
        self.a_undo.setEnabled(not busy and self.undo.canUndo())
        self.a_redo.setEnabled(not busy and self.undo.canRedo())
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
            self.status("Welcome! This is the bundled sample cut: select frames on the timeline "
                        "and press Ctrl+Enter to colour them.")

    def open_dialog(self) -> None:
        """File > Open: choose a cut folder."""
        start = self.settings.recent[0] if self.settings.recent else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a cut folder", start)
        if folder:
            self.open_cut(folder)

    def open_cut(self, folder: str | Path) -> bool:
        """Open a cut (or project) folder; errors are shown in a dialog. True on success."""
        if self.busy:
            show_user_error(self, "Colouring is running: cancel it (Esc) before opening another cut.")
            return False
        if not self._maybe_save_changes():
            return False
        try:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                doc = Document.open(folder)
            finally:
                QApplication.restoreOverrideCursor()
        except Exception as exc:
            show_exception(self, exc)
            return False
        self.doc = doc
        self.undo.clear()
        self.model.set_document(doc, self.settings.thumb_size)
        self.settings.add_recent(folder)
        self.settings.save()
        self._fill_recent()
        self.setWindowTitle(f"{doc.name}[*] — OPDM Studio")
        done = sum(1 for i in range(doc.n_frames) if doc.has_result(i))
        warn = f" Warnings: {'; '.join(doc.cut.warnings)}" if doc.cut.warnings else ""
        self.status(f"Opened {doc.name}: {doc.n_frames} frames, {len(doc.keys())} keyframes, "
                    f"{done} coloured. Project: {doc.project.root}.{warn}")
        self.timeline.set_current_frame(0)
        self._update_actions()
        self.refresh_view()
        return True

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent:
            a = self.recent_menu.addAction(folder)
            a.triggered.connect(lambda _=False, f=folder: self.open_cut(f))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    def dragEnterEvent(self, event) -> None:
        """Accept a dropped folder."""
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        """Open a dropped cut folder."""
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            # Open after the drop returns so the source application is not kept waiting.
            QTimer.singleShot(0, self, lambda p=urls[0].toLocalFile(): self.open_cut(p))

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
        self.mode_actions[mode].setChecked(True)
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
            img, note, offset = compose(self.doc, frame, self._mode)
        except Exception as exc:
            self.viewer.set_image(None)
            show_exception(self, exc)
            return
        self.viewer.set_image(img, offset, self.doc.size[0])
        self.panel.show_frame(self.doc, frame)
        info = self.doc.result_info(frame)
        extra = ""
        if info is not None and info.status != "keyframe":
            extra = f" · confidence {info.confidence:.2f}" if info.confidence is not None else ""
            extra += f" · {info.flagged} region(s) to review" if info.flagged else ""
            extra += " · out of date: other keys or settings, Colorize redoes it" \
                if self.doc.is_outdated(frame) else ""
        if not self.busy:
            self.status(f"Frame {self.doc.frame_label(frame)} ({self.doc.frame_name(frame)}) · "
                        f"{MODE_LABELS[self._mode]}{extra}" + (f" · {note}" if note else ""))

    def _on_pick(self, x: int, y: int) -> None:
        frame = self.current_frame()
        if self.doc is None or frame < 0:
            return
        color = self.doc.result_color(frame)
        if color is None:
            self.status("Colour picker: this frame has no colour yet")
            return
        r, g, b = (int(v) for v in color[y, x])
        conf = self.doc.confidence(frame)
        c = f" · confidence {conf[y, x]:.2f}" if conf is not None else ""
        hexc = f"#{r:02x}{g:02x}{b:02x}"
        self.swatch.setText(f"  {hexc}  ")
        fg = "#000" if (r * 299 + g * 587 + b * 114) / 1000 > 128 else "#fff"
        self.swatch.setStyleSheet(f"background: {hexc}; color: {fg}; border: 1px solid #555;")
        self.status(f"Region colour at ({x}, {y}): {hexc} = RGB({r}, {g}, {b}){c}")
        self.last_pick = (x, y, (r, g, b))

    # ------------------------------------------------------------------ keyframe edits

    def _frame_changed(self, frame: int) -> None:
        self.model.frame_changed(frame)
        if self.doc is not None:
            # The neighbours' slots and the current view depend on the keys.
            self.refresh_view()

    def toggle_key(self, frame: int | None = None) -> None:
        """K: mark the current frame as a keyframe, or unmark it."""
        if self.doc is None or self.busy:
            return
        frame = self.current_frame() if frame is None else frame
        if frame < 0:
            return
        doc = self.doc
        name = doc.frame_label(frame)
        if doc.is_key(frame):
            cmd = apply_key_edit(self.undo, doc, frame, f"Unmark keyframe {name}",
                                 lambda: doc.unmark_key(frame), self._frame_changed)
        else:
            cmd = apply_key_edit(self.undo, doc, frame, f"Mark keyframe {name}",
                                 lambda: doc.mark_key(frame), self._frame_changed)
        self.status(cmd.text())

    def assign_colour(self, frame: int, image_path: str) -> None:
        """A coloured image dropped on a frame or slot: it becomes that keyframe's colour."""
        if self.doc is None or self.busy:
            return
        doc = self.doc
        try:
            cmd = apply_key_edit(self.undo, doc, frame, f"Colour keyframe {doc.frame_label(frame)} "
                                 f"from {Path(image_path).name}",
                                 lambda: doc.set_key_image(frame, image_path), self._frame_changed)
        except Exception as exc:
            show_exception(self, exc)
            return
        self.status(cmd.text())

    def promote_current(self) -> None:
        """Promote the current coloured frame to a keyframe and re-colour its neighbourhood."""
        if self.doc is None or self.busy:
            return
        frame = self.current_frame()
        doc = self.doc
        if doc.is_key(frame) or not doc.has_result(frame):
            show_user_error(self, "Only a coloured frame that is not yet a keyframe can be promoted.")
            return
        prev, nxt = doc.neighbours(frame)
        apply_key_edit(self.undo, doc, frame, f"Promote frame {doc.frame_label(frame)}",
                       lambda: doc.mark_key(frame), self._frame_changed)
        first = prev if prev is not None else 0
        last = nxt if nxt is not None else doc.n_frames - 1
        self.colorize(range(first, last + 1))

    # ------------------------------------------------------------------ colouring

    def colorize_selection(self) -> None:
        """Ctrl+Enter: colour the selected frames (min..max), or the whole cut if none."""
        if self.doc is None or self.busy:
            return
        sel = self.timeline.selected_frames()
        frames = range(sel[0], sel[-1] + 1) if sel else range(self.doc.n_frames)
        self.colorize(frames)

    def apply_settings_to_project(self) -> None:
        """Copy the app's colouring settings into the project before a run."""
        s, ps = self.settings, self.doc.project.settings
        ps.method = self.method
        ps.model = None if s.model == "default" else s.model
        ps.steps, ps.device, ps.working_size = s.steps, s.device, s.working_size
        ps.snap, ps.gap = s.snapping, s.gap
        ps.validate()

    def colorize(self, frames) -> None:
        """Colour ``frames`` in the background (results appear one by one)."""
        from opdm_studio.engine.run import Colorizer
        if self.doc is None or self.busy:
            return
        if not self.doc.keys():
            show_user_error(self, "No keyframes yet: mark at least one painted frame as a keyframe "
                                  "(select it and press K), or drop a coloured image on a frame.")
            return
        self.apply_settings_to_project()
        project, frames = self.doc.project, list(frames)

        # The layer files the run writes go to the project's own folder, which this app made;
        # replacing them is the point of a re-run (the engine otherwise refuses files a promoted
        # keyframe's earlier result wrote, because promotion drops that result's record).
        own_folder = project.output_dir.resolve() == project.root.resolve()

        def run(cancel):
            return Colorizer(project, overwrite=own_folder).run(frames=frames, cancel=cancel)
        self._start(Job("colorize", run, meta={"frames": frames}))
        self.status(f"Colouring {len(frames)} frame(s) with "
                    f"{'OPDM' if self.method == 'opdm' else 'the flow preview'}... (Esc cancels)")

    def _start(self, job: Job) -> None:
        self._running_kind = job.kind
        self._job_started = time.perf_counter()
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.eta.setText("starting...")
        self._update_actions()
        self._workers.worker.submit(job)

    def cancel(self) -> None:
        """Esc: stop the running job after its current step."""
        if self.busy:
            self._workers.worker.cancel()
            self.status("Cancelling after the current step...")

    def _on_progress(self, p: Progress) -> None:
        self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(f"{p.done}/{p.total}")
        self.eta.setText(_fmt_eta(p.eta_s))
        if p.message:
            self.status(p.message)
        cur = self.current_frame()
        if self.doc is not None and self._running_kind == "colorize":
            for f in p.frames:
                self.doc.forget(f)
                self.model.frame_changed(f)
            if cur in p.frames:
                self.refresh_view()

    def _on_finished(self, outcome: Outcome) -> None:
        self._running_kind = None
        self._last_outcome = outcome
        self.progress.setVisible(False)
        self.eta.setText("")
        self._update_actions()
        if self.doc is not None:
            self.doc.forget()
        if outcome.kind == "colorize" and self.doc is not None:
            self.model.layoutChanged.emit()
            self.refresh_view()
        if outcome.error is not None:
            show_exception(self, outcome.error)
            self.status(f"{outcome.kind.capitalize()} stopped by an error after {outcome.done} frame(s).")
        elif outcome.cancelled:
            self.status(f"{outcome.kind.capitalize()} cancelled: {outcome.done} of {outcome.total} "
                        "frame(s) finished and kept.")
        else:
            verb = "Coloured" if outcome.kind == "colorize" else "Exported"
            self.status(f"{verb} {outcome.done} frame(s) in {outcome.seconds:.1f} s.")
            if outcome.kind == "export":
                self._export_done(outcome)

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Process events until no job runs (scripts, tests, the screenshot tool)."""
        end = time.perf_counter() + timeout_s
        while self.busy and time.perf_counter() < end:
            QApplication.processEvents()
            time.sleep(0.005)
        QApplication.processEvents()
        return not self.busy

    # ------------------------------------------------------------------ saving, export, dialogs

    def save(self) -> None:
        """Ctrl+S: save the project file."""
        if self.doc is None or self.busy:
            return
        path = self.doc.save()
        self.undo.setClean()
        self.status(f"Saved {path}", 5000)

    def _maybe_save_changes(self) -> bool:
        if self.doc is None or self.undo.isClean():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the keyframe changes of {self.doc.name}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            try:
                self.save()
            except Exception as exc:
                show_exception(self, exc)
                return False
        return True

    def settings_dialog(self) -> None:
        """Tools > Settings."""
        from opdm_studio.engine.models import installed_models
        models = [m.path for m in installed_models() if not m.shipped]
        dlg = SettingsDialog(self.settings, self.model_text, models, self)
        self._settings_dialog = dlg
        if dlg.exec():
            self.apply_settings(dlg.result_settings())

    def apply_settings(self, new: AppSettings) -> None:
        """Use and store new settings."""
        thumbs_changed = new.thumb_size != self.settings.thumb_size
        self.settings = new
        self.settings.save()
        ok, text, self.model_sampling = model_status(self.settings)
        self.model_ok, self.model_text = ok, text
        if self.settings.method == "opdm" and not ok:
            show_user_error(self, text)
        self._show_method()
        if self.doc is not None and not self.busy:
            # The timeline marks results made with the old settings as out of date at once.
            self.apply_settings_to_project()
            self.model.layoutChanged.emit()
        if thumbs_changed:
            self.model.set_thumb_size(new.thumb_size)

    def export_dialog(self) -> None:
        """Ctrl+E: the export dialog."""
        from opdm_studio.app.export_dialog import ExportDialog
        if self.doc is None or self.busy:
            return
        dlg = ExportDialog(self, self.doc, self.timeline.selected_frames())
        self.export_dlg = dlg
        dlg.exportRequested.connect(lambda req: self._guard(self.start_export, req))
        dlg.open()

    def start_export(self, request) -> None:
        """Run an export request in the background (after the overwrite question)."""
        from opdm_studio.app.export_dialog import existing_targets, export_job
        if self.doc is None or self.busy:
            return
        existing = existing_targets(self.doc, request)
        if existing:
            answer = QMessageBox.question(
                self, "Overwrite files?",
                f"{len(existing)} file(s) already exist in {request.folder}, e.g. {existing[0].name}.\n"
                "Overwrite them?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                self.status("Export not started: nothing was overwritten.")
                dlg = getattr(self, "export_dlg", None)
                if dlg is not None:
                    dlg.progress.setVisible(False)
                return
            request.overwrite = True
        self._start(export_job(self.doc, request))
        self.status(f"Exporting {len(request.frames)} frame(s) to {request.folder}...")

    def _export_done(self, outcome: Outcome) -> None:
        request = outcome.meta.get("request")
        dlg = getattr(self, "export_dlg", None)
        if dlg is not None and dlg.isVisible():
            dlg.accept()
        if request is not None and request.open_folder and self.open_folder_after_export:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(request.folder)))

    def open_finetune_wizard(self) -> None:
        """Tools > Fine-tune wizard (built by the training side, imported on demand)."""
        try:
            from opdm_studio.app.finetune_wizard import FineTuneWizard
        except Exception as exc:
            log.warning("fine-tune wizard unavailable: %r", exc)
            show_user_error(self, "The fine-tune wizard is not available in this installation "
                                  f"({type(exc).__name__}: {exc}). Use `opdm-studio train` instead.")
            return
        wiz = FineTuneWizard(self)
        self._wizard = wiz
        # A fine-tune installs a model: look again when the wizard closes.
        if hasattr(wiz, "finished"):
            wiz.finished.connect(lambda _result: self._check_model())
        wiz.show()

    def about(self) -> None:
        """Help > About."""
        from opdm_studio import __version__
        QMessageBox.about(self, "About OPDM Studio",
                          f"<b>OPDM Studio {__version__}</b><br>Colour 2D animation from painted "
                          "keyframes with the Offset Prior-based Diffusion Model.<br>Everything runs "
                          f"on this computer.<br><br>{self.model_text}<br>Log: {paths.log_file()}")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the worker, offer to save, remember the window layout."""
        if self.busy:
            self._workers.worker.cancel()
            self.wait_idle(30)
        if not self._maybe_save_changes():
            event.ignore()
            return
        s = qsettings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.sync()
        self.model.set_document(None)
        self._workers.stop()
        event.accept()
