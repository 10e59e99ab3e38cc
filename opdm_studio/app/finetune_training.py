"""The fine-tune wizard's training page: training in a worker object on a QThread (signals only,
stopped through a ``threading.Event``), live loss curve and latest sample grid, pause / resume /
cancel. The run itself is ``training.finetune`` (Qt-free)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from opdm_studio.errors import OPDMError
from training.finetune import read_state, update_state


def to_pixmap(img: np.ndarray, max_w: int = 720) -> QPixmap:
    """uint8 RGB (H, W, 3) -> QPixmap, scaled down to ``max_w``."""
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    q = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    pm = QPixmap.fromImage(q)
    if w > max_w:
        pm = pm.scaledToWidth(max_w, Qt.TransformationMode.SmoothTransformation)
    return pm


# ------------------------------------------------------------------------------------------
# worker
# ------------------------------------------------------------------------------------------
class TrainWorker(QObject):
    """Runs the training loop in a QThread; reports by signals, stops through an Event."""

    progress = Signal(int, int, float)      # step, total, loss
    sample = Signal(str)                     # path of the latest sample grid
    finished = Signal(str)                   # "finished" | "paused" | "cancelled"
    failed = Signal(str)

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.stop = threading.Event()
        self.cancelled = False
        self._last_emit = 0.0

    @Slot()
    def work(self) -> None:
        """Train the run's phases (stage 1 first when starting from scratch), resuming what exists."""
        from training.finetune import train_phases, update_state
        try:
            status = train_phases(self.run_dir, callback=self._on_event, stop=self.stop)
            if status == "paused" and self.cancelled:
                status = "cancelled"
            update_state(self.run_dir, status=status)
            self.finished.emit(status)
        except OPDMError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # show it instead of killing the thread silently
            self.failed.emit(f"{type(exc).__name__}: {exc}")

    def _on_event(self, ev) -> None:
        now = time.monotonic()
        # Throttle to ~10 signals/s; always pass samples and the last step through.
        if ev.sample is not None:
            self.sample.emit(str(ev.sample))
        if now - self._last_emit > 0.1 or ev.step == ev.total or ev.sample is not None:
            self._last_emit = now
            self.progress.emit(ev.step, ev.total, float(ev.losses.get("loss", float("nan"))))


class LossPlot(QLabel):
    """The run's loss curve (drawn by training.plots.plot_loss_curve from the phases' logs)."""

    def refresh(self, run_dir: Path) -> None:
        """Redraw from the logs of the run's phases."""
        from training.finetune import log_records
        from training.plots import plot_loss_curve
        recs = log_records(run_dir)
        self.setPixmap(to_pixmap(plot_loss_curve(recs, None, (560, 240))))


class TrainPage(QWizardPage):
    """Training in a background thread with live loss, latest samples, pause and cancel."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Training")
        self.status = QLabel("Preparing...")
        self.status.setObjectName("trainStatus")
        self.bar = QProgressBar()
        self.plot = LossPlot()
        self.sample = QLabel()
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.clicked.connect(self.pause)
        self.resume_btn = QPushButton("Resume")
        self.resume_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel training")
        self.cancel_btn.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.pause_btn, self.resume_btn, self.cancel_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addWidget(self.bar)
        lay.addLayout(buttons)
        lay.addWidget(self.plot)
        lay.addWidget(self.sample, 1)
        self.run_dir: Path | None = None
        self.thread: QThread | None = None
        self.worker: TrainWorker | None = None
        self.outcome = ""

    def initializePage(self) -> None:
        """Create the run (or pick the resumed one) and start training."""
        self.run_dir = self.wizard().run_to_train()
        self.outcome = read_state(self.run_dir).get("status", "")
        if self.outcome == "finished":
            self._done("finished")
        else:
            self.start()

    def start(self) -> None:
        """Start or resume the worker thread."""
        if self.thread is not None or self.run_dir is None:
            return
        self.outcome = ""
        update_state(self.run_dir, status="running")
        self.thread = QThread(self)
        self.worker = TrainWorker(self.run_dir)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.work)
        self.worker.progress.connect(self._progress)
        self.worker.sample.connect(self._sample)
        self.worker.finished.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.status.setText("Training... (the first steps are slow while the model warms up)")
        self.pause_btn.setEnabled(True)
        self.resume_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.thread.start()
        self.completeChanged.emit()

    def pause(self) -> None:
        """Stop after the current step with a checkpoint; Resume (or a later app session) goes on."""
        if self.worker is not None:
            self.status.setText("Pausing after this step...")
            self.worker.stop.set()

    def cancel(self) -> None:
        """Stop training; the run stays on disk and can be resumed from the first page."""
        if self.worker is not None:
            self.worker.cancelled = True
            self.worker.stop.set()
            self.status.setText("Cancelling after this step...")

    def _stop_thread(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
            self.thread.deleteLater()
            self.worker.deleteLater()
        self.thread = None
        self.worker = None

    @Slot(int, int, float)
    def _progress(self, step: int, total: int, loss: float) -> None:
        self.bar.setMaximum(total)
        self.bar.setValue(step)
        self.status.setText(f"Step {step} / {total}   loss {loss:.4f}")
        if self.run_dir is not None:
            self.plot.refresh(self.run_dir)

    @Slot(str)
    def _sample(self, path: str) -> None:
        self.sample.setPixmap(QPixmap(path))

    @Slot(str)
    def _done(self, outcome: str) -> None:
        self._stop_thread()
        self.outcome = outcome
        texts = {"finished": "Training finished. Next installs the model.",
                 "paused": "Paused. Resume now, or close the wizard and resume it later from its first page.",
                 "cancelled": "Cancelled. The run is kept and can be resumed from the first page."}
        self.status.setText(texts.get(outcome, outcome))
        self.pause_btn.setEnabled(False)
        self.resume_btn.setEnabled(outcome in ("paused", "cancelled"))
        self.cancel_btn.setEnabled(False)
        if self.run_dir is not None:
            self.plot.refresh(self.run_dir)
        self.completeChanged.emit()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._stop_thread()
        self.outcome = "failed"
        self.status.setText(f"Training stopped: {message}")
        self.resume_btn.setEnabled(True)
        self.pause_btn.setEnabled(False)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Next (install) once training has finished."""
        return self.outcome == "finished"

    def cleanupPage(self) -> None:
        """Going Back pauses the run (it can be resumed)."""
        self.shutdown()

    def shutdown(self) -> None:
        """Pause a running worker and wait for it (wizard closed or app quitting)."""
        if self.worker is not None:
            self.worker.stop.set()
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
            self.thread = None
            self.worker = None
            if self.run_dir is not None and read_state(self.run_dir).get("status") == "running":
                update_state(self.run_dir, status="paused")
