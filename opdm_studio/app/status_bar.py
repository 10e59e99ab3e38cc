"""The main window's status bar: message, picked colour, job progress, colouring method."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from opdm_studio.app.network import NetworkStatus
from opdm_studio.app.worker import Progress


def format_eta(seconds: float | None) -> str:
    """"ETA 1:05" / "ETA 42 s" ("" while unknown)."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"ETA {seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"ETA {seconds} s"


class StatusBar:
    """The widgets of the window's status bar and what they show (adds them to ``bar``)."""

    def __init__(self, bar: QStatusBar) -> None:
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
        bar.addWidget(self.message, 1)
        bar.addPermanentWidget(self.swatch)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.eta)
        bar.addPermanentWidget(self.method_label)

    def say(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` (cleared after ``timeout_ms`` unless replaced meanwhile)."""
        self.message.setText(text)
        if timeout_ms:
            # The label is the timer's context: the call is dropped if the window is gone by then.
            QTimer.singleShot(timeout_ms, self.message,
                              lambda t=text: self.message.text() == t and self.message.setText(""))

    def show_swatch(self, rgb: tuple[int, int, int]) -> str:
        """Show a picked colour as a swatch; returns its hex code."""
        r, g, b = rgb
        hexc = f"#{r:02x}{g:02x}{b:02x}"
        self.swatch.setText(f"  {hexc}  ")
        fg = "#000" if (r * 299 + g * 587 + b * 114) / 1000 > 128 else "#fff"
        self.swatch.setStyleSheet(f"background: {hexc}; color: {fg}; border: 1px solid #555;")
        return hexc

    def show_method(self, method: str, network: NetworkStatus) -> None:
        """Say which method colouring uses now (and why not OPDM, if so)."""
        if method == "opdm":
            text = f"OPDM · {network.sampling}"
        elif not network.usable:
            # Say it where the user looks while colouring, not only once at start-up.
            text = "Flow preview · no OPDM model installed (see Tools > Settings)"
        else:
            text = "Flow preview"
        self.method_label.setText(text)
        self.method_label.setToolTip(network.text)

    def job_started(self) -> None:
        """A background job starts: show an empty progress bar."""
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.eta.setText("starting...")

    def job_progress(self, p: Progress) -> None:
        """Show a job's throttled progress (bar, frames, ETA, message)."""
        self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(f"{p.done}/{p.total}")
        self.eta.setText(format_eta(p.eta_s))
        if p.message:
            self.say(p.message)

    def job_ended(self) -> None:
        """The job is over: hide the progress bar."""
        self.progress.setVisible(False)
        self.eta.setText("")
