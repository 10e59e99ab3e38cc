"""The export dialog's check before writing: the frames of the range left out (not coloured),
those written out of date, and the unpainted-pixel check (塗り残し) on what would be written, run
in a background thread frame by frame; Export asks before going on when the check found
something. The checks themselves are the engine's (:mod:`opdm_studio.engine.export_check`).
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from opdm_studio.app.i18n import translate
from opdm_studio.engine.export_check import ExportCheck, check_frame, check_range, spans
from opdm_studio.errors import OPDMError
from opdm_studio.imaging.unpainted import Unpainted

if TYPE_CHECKING:   # (the window's module imports this one: for type checkers only)
    from opdm_studio.app.main_window import MainWindow

log = logging.getLogger("opdm_studio.app")
MAX_LISTED = 6      # frames named one by one in the unpainted line; the rest are counted


class _Relay(QObject):
    """Carries the background check's findings to the GUI thread (queued signals)."""

    checked = Signal(int, int, object)   # generation, frame, Unpainted
    failed = Signal(int, str)            # generation, message


class ExportCheckPanel(QGroupBox):
    """"Check before export": what the export of a range leaves out, writes out of date, or
    writes with unpainted pixels. ``set_frames`` starts a new check."""

    def __init__(self, doc, parent: QWidget | None = None) -> None:
        super().__init__(translate("export_check", "Check before export"), parent)
        self.setObjectName("exportCheck")
        self._doc = doc
        self.check = ExportCheck([])
        self.error = ""
        self._gen = 0
        self._started = False
        self._stop = threading.Event()
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setObjectName("exportCheckText")
        self.show_button = QPushButton(translate("export_check", "Show in the Unpainted view"))
        self.show_button.setToolTip(translate("export_check", "Close this dialog and show the first frame with "
                                                              "unpainted pixels, zoomed on its largest spot"))
        self.show_button.setVisible(False)
        self.show_button.clicked.connect(self.show_first)
        lay = QVBoxLayout(self)
        lay.addWidget(self.label)
        lay.addWidget(self.show_button, 0, Qt.AlignmentFlag.AlignRight)
        self._relay = _Relay(self)
        self._relay.checked.connect(self._on_checked)
        self._relay.failed.connect(self._on_failed)
        self._timer = QTimer(self, singleShot=True, interval=250)   # a range typed digit by digit
        self._timer.timeout.connect(self._start_scan)

    # ------------------------------------------------------------------ running

    def set_frames(self, frames: list[int]) -> None:
        """Check the export of ``frames`` (indices): the quick part now, the unpainted pixels
        in the background."""
        frames = sorted(set(frames))
        if self._started and frames == self.check.frames and not self.error:
            return
        self._started = True
        self.stop()
        self.check = check_range(self._doc.project, frames)
        self.error = ""
        self._timer.start()
        self._show()

    def _start_scan(self) -> None:
        self._stop = stop = threading.Event()
        gen, frames, project = self._gen, list(self.check.exported), self._doc.project
        relay = self._relay

        def scan() -> None:
            from opdm_studio.engine.fixes import fixer_for
            fixer = fixer_for(project)     # its own region cache: the window's stays the window's
            for i in frames:
                if stop.is_set():
                    return
                try:
                    found = check_frame(project, fixer, i)
                except OPDMError as exc:
                    relay.failed.emit(gen, str(exc))
                    return
                except Exception as exc:     # never a dead dialog for a check
                    log.exception("unpainted check failed on frame %s", i)
                    relay.failed.emit(gen, f"{type(exc).__name__}: {exc}")
                    return
                try:
                    relay.checked.emit(gen, i, found)
                except RuntimeError:         # the dialog was deleted meanwhile
                    return
        threading.Thread(target=scan, daemon=True, name="opdm-export-check").start()

    def stop(self) -> None:
        """Stop the running check (the dialog closes, or the range changed)."""
        self._timer.stop()
        self._stop.set()
        self._gen += 1

    @property
    def finished(self) -> bool:
        """True when the unpainted check looked at every frame the export writes."""
        return self.check.checked >= len(self.check.exported)

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Process events until the check is done (tests, the screenshot tool)."""
        from PySide6.QtCore import QDeadlineTimer
        from PySide6.QtWidgets import QApplication
        deadline = QDeadlineTimer(timeout_ms)
        if self._timer.isActive():
            self._timer.stop()
            self._start_scan()
        while not self.finished and not self.error and not deadline.hasExpired():
            QApplication.processEvents()
            threading.Event().wait(0.005)
        return self.finished

    def _on_checked(self, gen: int, frame: int, found: Unpainted) -> None:
        if gen != self._gen:
            return
        self.check.checked += 1
        if not found.clean:
            self.check.unpainted[frame] = found
        self._show()

    def _on_failed(self, gen: int, message: str) -> None:
        if gen == self._gen:
            self.error = message
            self._show()

    # ------------------------------------------------------------------ words

    def _numbers(self, frames: list[int]) -> str:
        return spans(self._doc.project.cut.frames[i].number for i in frames)

    def lines(self) -> list[str]:
        """The check in sentences, one per finding (what the panel and the question show)."""
        c, out = self.check, []
        if c.missing:
            out.append(translate("export_check", "Not coloured, left out: frames {frames} ({n}).").format(
                frames=self._numbers(c.missing), n=len(c.missing)))
        if c.outdated:
            out.append(translate("export_check", "Out of date, written as they are: frames {frames} ({n}). "
                                                 "Colour them again first to bring them up to date.").format(
                frames=self._numbers(c.outdated), n=len(c.outdated)))
        if c.unpainted:
            frames = sorted(c.unpainted)
            named = ", ".join(translate("export_check", "{frame} ({px} px)").format(
                frame=self._doc.project.cut.frames[i].number, px=c.unpainted[i].pixels) for i in frames[:MAX_LISTED])
            if len(frames) > MAX_LISTED:
                named += translate("export_check", " and {n} more").format(n=len(frames) - MAX_LISTED)
            out.append(translate("export_check", "Unpainted pixels (paper white or line ink inside paint) on "
                                                 "{n} frame(s): {frames}. The Unpainted view shows them "
                                                 "hatched.").format(n=len(frames), frames=named))
        if self.error:
            out.append(translate("export_check", "The unpainted check stopped: {error}").format(error=self.error))
        elif not self.finished:
            out.append(translate("export_check", "Checking for unpainted pixels: {done} of {total} frame(s)...")
                       .format(done=c.checked, total=len(c.exported)))
        elif not out:
            out.append(translate("export_check", "Every frame is coloured, up to date and fully painted."))
        return out

    def show_first(self) -> None:
        """Close the dialog and show the first frame with unpainted pixels in the main window's
        Unpainted view, zoomed on its largest spot (the dialog's parent is the main window)."""
        dlg = self.window()
        win = cast("MainWindow | None", dlg.parentWidget())
        if not self.check.unpainted or getattr(dlg, "running", False) or win is None:
            return
        frame = min(self.check.unpainted)
        x, y, w, h = self.check.unpainted[frame].boxes[0]
        dlg.close()
        win.go_to(frame)
        win.set_mode("unpainted")
        win.viewer.zoom_on(QRectF(x + w / 2 - 120, y + h / 2 - 120, 240, 240))

    def _show(self) -> None:
        self.show_button.setVisible(bool(self.check.unpainted))
        self.label.setText("\n".join(self.lines()))
        bad = bool(self.check.missing or self.check.outdated or self.check.unpainted or self.error)
        self.label.setStyleSheet("color: #ffb74d;" if bad else "")

    def confirm(self, parent: QWidget | None) -> bool:
        """Before writing: True to go on. When the check found something (or has not finished),
        the colourist is asked whether to export anyway."""
        if self.finished and not self.error and self.check.clean:
            return True
        button = QMessageBox.StandardButton
        answer = QMessageBox.question(
            parent, translate("export_check", "Export anyway?"),
            "\n\n".join([*self.lines(), translate("export_check", "Export anyway?")]),
            button.Yes | button.No, button.No)
        return answer == button.Yes
