"""Tools > Fine-tune wizard: fine-tune the colouring model on the studio's own finished cuts.

Pages: choose the cuts folder (or an unfinished run to resume) -> data check (cuts, frames,
sizes, problems, sampled triplets) -> settings (start model, steps, batch, device, name) ->
training (background QThread, live loss plot and latest sample grid, pause / cancel; state under
``paths.training_runs_dir()`` so a paused or interrupted run resumes after the app restarts) ->
install (fp16 model in ``paths.models_dir()``, selected in the app settings).

The wizard is a thin adapter: data checks, training and export are the Qt-free ``training``
package; the worker talks back by signals only and stops through a ``threading.Event``.
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPlainTextEdit, QProgressBar, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget, QWizard, QWizardPage)

from opdm_studio import paths
from opdm_studio.errors import OPDMError
from opdm_studio.fileio import write_text_atomic

STATE_FILE = "wizard.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def _to_pixmap(img: np.ndarray, max_w: int = 720) -> QPixmap:
    """uint8 RGB (H, W, 3) -> QPixmap, scaled down to ``max_w``."""
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    q = QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    pm = QPixmap.fromImage(q)
    if w > max_w:
        pm = pm.scaledToWidth(max_w, Qt.TransformationMode.SmoothTransformation)
    return pm


def read_state(run_dir: Path) -> dict[str, Any]:
    """The wizard's record of a run (empty if missing or torn)."""
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Write the run record atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / STATE_FILE, json.dumps(state, indent=1))


