"""Export dialog (Ctrl+E) and the export job it starts: PNG layers and PSD, atomic, never silent
overwrites. The files are written in the worker thread by the engine's
:func:`opdm_studio.engine.export.export_results`, the command line's ``opdm-studio export`` too,
so both write the same files for the same request.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from opdm_studio.app.export_check import ExportCheckPanel
from opdm_studio.app.i18n import translate
from opdm_studio.app.session import remember_export_folder, remembered_export_folder
from opdm_studio.app.worker import Job, Outcome, Progress
from opdm_studio.errors import ExportError, OPDMError

DEFAULT_TEMPLATE = "{cut}_{frame:04d}.png"
LAYER_LABELS = {"composite": QT_TRANSLATE_NOOP("export_dialog", "Composite (colour with lines)"),
                "color": QT_TRANSLATE_NOOP("export_dialog", "Colour only (no lines)"),
                "lines": QT_TRANSLATE_NOOP("export_dialog", "Lines only (transparent)")}


@dataclass
class ExportRequest:
    """What to export where."""

    folder: Path
    frames: list[int]
    layers: list[str] = field(default_factory=lambda: ["composite"])
    psd: bool = False
    template: str = DEFAULT_TEMPLATE
    overwrite: bool = False
    open_folder: bool = True


def target_files(doc, request: ExportRequest, frame: int) -> list[tuple[str, Path]]:
    """(layer, path) of every file ``request`` writes for ``frame`` ("psd" for the PSD)."""
    from opdm_studio.engine.layers import layer_paths
    paths = layer_paths(doc.project, frame, request.layers, request.folder, request.template,
                        request.psd)
    return list(paths.items())


def exportable(doc, frames: list[int]) -> list[int]:
    """The frames of ``frames`` that have colour (coloured results and keyframes)."""
    return [i for i in frames if doc.is_key(i) or doc.has_result(i)]


def existing_targets(doc, request: ExportRequest) -> list[Path]:
    """Files the export would replace."""
    return [p for i in exportable(doc, request.frames) for _, p in target_files(doc, request, i)
            if p.exists()]


def check_request(doc, request: ExportRequest) -> list[int]:
    """The frames ``request`` exports; raises an OPDMError the user can fix (nothing coloured,
    no layer chosen, a bad naming template) before anything runs."""
    frames = exportable(doc, request.frames)
    if not frames:
        raise ExportError(translate("export_dialog", "None of the chosen frames is coloured yet: colour them "
                                                     "first (Ctrl+Enter)."))
    if not request.layers or any(layer not in LAYER_LABELS for layer in request.layers):
        raise ExportError(translate("export_dialog", "Choose at least one PNG layer to export (the PSD is "
                                                     "written beside them)."))
    # The engine's own check of layers and naming (the command line's export runs it too).
    replace(doc.project.settings, layers=list(request.layers), template=request.template).validate()
    for i in frames:  # a template the names cannot be made with fails here, not mid-export
        target_files(doc, request, i)
    return frames


def export_job(doc, request: ExportRequest) -> Job:
    """A worker job exporting the coloured frames of ``request`` with the engine's export."""
    from opdm_studio.engine.export import export_results
    from opdm_studio.engine.run import ProgressEvent

    frames = check_request(doc, request)
    project = doc.project

    def run(cancel):
        t0 = time.perf_counter()
        for done, total, index in export_results(
                project, request.folder, layers=request.layers, template=request.template,
                frames=request.frames, psd=request.psd, overwrite=request.overwrite, cancel=cancel):
            elapsed = time.perf_counter() - t0
            yield ProgressEvent(kind="done", frame=done, frames=total, index=index,
                                name=doc.frame_name(index), elapsed=elapsed,
                                eta=elapsed / done * (total - done))

    return Job("export", run, meta={"request": request, "frames": frames})


def confirm_export(parent: QWidget | None, doc, request: ExportRequest) -> Job | None:
    """The export job of ``request``, after asking before replacing files (None: the user said
    no, nothing is written). A request the user can fix raises its OPDMError at once."""
    job = export_job(doc, request)
    existing = existing_targets(doc, request)
    if existing:
        button = QMessageBox.StandardButton
        answer = QMessageBox.question(
            parent, translate("export_dialog", "Overwrite files?"),
            translate("export_dialog", "{n} file(s) already exist in {folder}, e.g. {name}.\nOverwrite them?")
            .format(n=len(existing), folder=request.folder, name=existing[0].name),
            button.Yes | button.No, button.No)
        if answer != button.Yes:
            return None
        request.overwrite = True
    return job


