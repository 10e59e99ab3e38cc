"""Tools > Fine-tune wizard: fine-tune the colouring model on the studio's own finished cuts.

Pages: choose the cuts folder (or an unfinished run to resume) -> data check (cuts, frames,
sizes, problems, sampled triplets) -> settings (start model, minutes of training with the number
of steps they buy measured on this machine, device, name; the from-scratch presets labelled with
their time here) -> training (background QThread, progress against the budget, validation on
held-back frames every few minutes, loss plot and latest sample grid, pause / resume / cancel;
state under ``paths.training_runs_dir()`` so a paused or interrupted run resumes after the app
restarts) -> before / after (PSNR / SSIM of the start and the fine-tuned model on the held-back
frames and a contact sheet; the fp16 model is installed in ``paths.models_dir()`` and selected
only when the user accepts).

The wizard is a thin adapter: data checks, the run's phases, training and export are the Qt-free
``training`` package (``training.finetune``); the worker talks back by signals only and stops
through a ``threading.Event``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from opdm_studio import paths
from opdm_studio.app.finetune_estimate import PRESETS, StepTimer, expected_text, preset_label
from opdm_studio.app.finetune_result import ResultPage
from opdm_studio.app.finetune_training import TrainPage, to_pixmap
from opdm_studio.app.i18n import translate
from opdm_studio.errors import OPDMError
from training.config import TrainConfig
from training.estimate import StepTiming
from training.finetune import read_state, update_state

if TYPE_CHECKING:
    from training.data import DataReport

__all__ = ["FineTuneWizard", "installed_model_choices", "read_state", "unfinished_runs"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
#: A resumable run's state (training.finetune), in the resume list.
RUN_STATUS: dict[str, Any] = {"new": QT_TRANSLATE_NOOP("FolderPage", "not started"),
              "running": QT_TRANSLATE_NOOP("FolderPage", "interrupted"),
              "paused": QT_TRANSLATE_NOOP("FolderPage", "paused"),
              "cancelled": QT_TRANSLATE_NOOP("FolderPage", "cancelled"),
              "failed": QT_TRANSLATE_NOOP("FolderPage", "stopped by an error"),
              "finished": QT_TRANSLATE_NOOP("FolderPage", "trained, waiting for your choice"),
              "budget": QT_TRANSLATE_NOOP("FolderPage", "trained, waiting for your choice")}
#: Devices a run may use: "auto" in words, the others by their names.
DEVICES = ("auto", "cpu", "cuda", "mps")


def device_label(device: str) -> str:
    """A device choice as the combo boxes show it ("auto" translated)."""
    return translate("finetune_wizard", "Auto (the fastest here)") if device == "auto" else device


def unfinished_runs() -> list[Path]:
    """Runs started from the wizard that were not installed yet (newest first)."""
    from training.finetune import unfinished_runs as runs_in
    return runs_in(paths.training_runs_dir())


def installed_model_choices() -> list[tuple[str, str]]:
    """(label, path) of models to start from: the app's default, then installed ones."""
    out: list[tuple[str, str]] = []
    try:
        from opdm_studio.engine.models import default_model_path
        p = default_model_path()
        if p is not None and Path(p).is_file():
            # The shipped model's file is called "default": no name to add to "Default model".
            label = (translate("finetune_wizard", "Default model (shipped with OPDM Studio)")
                     if Path(p).stem == "default" else
                     translate("finetune_wizard", "Default model ({name})").format(name=Path(p).stem))
            out.append((label, str(p)))
    except Exception:  # engine not ready / no default model shipped: offer what is installed
        pass
    for p in sorted(paths.models_dir().glob("*.safetensors")):
        out.append((translate("finetune_wizard", "Installed: {name}").format(name=p.stem), str(p)))
    return out


