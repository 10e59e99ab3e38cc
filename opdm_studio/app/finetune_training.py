"""The fine-tune wizard's training page: training in a worker object on a QThread (signals only,
stopped through a ``threading.Event``), progress against the minutes budget, the phase, the loss
curve, validation on the held-back frames every few minutes, pause / resume / cancel; at the end
the start model and the fine-tuned model are compared on the held-back frames. The run itself is
``training.finetune`` (Qt-free)."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from opdm_studio.app.theme import help_label
from opdm_studio.errors import OPDMError
from training.finetune import read_state, spent_minutes, update_state

if TYPE_CHECKING:   # (the wizard's module imports this one: for type checkers only)
    from opdm_studio.app.finetune_wizard import FineTuneWizard

#: What each phase is, for the status line.
PHASE_TEXT = {"align": QT_TRANSLATE_NOOP("TrainPage", "stage 1 (offset estimators)"),
              "train": QT_TRANSLATE_NOOP("TrainPage", "training")}


def to_pixmap(img: np.ndarray, max_w: int = 720) -> QPixmap:
    """uint8 RGB (H, W, 3) -> QPixmap, scaled down to ``max_w``."""
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    q = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    pm = QPixmap.fromImage(q)
    if w > max_w:
        pm = pm.scaledToWidth(max_w, Qt.TransformationMode.SmoothTransformation)
    return pm


def clock(seconds: float) -> str:
    """m:ss (or h:mm:ss) of a duration."""
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# ------------------------------------------------------------------------------------------
# worker
# ------------------------------------------------------------------------------------------
class TrainWorker(QObject):
    """Runs the run's phases, then the comparison, in a QThread; reports by signals, stops through
    an Event."""

    progress = Signal(int, float, float)     # step, training seconds spent in all, loss
    validated = Signal(object)               # dict of validation figures
    phase = Signal(str, int, int)            # name, index, count ("compare" at the end)
    sample = Signal(str)                     # path of the latest sample grid
    finished = Signal(str)                   # "finished" | "paused" | "cancelled"
    failed = Signal(str)

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.stop = threading.Event()
        self.cancelled = False
        self._last_emit = 0.0
        self._spent0 = 0.0
        self._t0 = 0.0

    @Slot()
    def work(self) -> None:
        """Train what is left of the run (resuming its checkpoints), then compare it with the start
        model on the held-back frames."""
        from training.finetune import compare_run, train_phases
        try:
            self._spent0, self._t0 = spent_minutes(self.run_dir) * 60, time.monotonic()
            status = train_phases(self.run_dir, callback=self._on_event, stop=self.stop,
                                  on_phase=self._on_phase)
            if status == "finished" and not (self.run_dir / "comparison.json").is_file():
                self.phase.emit("compare", 0, 0)
                try:
                    compare_run(self.run_dir, should_stop=self.stop.is_set)
                except InterruptedError:
                    status = "paused"
            if status == "paused" and self.cancelled:
                status = "cancelled"
            update_state(self.run_dir, status=status)
            self.finished.emit(status)
        except OPDMError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # show it instead of killing the thread silently
            self.failed.emit(f"{type(exc).__name__}: {exc}")

    def _on_phase(self, name: str, index: int, count: int) -> None:
        self._spent0, self._t0 = spent_minutes(self.run_dir) * 60, time.monotonic()
        self.phase.emit(name, index, count)

    def _on_event(self, ev: Any) -> None:
        now = time.monotonic()
        if ev.sample is not None:
            self.sample.emit(str(ev.sample))
        if ev.val:
            self.validated.emit(dict(ev.val))
        # Throttled to ~10 signals/s; validations and samples always pass.
        if now - self._last_emit > 0.1 or ev.sample is not None or ev.val:
            self._last_emit = now
            self.progress.emit(ev.step, self._spent0 + now - self._t0,
                               float(ev.losses.get("loss", float("nan"))))


class LossPlot(QLabel):
    """The run's loss curve (drawn by training.plots.plot_loss_curve from the phases' logs)."""

    def refresh(self, run_dir: Path) -> None:
        """Redraw from the logs of the run's phases."""
        from training.finetune import log_records
        from training.plots import plot_loss_curve
        recs = log_records(run_dir)
        self.setPixmap(to_pixmap(plot_loss_curve(recs, None, (560, 240))))