def unfinished_runs() -> list[Path]:
    """Runs started from the wizard that were not installed yet (newest first)."""
    root = paths.training_runs_dir()
    runs = [p for p in root.iterdir() if p.is_dir() and read_state(p).get("status") not in (None, "installed")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


def installed_model_choices() -> list[tuple[str, str]]:
    """(label, path) of models to start from: the app's default, then installed ones."""
    out: list[tuple[str, str]] = []
    try:
        from opdm_studio.engine.models import default_model_path
        p = default_model_path()
        if p is not None and Path(p).is_file():
            out.append((f"Default model ({Path(p).stem})", str(p)))
    except Exception:  # engine not ready / no default model shipped: offer what is installed
        pass
    for p in sorted(paths.models_dir().glob("*.safetensors")):
        out.append((f"Installed: {p.stem}", str(p)))
    return out


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
        """Train (stage 1 first when starting from scratch), resuming whatever exists."""
        from training.align import AlignStage
        from training.train import TrainConfig, latest_checkpoint, run
        try:
            state = read_state(self.run_dir)
            phases = state["phases"]
            status = "finished"
            for ph in phases:
                cfg = TrainConfig.from_dict(ph["config"])
                done = read_state(self.run_dir).get("done", [])
                if ph["name"] in done:
                    continue
                cfg.resume = latest_checkpoint(cfg.out) is not None
                stage = AlignStage() if ph["name"] == "align" else None
                ev = run(cfg, stage, callback=self._on_event, stop=self.stop)
                if ev.status == "paused":
                    status = "cancelled" if self.cancelled else "paused"
                    break
                st = read_state(self.run_dir)
                st["done"] = st.get("done", []) + [ph["name"]]
                write_state(self.run_dir, st)
            st = read_state(self.run_dir)
            st["status"] = status
            write_state(self.run_dir, st)
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


# ------------------------------------------------------------------------------------------
# pages
# ------------------------------------------------------------------------------------------
class FolderPage(QWizardPage):
    """Choose the folder of finished cuts, or an unfinished run to resume."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Finished cuts")
        self.setSubTitle("Choose a folder with one subfolder per finished cut (coloured frames, "
                         "optionally line art in lineart/). Training never changes these files.")
        self.folder = QLineEdit()
        self.folder.setObjectName("cutsFolder")
        self.folder.textChanged.connect(self.completeChanged)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.runs = QListWidget()
        self.runs.setObjectName("resumableRuns")
        self.runs.itemSelectionChanged.connect(self.completeChanged)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(QLabel("Or resume an unfinished fine-tuning:"))
        lay.addWidget(self.runs)

    def initializePage(self) -> None:
        """List runs that can be resumed."""
        self.runs.clear()
        for p in unfinished_runs():
            st = read_state(p)
            item = QListWidgetItem(f"{p.name}  ({st.get('status', '?')}, data {st.get('data', '?')})")
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            self.runs.addItem(item)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder of finished cuts", self.folder.text())
        if d:
            self.folder.setText(d)

    def resume_run(self) -> Path | None:
        """The selected unfinished run, if any."""
        items = self.runs.selectedItems()
        return Path(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def isComplete(self) -> bool:
        """A folder is typed or a run is selected."""
        return bool(self.folder.text().strip()) or self.resume_run() is not None

    def nextId(self) -> int:
        """Resuming skips the data check and settings."""
        return FineTuneWizard.TRAIN if self.resume_run() is not None else FineTuneWizard.CHECK


class CheckPage(QWizardPage):
    """What the folder offers: cuts, frames, sizes, problems and sampled triplets."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Data check")
        self.setSubTitle("Each preview row: line art | previous key | target | next key.")
        self.summary = QLabel()
        self.summary.setObjectName("dataSummary")
        self.summary.setWordWrap(True)
        self.problems = QPlainTextEdit(readOnly=True)
        self.problems.setMaximumHeight(110)
        self.preview = QLabel()
        scroll = QScrollArea()
        scroll.setWidget(self.preview)
        scroll.setWidgetResizable(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.problems)
        lay.addWidget(scroll, 1)
        self.report = None

    def initializePage(self) -> None:
        """Scan the folder; an unusable folder shows why and blocks Next."""
        from training.data import preview_triplets, scan_cuts
        folder = Path(self.wizard().page(FineTuneWizard.FOLDER).folder.text().strip())
        self.report = None
        self.preview.clear()
        try:
            self.report = scan_cuts(folder)
        except OPDMError as exc:
            self.summary.setText(f"<b>This folder cannot be used.</b> {exc}")
            self.problems.setPlainText("")
            self.completeChanged.emit()
            return
        r = self.report
        sizes = ", ".join(f"{w}x{h}" for w, h in r.sizes)
        self.summary.setText(f"{len(r.cuts)} usable cut(s), {r.n_frames} frames, frame size(s) {sizes}.")
        self.problems.setPlainText("\n".join(r.problems) if r.problems else "No problems found.")
        try:
            rows = preview_triplets(r, n=4, size=128)
            self.preview.setPixmap(_to_pixmap(np.concatenate(rows, axis=0)))
        except OPDMError as exc:
            self.problems.appendPlainText(str(exc))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Only a folder with usable cuts goes on."""
        return self.report is not None


class SettingsPage(QWizardPage):
    """Start model, steps, batch, device, working size and the new model's name."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Settings")
        self.setSubTitle("Fine-tuning starts from a model you have; from scratch takes far longer.")
        self.start = QComboBox()
        self.start.setObjectName("startModel")
        self.steps = QSpinBox(minimum=1, maximum=1_000_000, value=2000, singleStep=100)
        self.batch = QSpinBox(minimum=1, maximum=64, value=1)
        self.size = QSpinBox(minimum=32, maximum=512, singleStep=16, value=224)
        self.size.setSuffix(" px")
        self.device = QComboBox()
        for d in ("auto", "cpu", "cuda", "mps"):
            self.device.addItem(d)
        self.lr = QComboBox()
        for v in ("1e-5", "3e-5", "1e-4"):
            self.lr.addItem(v)
        self.name = QLineEdit()
        self.name.setObjectName("modelName")
        self.name.textChanged.connect(self.completeChanged)
        self.note = QLabel()
        self.note.setStyleSheet("color: #c0392b;")
        form = QFormLayout(self)
        form.addRow("Start from", self.start)
        form.addRow("Training steps", self.steps)
        form.addRow("Batch size", self.batch)
        form.addRow("Working size", self.size)
        form.addRow("Device", self.device)
        form.addRow("Learning rate", self.lr)
        form.addRow("Model name", self.name)
        form.addRow("", self.note)
        self.start.currentIndexChanged.connect(self._start_changed)

    def initializePage(self) -> None:
        """Offer the installed models and a unique default name."""
        self.start.clear()
        for label, path in installed_model_choices():
            self.start.addItem(label, path)
        for preset in ("small", "tiny"):
            self.start.addItem(f"New {preset} model (from scratch: stage 1 + stage 2)", f"preset:{preset}")
        folder = Path(self.wizard().page(FineTuneWizard.FOLDER).folder.text().strip())
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.name or "cuts").strip("-") or "cuts"
        name, k = f"finetuned-{base}", 2
        while (paths.models_dir() / f"{name}.safetensors").exists() or (paths.training_runs_dir() / name).exists():
            name, k = f"finetuned-{base}-{k}", k + 1
        self.name.setText(name)
        self._start_changed()

    def _start_changed(self) -> None:
        data = str(self.start.currentData() or "")
        try:
            if data.startswith("preset:"):
                from opdm_studio.core.config import ModelConfig
                self.size.setValue(ModelConfig.preset(data[7:]).image_size)
                self.lr.setCurrentText("1e-4")
            elif data:
                from training.train import model_config_of
                self.size.setValue(model_config_of(data).image_size)
                self.lr.setCurrentText("1e-5")
        except (OPDMError, ValueError) as exc:
            self.note.setText(str(exc))

    def isComplete(self) -> bool:
        """A valid, unused name and a start model."""
        name = self.name.text().strip()
        msg = ""
        if not _NAME_RE.match(name):
            msg = "Use letters, digits, spaces, - _ . (up to 64 characters)."
        elif (paths.models_dir() / f"{name}.safetensors").exists():
            msg = "A model with this name is already installed."
        elif (paths.training_runs_dir() / name).exists():
            msg = "A fine-tuning run with this name exists; resume it from the first page."
        self.note.setText(msg)
        return not msg and self.start.count() > 0

    def make_run(self, data: Path) -> Path:
        """Create the run folder and its wizard.json describing the phases to train."""
        from training.train import TrainConfig
        name = self.name.text().strip()
        run_dir = paths.training_runs_dir() / name
        start = str(self.start.currentData())
        common = dict(data=str(data), size=self.size.value(), batch=self.batch.value(), device=self.device.currentText(),
                      workers=0, progress=False, log_every=5, val_frames=4,
                      ckpt_every=max(10, min(200, self.steps.value() // 10)),
                      val_every=max(10, min(200, self.steps.value() // 10)))
        phases = []
        if start.startswith("preset:"):
            s1 = max(1, self.steps.value() // 4)
            phases.append({"name": "align", "config": TrainConfig(
                **common, out=str(run_dir / "align"), stage="align", preset=start[7:], steps=s1,
                lr=1e-4, joint=False).__dict__})
            init = str(run_dir / "align")
        else:
            init = start
        phases.append({"name": "train", "config": TrainConfig(
            **common, out=str(run_dir / "train"), stage="train", init=init, steps=self.steps.value(),
            lr=float(self.lr.currentText())).__dict__})
        write_state(run_dir, {"name": name, "data": str(data), "status": "new", "phases": phases, "done": []})
        return run_dir


class LossPlot(QLabel):
    """The run's loss curve (drawn by training.train.plot_loss_curve from log.jsonl)."""

    def refresh(self, run_dir: Path) -> None:
        """Redraw from the log of the phase being trained."""
        from training.train import plot_loss_curve, read_log
        recs: list[dict] = []
        for sub in ("align", "train"):
            recs += read_log(run_dir / sub / "log.jsonl")
        self.setPixmap(_to_pixmap(plot_loss_curve(recs, None, (560, 240))))


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
        wiz = self.wizard()
        resumed = wiz.page(FineTuneWizard.FOLDER).resume_run()
        if resumed is not None:
            self.run_dir = resumed
        else:
            data = Path(wiz.page(FineTuneWizard.FOLDER).folder.text().strip())
            self.run_dir = wiz.page(FineTuneWizard.SETTINGS).make_run(data)
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
        st = read_state(self.run_dir)
        st["status"] = "running"
        write_state(self.run_dir, st)
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
                st = read_state(self.run_dir)
                st["status"] = "paused"
                write_state(self.run_dir, st)


class InstallPage(QWizardPage):
    """Export the fine-tuned model to the models folder and select it in the app."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Install")
        self.result = QLabel()
        self.result.setObjectName("installResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        QVBoxLayout(self).addWidget(self.result)
        self.installed: Path | None = None

    def initializePage(self) -> None:
        """Install now (Back on this page is not offered)."""
        from training.export import export_model
        run_dir = self.wizard().page(FineTuneWizard.TRAIN).run_dir
        st = read_state(run_dir)
        dst = paths.models_dir() / f"{st['name']}.safetensors"
        try:
            self.installed = export_model(run_dir / "train", dst, name=st["name"],
                                          extra={"finetuned_on": st.get("data", "")})
        except OPDMError as exc:
            self.installed = None
            self.result.setText(f"<b>The model could not be installed.</b> {exc}")
            self.completeChanged.emit()
            return
        from opdm_studio.app.settings import AppSettings
        s = AppSettings.load()
        s.model = str(self.installed)
        s.save()
        st["status"] = "installed"
        st["model"] = str(self.installed)
        write_state(run_dir, st)
        self.result.setText(f"Installed <b>{st['name']}</b> as {self.installed} and selected it for colouring.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Finish once installed."""
        return self.installed is not None


class FineTuneWizard(QWizard):
    """Tools > Fine-tune wizard: folder -> data check -> settings -> training -> install."""

    FOLDER, CHECK, SETTINGS, TRAIN, INSTALL = range(5)
    modelInstalled = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune the colouring model")
        self.setObjectName("fineTuneWizard")
        self.setPage(self.FOLDER, FolderPage())
        self.setPage(self.CHECK, CheckPage())
        self.setPage(self.SETTINGS, SettingsPage())
        self.setPage(self.TRAIN, TrainPage())
        self.setPage(self.INSTALL, InstallPage())
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.resize(820, 680)
        self.finished.connect(self._on_finished)

    def _on_finished(self, _result: int) -> None:
        self.page(self.TRAIN).shutdown()
        inst = self.page(self.INSTALL).installed
        if inst is not None:
            self.modelInstalled.emit(str(inst))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """Closing pauses a running training (resumable next time)."""
        self.page(self.TRAIN).shutdown()
        super().closeEvent(event)