# ------------------------------------------------------------------------------------------
# pages
# ------------------------------------------------------------------------------------------
class FolderPage(QWizardPage):
    """Choose the folder of finished cuts, or an unfinished run to resume."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Finished cuts"))
        # One short line in the header (a long one is cut in half there with a Japanese font);
        # the details go in a wrapping label on the page.
        self.setSubTitle(self.tr("Choose the folder of your finished cuts."))
        about = QLabel(self.tr("One subfolder per finished cut: its coloured frames, and optionally its line "
                               "art in lineart/. Training only reads them: it never changes these files."))
        about.setObjectName("folderHelp")
        about.setWordWrap(True)
        self.folder = QLineEdit()
        self.folder.setObjectName("cutsFolder")
        self.folder.textChanged.connect(self.completeChanged)
        browse = QPushButton(self.tr("Browse..."))
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.runs = QListWidget()
        self.runs.setObjectName("resumableRuns")
        self.runs.itemSelectionChanged.connect(self.completeChanged)
        lay = QVBoxLayout(self)
        lay.addWidget(about)
        lay.addLayout(row)
        lay.addWidget(QLabel(self.tr("Or resume an unfinished fine-tuning:")))
        lay.addWidget(self.runs)

    def initializePage(self) -> None:
        """List runs that can be resumed."""
        self.runs.clear()
        for p in unfinished_runs():
            st = read_state(p)
            status = str(st.get("status", "?"))
            status = self.tr(RUN_STATUS[status]) if status in RUN_STATUS else status
            item = QListWidgetItem(self.tr("{run}  ({status}, data {data})").format(
                run=p.name, status=status, data=st.get("data", "?")))
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            self.runs.addItem(item)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, self.tr("Folder of finished cuts"), self.folder.text())
        if d:
            self.folder.setText(d)

    def folder_path(self) -> Path:
        """The cuts folder typed or chosen."""
        return Path(self.folder.text().strip())

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
        self.setTitle(self.tr("Data check"))
        self.setSubTitle(self.tr("Each preview row: line art | previous key | target | next key."))
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
        self.report: DataReport | None = None

    def initializePage(self) -> None:
        """Scan the folder; an unusable folder shows why and blocks Next."""
        from training.data import scan_cuts
        from training.triplets import preview_triplets
        folder = cast(FineTuneWizard, self.wizard()).folder_page.folder_path()
        self.report = None
        self.preview.clear()
        try:
            r = self.report = scan_cuts(folder)
        except OPDMError as exc:
            self.summary.setText(self.tr("<b>This folder cannot be used.</b> {reason}").format(reason=exc))
            self.problems.setPlainText("")
            self.completeChanged.emit()
            return
        sizes = ", ".join(f"{w}x{h}" for w, h in r.sizes)
        self.summary.setText(self.tr("{cuts} usable cut(s), {frames} frames, frame size(s) {sizes}.").format(
            cuts=len(r.cuts), frames=r.n_frames, sizes=sizes))
        self.problems.setPlainText("\n".join(r.problems) if r.problems else self.tr("No problems found."))
        try:
            rows = preview_triplets(r, n=4, size=128)
            self.preview.setPixmap(to_pixmap(np.concatenate(rows, axis=0)))
        except OPDMError as exc:
            self.problems.appendPlainText(str(exc))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Only a folder with usable cuts goes on."""
        return self.report is not None