class TrainPage(QWizardPage):
    """Training in a background thread: time against the budget, the phase, validation on the
    held-back frames, pause, resume and cancel."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Training"))
        self.status = QLabel(self.tr("Preparing..."))
        self.status.setObjectName("trainStatus")
        self.status.setWordWrap(True)
        self.validation = QLabel(self.tr("The held-back frames are checked every few minutes."))
        self.validation.setObjectName("validation")
        self.validation.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setFormat(self.tr("%p% of the time budget"))
        self.plot = LossPlot()
        # What the curve and the figures mean, in a colourist's words.
        self.plot_help = help_label(self.tr("The curve is the training error: how far the model's colours still are "
                                            "from the frames it learns from (lower is better). It falls, then levels "
                                            "out. The held-back frames, never trained on, tell whether it learnt your "
                                            "cuts' colouring or only those frames: PSNR there is how close its colours "
                                            "come to your finished frames (higher is closer; +1 dB is about 11 % less "
                                            "colour error), SSIM how well shapes and shading match (1 = identical)."), "trainingHelp")
        self.sample = QLabel()
        self.pause_btn = QPushButton(self.tr("Pause"))
        self.pause_btn.clicked.connect(self.pause)
        self.resume_btn = QPushButton(self.tr("Resume"))
        self.resume_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton(self.tr("Cancel training"))
        self.cancel_btn.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.pause_btn, self.resume_btn, self.cancel_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addWidget(self.bar)
        lay.addLayout(buttons)
        lay.addWidget(self.validation)
        lay.addWidget(self.plot)
        lay.addWidget(self.plot_help)
        lay.addWidget(self.sample, 1)
        self.run_dir: Path | None = None
        self.train_thread: QThread | None = None
        self.worker: TrainWorker | None = None
        self.outcome = ""
        self.phase_name = ""
        self.phases_seen: list[str] = []
        self.steps = 0
        self.expected_steps = 0
        self.budget_s = 0.0

    def initializePage(self) -> None:
        """Create the run (or pick the resumed one) and start training."""
        self.run_dir = cast("FineTuneWizard", self.wizard()).run_to_train()
        st = read_state(self.run_dir)
        self.outcome = st.get("status", "")
        self.budget_s = float(st.get("minutes", 0.0)) * 60
        self.expected_steps = int(st.get("expected_steps", 0))
        self.bar.setMaximum(max(1, int(self.budget_s)))
        self.bar.setValue(min(self.bar.maximum(), int(spent_minutes(self.run_dir) * 60)))
        if self.outcome == "finished" and (self.run_dir / "comparison.json").is_file():
            self._done("finished")
        else:
            self.start()

    def start(self) -> None:
        """Start or resume the worker thread."""
        if self.train_thread is not None or self.run_dir is None:
            return
        self.outcome = ""
        update_state(self.run_dir, status="running")
        self.train_thread = QThread(self)
        self.worker = TrainWorker(self.run_dir)
        self.worker.moveToThread(self.train_thread)
        self.train_thread.started.connect(self.worker.work)
        self.worker.progress.connect(self._progress)
        self.worker.validated.connect(self._validated)
        self.worker.phase.connect(self._phase)
        self.worker.sample.connect(self._sample)
        self.worker.finished.connect(self._done)
        self.worker.failed.connect(self._failed)
        self.status.setText(self.tr("Training... (the first steps are slow while the model warms up)"))
        self.pause_btn.setEnabled(True)
        self.resume_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.train_thread.start()
        self.completeChanged.emit()

    def pause(self) -> None:
        """Stop after the current step with a checkpoint; Resume (or a later app session) goes on."""
        if self.worker is not None:
            self.status.setText(self.tr("Pausing after this step..."))
            self.worker.stop.set()

    def cancel(self) -> None:
        """Stop training; the run stays on disk and can be resumed from the first page."""
        if self.worker is not None:
            self.worker.cancelled = True
            self.worker.stop.set()
            self.status.setText(self.tr("Cancelling after this step..."))

    def _stop_thread(self) -> None:
        if self.train_thread is not None:
            self.train_thread.quit()
            self.train_thread.wait()
            self.train_thread.deleteLater()
            if self.worker is not None:
                self.worker.deleteLater()
        self.train_thread = None
        self.worker = None

    @Slot(str, int, int)
    def _phase(self, name: str, index: int, count: int) -> None:
        self.phase_name = name
        self.phases_seen.append(name)
        if name == "compare":
            self.status.setText(self.tr("Comparing the start model and the fine-tuned model on the held-back "
                                        "frames..."))
            self.pause_btn.setEnabled(False)
        elif count > 1:
            self.status.setText(self.tr("Phase {index} of {count}: {phase}...").format(
                index=index + 1, count=count, phase=self._phase_text(name)))

    @Slot(int, float, float)
    def _progress(self, step: int, spent: float, loss: float) -> None:
        self.steps = step
        self.bar.setValue(min(self.bar.maximum(), int(spent)))
        phase = self._phase_text(self.phase_name or "train")
        text = (self.tr("{phase}: step {step} (about {expected} expected), {spent} of {budget}, training error "
                        "{loss}") if self.expected_steps else
                self.tr("{phase}: step {step}, {spent} of {budget}, training error {loss}"))
        self.status.setText(text.format(phase=phase[:1].upper() + phase[1:], step=step, expected=self.expected_steps,
                                        spent=clock(spent), budget=clock(self.budget_s), loss=f"{loss:.4f}"))
        if self.run_dir is not None:
            self.plot.refresh(self.run_dir)

    def _phase_text(self, name: str) -> str:
        return self.tr(PHASE_TEXT[name]) if name in PHASE_TEXT else name  # type: ignore[arg-type]  # (NOOP: object)

    @Slot(object)
    def _validated(self, val: dict) -> None:
        text = self.tr("Held-back frames at step {step}: PSNR {psnr} dB").format(
            step=self.steps, psnr=f"{val.get('val_psnr', float('nan')):.2f}")
        if "val_psnr_prop" in val:
            text += " " + self.tr("(the flow propagation alone: {psnr} dB)").format(psnr=f"{val['val_psnr_prop']:.2f}")
        if "val_ssim" in val:
            text += f", SSIM {val['val_ssim']:.3f}"
        if "val_psnr_prop" in val and "val_psnr" in val:
            # dB -> the share of colour error (RMS) the model takes off the flow propagation's.
            pct = (1 - 10 ** (-(val["val_psnr"] - val["val_psnr_prop"]) / 20)) * 100
            text += ". " + (self.tr("Its colours are {pct} % closer to your finished frames than the flow "
                                    "preview's.") if pct >= 0 else
                            self.tr("Its colours are still {pct} % further from your finished frames than the flow "
                                    "preview's.")).format(pct=f"{abs(pct):.0f}")
        self.validation.setText(text + f"  [{time.strftime('%H:%M')}]")

    @Slot(str)
    def _sample(self, path: str) -> None:
        from training.compare import read_sheet
        self.sample.setPixmap(to_pixmap(read_sheet(path), 720))

    @Slot(str)
    def _done(self, outcome: str) -> None:
        self._stop_thread()
        self.outcome = outcome
        texts = {"finished": self.tr("Training finished. Next shows the start model and the fine-tuned model "
                                     "side by side."),
                 "paused": self.tr("Paused. Resume now, or close the wizard and resume it later from its first "
                                   "page."),
                 "cancelled": self.tr("Cancelled. The run is kept and can be resumed from the first page.")}
        self.status.setText(texts.get(outcome, outcome))
        self.pause_btn.setEnabled(False)
        self.resume_btn.setEnabled(outcome in ("paused", "cancelled"))
        self.cancel_btn.setEnabled(False)
        if self.run_dir is not None:
            self.plot.refresh(self.run_dir)
            if outcome == "finished":
                self.bar.setValue(self.bar.maximum())
        self.completeChanged.emit()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._stop_thread()
        self.outcome = "failed"
        self.status.setText(self.tr("Training stopped: {reason}").format(reason=message))
        self.resume_btn.setEnabled(True)
        self.pause_btn.setEnabled(False)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Next (the comparison) once training has finished."""
        return self.outcome == "finished"

    def cleanupPage(self) -> None:
        """Going Back pauses the run (it can be resumed)."""
        self.shutdown()

    def shutdown(self) -> None:
        """Pause a running worker and wait for it (wizard closed or app quitting)."""
        if self.worker is not None:
            self.worker.stop.set()
        if self.train_thread is not None:
            self.train_thread.quit()
            self.train_thread.wait()
            self.train_thread = None
            self.worker = None
            if self.run_dir is not None and read_state(self.run_dir).get("status") == "running":
                update_state(self.run_dir, status="paused")