class ExportDialog(QDialog):
    """Folder, naming template, layers, range; shows progress while the export runs."""

    exportRequested = Signal(object)   # ExportRequest
    cancelRequested = Signal()         # Cancel pressed while the export runs

    def __init__(self, parent: QWidget | None, doc, selection: list[int]) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Export"))
        self.setObjectName("exportDialog")
        self.setMinimumWidth(520)
        self._doc = doc
        n = doc.n_frames
        self._numbers = [f.number for f in doc.project.cut.frames]   # the timeline's and files' numbers
        row = self._folder_row(doc)
        self._naming_fields()
        layers = self._layer_choices()
        rng = self._range_choices(n, selection)
        self._selection = list(selection)
        self.check_panel = ExportCheckPanel(doc, self)
        for b in (self.range_all, self.range_sel, self.range_custom):
            b.toggled.connect(self._update_preview)
        for spin in (self.first_spin, self.last_spin):
            spin.valueChanged.connect(self._update_preview)
        self.open_box = QCheckBox(self.tr("Open the folder when done"))
        self.open_box.setChecked(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)

        form = QFormLayout()
        form.addRow(self.tr("Folder"), row)
        form.addRow(self.tr("Naming"), self.template_edit)
        form.addRow("", self.preview)
        form.addRow(self.tr("Layers"), layers)
        form.addRow(self.tr("Range"), rng)
        form.addRow("", self.open_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton(self.tr("Export"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._request)
        self.buttons.rejected.connect(self._cancel)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.check_panel)
        lay.addWidget(self.progress)
        lay.addWidget(self.buttons)
        self.running = False   # an export asked for by this dialog has not ended yet
        self._update_preview()

    def _folder_row(self, doc) -> QHBoxLayout:
        # The folder this cut was last exported to (the project's export folder the first time).
        default_folder = remembered_export_folder(doc.project.root, doc.project.root / "export")
        self.folder_edit = QLineEdit(str(default_folder))
        browse = QPushButton(self.tr("Browse..."))
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        return row

    def _naming_fields(self) -> None:
        self.template_edit = QLineEdit(DEFAULT_TEMPLATE)
        self.template_edit.setToolTip(self.tr("Fields: {cut} cut name, {frame} frame number (e.g. "
                                              "{frame:04d}), {name} source file name"))
        self.preview = QLabel()
        self.preview.setStyleSheet("color: #9aa0a6;")
        self.template_edit.textChanged.connect(self._update_preview)

    def _layer_choices(self) -> QVBoxLayout:
        self.layer_boxes = {k: QCheckBox(translate("export_dialog", v)) for k, v in LAYER_LABELS.items()}
        self.layer_boxes["composite"].setChecked(True)
        self.psd_box = QCheckBox(self.tr("Layered PSD (colour + lines)"))
        layers = QVBoxLayout()
        for b in (*self.layer_boxes.values(), self.psd_box):
            layers.addWidget(b)
            b.toggled.connect(self._update_preview)
        return layers

    def _range_choices(self, n: int, selection: list[int]) -> QVBoxLayout:
        self.range_all = QRadioButton(self.tr("All frames ({n})").format(n=n))
        self.range_sel = QRadioButton(self.tr("Selection ({n})").format(n=len(selection)) if selection
                                      else self.tr("Selection (none)"))
        self.range_sel.setEnabled(bool(selection))
        self.range_custom = QRadioButton(self.tr("Frames"))
        group = QButtonGroup(self)
        for b in (self.range_all, self.range_sel, self.range_custom):
            group.addButton(b)
        (self.range_sel if len(selection) > 1 else self.range_all).setChecked(True)
        lo, hi = min(self._numbers), max(self._numbers)
        self.first_spin = QSpinBox(minimum=lo, maximum=hi, value=lo)
        self.last_spin = QSpinBox(minimum=lo, maximum=hi, value=hi)
        custom = QHBoxLayout()
        custom.addWidget(self.range_custom)
        custom.addWidget(self.first_spin)
        custom.addWidget(QLabel(self.tr("to")))
        custom.addWidget(self.last_spin)
        custom.addStretch(1)
        rng = QVBoxLayout()
        rng.addWidget(self.range_all)
        rng.addWidget(self.range_sel)
        rng.addLayout(custom)
        return rng

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Export to folder"), self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _update_preview(self) -> None:
        if hasattr(self, "check_panel"):
            self.check_panel.set_frames(self.request().frames)
        try:
            req = self.request()
            frames = check_request(self._doc, req)
            names = [p.name for _, p in target_files(self._doc, req, frames[0])]
            self.preview.setText(self.tr("{n} coloured frame(s); first: {names}").format(
                n=len(frames), names=", ".join(names)))
            self.export_button.setEnabled(True)
        except OPDMError as exc:
            self.preview.setText(str(exc))
            self.export_button.setEnabled(False)

    def request(self) -> ExportRequest:
        """The request as edited."""
        if self.range_sel.isChecked() and self._selection:
            frames = list(self._selection)
        elif self.range_custom.isChecked():
            # Frame numbers, as the timeline and the file names count (not positions).
            a, b = sorted((self.first_spin.value(), self.last_spin.value()))
            frames = [i for i, num in enumerate(self._numbers) if a <= num <= b]
        else:
            frames = list(range(self._doc.n_frames))
        return ExportRequest(folder=Path(self.folder_edit.text()).expanduser(), frames=frames,
                             layers=[k for k, b in self.layer_boxes.items() if b.isChecked()],
                             psd=self.psd_box.isChecked(), template=self.template_edit.text().strip(),
                             open_folder=self.open_box.isChecked())

    def _request(self) -> None:
        if not self.folder_edit.text().strip():
            self.preview.setText(self.tr("Choose a folder"))
            return
        if not self.check_panel.confirm(self):
            return
        remember_export_folder(self._doc.project.root, self.request().folder)
        self.running = True
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.exportRequested.emit(self.request())

    def done(self, result: int) -> None:
        """Closing the dialog stops its check."""
        self.check_panel.stop()
        super().done(result)

    def _cancel(self) -> None:
        if self.running:
            self.cancelRequested.emit()
        else:
            self.reject()

    def export_refused(self) -> None:
        """The window did not start the export (overwrite declined, or an error shown)."""
        self.running = False
        self.progress.setVisible(False)

    def on_progress(self, p: Progress) -> None:
        """The running job's progress (the window's worker signal)."""
        if self.running and self.isVisible():
            self.progress.setValue(int(p.fraction * 1000))

    def on_finished(self, outcome: Outcome) -> None:
        """A job ended: after a cancel or an error, the dialog stays open for another try."""
        if outcome.kind != "export" or not self.running:
            return
        self.running = False
        if outcome.cancelled or outcome.error is not None:
            self.progress.setVisible(False)