class SettingsPage(QWizardPage):
    """Start model, minutes of training (and the steps they buy here), working size, device, name."""

    # The working-size box (tests read ``page.size``) shadows QWidget.size() on this page.
    size: QSpinBox  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Settings"))
        self.setSubTitle(self.tr("Fine-tuning starts from a model you have; a new model from scratch takes far "
                                 "longer."))
        self.start = QComboBox()
        self.start.setObjectName("startModel")
        self.minutes = QDoubleSpinBox(minimum=0.01, maximum=100_000.0, value=30.0, decimals=2, singleStep=5.0)
        self.minutes.setObjectName("minutes")
        self.minutes.setSuffix(self.tr(" min"))
        self.expected = QLabel(self.tr("Measuring a few training steps on this machine..."))
        self.expected.setObjectName("expectedSteps")
        self.expected.setWordWrap(True)
        self.size = QSpinBox(minimum=32, maximum=512, singleStep=16, value=224)
        self.size.setSuffix(" px")
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(device_label(d), d)
        self.name = QLineEdit()
        self.name.setObjectName("modelName")
        self.name.textChanged.connect(self.completeChanged)
        self.note = QLabel()
        self.note.setStyleSheet("color: #c0392b;")
        form = QFormLayout(self)
        form.addRow(self.tr("Start from"), self.start)
        form.addRow(self.tr("Training time"), self.minutes)
        form.addRow("", self.expected)
        form.addRow(self.tr("Working size"), self.size)
        form.addRow(self.tr("Device"), self.device)
        form.addRow(self.tr("Model name"), self.name)
        form.addRow("", self.note)
        # No Qt parent: a measurement still running when the wizard closes keeps its own object
        # alive and emits into nothing (Qt drops connections to deleted pages).
        self.timer = StepTimer()
        self.timer.measured.connect(self._measured)
        self.timer.failed.connect(self._timing_failed)
        self.timings: dict[str, StepTiming] = {}
        self.start.currentIndexChanged.connect(self._start_changed)
        self.minutes.valueChanged.connect(self._show_expected)
        self.size.valueChanged.connect(self._settings_changed)
        self.device.currentIndexChanged.connect(self._settings_changed)

    def initializePage(self) -> None:
        """Offer the installed models and the presets, a unique default name; measure the speed."""
        self.start.blockSignals(True)
        self.start.clear()
        for label, path in installed_model_choices():
            self.start.addItem(label, path)
        for preset in PRESETS:
            self.start.addItem(preset_label(preset), f"preset:{preset}")
        self.start.blockSignals(False)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.folder().name or "cuts").strip("-") or "cuts"
        name, k = f"finetuned-{base}", 2
        while (paths.models_dir() / f"{name}.safetensors").exists() or (paths.training_runs_dir() / name).exists():
            name, k = f"finetuned-{base}-{k}", k + 1
        self.name.setText(name)
        self._start_changed()

    def cleanupPage(self) -> None:
        """Going Back stops measuring."""
        self.timer.cancel()

    def folder(self) -> Path:
        """The cuts folder chosen on the first page."""
        return cast(FineTuneWizard, self.wizard()).folder_page.folder_path()

    def timing_config(self, start: str) -> TrainConfig:
        """The run a fine-tuning from ``start`` trains, for a timing."""
        size = self.size.value()
        if start.startswith("preset:"):
            return TrainConfig(data=str(self.folder()), preset=start[7:], size=size,
                               device=str(self.device.currentData()), workers=0, val_frames=0, progress=False)
        return TrainConfig(data=str(self.folder()), init=start, size=size, device=str(self.device.currentData()),
                           workers=0, val_frames=0, progress=False)

    def _start_changed(self) -> None:
        data = str(self.start.currentData() or "")
        try:
            if data.startswith("preset:"):
                from opdm_studio.core.config import ModelConfig
                self.size.blockSignals(True)
                self.size.setValue(ModelConfig.preset(data[7:]).image_size)
                self.size.blockSignals(False)
            elif data:
                from training.state import model_config_of
                self.size.blockSignals(True)
                self.size.setValue(model_config_of(data).image_size)
                self.size.blockSignals(False)
        except (OPDMError, ValueError) as exc:
            self.note.setText(str(exc))
        self._settings_changed()

    def _settings_changed(self) -> None:
        """Measure the chosen start (a few steps), then each preset (one step): in the background."""
        self.timings.clear()
        start = str(self.start.currentData() or "")
        jobs = [(start, self.timing_config(start), 2)] if start else []
        jobs += [(f"preset:{p}", self.timing_config(f"preset:{p}"), 1) for p in PRESETS
                 if f"preset:{p}" != start]
        for i in range(self.start.count()):
            d = str(self.start.itemData(i) or "")
            if d.startswith("preset:"):
                self.start.setItemText(i, preset_label(d[7:]))
        self.expected.setText(self.tr("Measuring a few training steps on this machine..."))
        self.timer.request(jobs)

    def _measured(self, key: str, timing: StepTiming) -> None:
        self.timings[key] = timing
        if key.startswith("preset:"):
            i = self.start.findData(key)
            if i >= 0:
                self.start.setItemText(i, preset_label(key[7:], timing))
        self._show_expected()

    def _timing_failed(self, key: str, message: str) -> None:
        if key.startswith("preset:"):
            i = self.start.findData(key)
            if i >= 0:
                self.start.setItemText(i, preset_label(key[7:], failed=message))
        if key == str(self.start.currentData() or ""):
            self.expected.setText(self.tr("The speed could not be measured: {reason}").format(reason=message))

    def _show_expected(self) -> None:
        t = self.timings.get(str(self.start.currentData() or ""))
        if t is not None:
            self.expected.setText(expected_text(t, self.minutes.value()))

    def expected_steps(self) -> int:
        """Steps the budget buys at the measured speed (0 = not measured yet)."""
        t = self.timings.get(str(self.start.currentData() or ""))
        return t.steps_in(self.minutes.value()) if t is not None else 0

    def isComplete(self) -> bool:
        """A valid, unused name and a start model."""
        name = self.name.text().strip()
        msg = ""
        if not _NAME_RE.match(name):
            msg = self.tr("Use letters, digits, spaces, - _ . (up to 64 characters).")
        elif (paths.models_dir() / f"{name}.safetensors").exists():
            msg = self.tr("A model with this name is already installed.")
        elif (paths.training_runs_dir() / name).exists():
            msg = self.tr("A fine-tuning run with this name exists; resume it from the first page.")
        self.note.setText(msg)
        return not msg and self.start.count() > 0

    def make_run(self, data: Path) -> Path:
        """Create the run folder and its record of the phases to train (training.finetune):
        from a preset stage 1 + stage 2 (compared with the default model at the end), from a
        model the objective that model runs (compared with that model)."""
        from training.finetune import plan_run
        self.timer.cancel()
        start = str(self.start.currentData())
        default = installed_model_choices()
        reference = default[0][1] if default and start.startswith("preset:") else None
        run_dir = paths.training_runs_dir() / self.name.text().strip()
        plan_run(run_dir, data, start, minutes=self.minutes.value(), size=self.size.value(),
                 device=str(self.device.currentData()), compare_with=reference)
        update_state(run_dir, expected_steps=self.expected_steps())
        return run_dir


class FineTuneWizard(QWizard):
    """Tools > Fine-tune wizard: folder -> data check -> settings -> training -> before / after."""

    FOLDER, CHECK, SETTINGS, TRAIN, RESULT = range(5)
    modelInstalled = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Fine-tune the colouring model"))
        self.setObjectName("fineTuneWizard")
        self.folder_page, self.settings_page = FolderPage(), SettingsPage()
        self.train_page, self.result_page = TrainPage(), ResultPage()
        self.setPage(self.FOLDER, self.folder_page)
        self.setPage(self.CHECK, CheckPage())
        self.setPage(self.SETTINGS, self.settings_page)
        self.setPage(self.TRAIN, self.train_page)
        self.setPage(self.RESULT, self.result_page)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.resize(820, 680)
        self.finished.connect(self._on_finished)

    def run_to_train(self) -> Path:
        """The run the training page trains: the one chosen for resuming, or a new one."""
        resumed = self.folder_page.resume_run()
        if resumed is not None:
            return resumed
        return self.settings_page.make_run(self.folder_page.folder_path())

    def current_run(self) -> Path | None:
        """The run the training page trains (None before it started)."""
        return self.train_page.run_dir

    def _on_finished(self, _result: int) -> None:
        self.train_page.shutdown()
        self.settings_page.timer.cancel()
        inst = self.result_page.installed
        if inst is not None:
            self.modelInstalled.emit(str(inst))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        """Closing pauses a running training (resumable next time) and stops measuring."""
        self.train_page.shutdown()
        self.settings_page.timer.cancel()
        super().closeEvent(event)
