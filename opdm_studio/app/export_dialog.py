"""Export dialog (Ctrl+E) and the export job it starts: PNG layers and PSD, atomic, never silent
overwrites. The files are written by :mod:`opdm_studio.imaging.export` in the worker thread."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from opdm_studio.app.worker import Job
from opdm_studio.errors import ExportError, OPDMError

DEFAULT_TEMPLATE = "{cut}_{frame:04d}.png"
LAYER_LABELS = {"composite": "Composite (colour with lines)", "color": "Colour only (no lines)",
                "lines": "Lines only (transparent)"}


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
    from opdm_studio.imaging.export import frame_filename
    info = doc.cut.frames[frame]
    stem = Path(info.name).stem
    out = [(layer, request.folder / frame_filename(doc.name, info.number, request.template, layer, stem))
           for layer in request.layers]
    if request.psd:
        base = frame_filename(doc.name, info.number, request.template, None, stem)
        out.append(("psd", request.folder / (Path(base).stem + ".psd")))
    return out


def exportable(doc, frames: list[int]) -> list[int]:
    """The frames of ``frames`` that have colour (coloured results and keyframes)."""
    return [i for i in frames if doc.is_key(i) or doc.has_result(i)]


def existing_targets(doc, request: ExportRequest) -> list[Path]:
    """Files the export would replace."""
    return [p for i in exportable(doc, request.frames) for _, p in target_files(doc, request, i)
            if p.exists()]


def export_job(doc, request: ExportRequest) -> Job:
    """A worker job writing the layers of every coloured frame of ``request``."""
    from opdm_studio.engine.frame import line_mask_of
    from opdm_studio.engine.run import ProgressEvent
    from opdm_studio.imaging.export import make_layers, write_png_atomic, write_psd

    frames = exportable(doc, request.frames)
    if not frames:
        raise ExportError("none of the chosen frames is coloured yet: colour them first (Ctrl+Enter)")
    if any(layer not in LAYER_LABELS for layer in request.layers) or not (request.layers or request.psd):
        raise ExportError("choose at least one layer to export")
    for i in frames:  # fail on a bad template before the first file is written
        target_files(doc, request, i)
    protected = [doc.cut.folder]

    def run(cancel):
        t0 = time.perf_counter()
        try:
            request.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot create the export folder {request.folder}: "
                              f"{exc.strerror or exc}") from exc
        n = len(frames)
        for pos, i in enumerate(frames, start=1):
            cancel.raise_if_cancelled()
            color = doc.result_color(i)
            line = doc.line(i)
            layers = make_layers(color, line_mask_of(line), doc.cut.line_rgb(i))
            for layer, path in target_files(doc, request, i):
                if layer == "psd":
                    write_psd(path, layers.color, layers.lines, overwrite=request.overwrite,
                              protected=protected)
                else:
                    write_png_atomic(path, layers.get(layer), overwrite=request.overwrite,
                                     protected=protected)
            elapsed = time.perf_counter() - t0
            yield ProgressEvent(kind="done", frame=pos, frames=n, index=i, name=doc.frame_name(i),
                                elapsed=elapsed, eta=elapsed / pos * (n - pos))

    return Job("export", run, meta={"request": request, "frames": frames})


class ExportDialog(QDialog):
    """Folder, naming template, layers, range; shows progress while the export runs."""

    exportRequested = Signal(object)   # ExportRequest

    def __init__(self, parent: QWidget | None, doc, selection: list[int]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setObjectName("exportDialog")
        self.setMinimumWidth(520)
        self._doc = doc
        n = doc.n_frames
        default_folder = doc.project.root / "export"
        self.folder_edit = QLineEdit(str(default_folder))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.template_edit = QLineEdit(DEFAULT_TEMPLATE)
        self.template_edit.setToolTip("Fields: {cut} cut name, {frame} frame number (e.g. {frame:04d}), "
                                      "{name} source file name")
        self.preview = QLabel()
        self.preview.setStyleSheet("color: #9aa0a6;")
        self.template_edit.textChanged.connect(self._update_preview)

        self.layer_boxes = {k: QCheckBox(v) for k, v in LAYER_LABELS.items()}
        self.layer_boxes["composite"].setChecked(True)
        self.psd_box = QCheckBox("Layered PSD (colour + lines)")
        layers = QVBoxLayout()
        for b in (*self.layer_boxes.values(), self.psd_box):
            layers.addWidget(b)
            b.toggled.connect(self._update_preview)

        self.range_all = QRadioButton(f"All frames ({n})")
        self.range_sel = QRadioButton(f"Selection ({len(selection)})" if selection else "Selection (none)")
        self.range_sel.setEnabled(bool(selection))
        self.range_custom = QRadioButton("Frames")
        group = QButtonGroup(self)
        for b in (self.range_all, self.range_sel, self.range_custom):
            group.addButton(b)
        (self.range_sel if len(selection) > 1 else self.range_all).setChecked(True)
        self.first_spin = QSpinBox(minimum=1, maximum=n, value=1)
        self.last_spin = QSpinBox(minimum=1, maximum=n, value=n)
        custom = QHBoxLayout()
        custom.addWidget(self.range_custom)
        custom.addWidget(self.first_spin)
        custom.addWidget(QLabel("to"))
        custom.addWidget(self.last_spin)
        custom.addStretch(1)
        rng = QVBoxLayout()
        rng.addWidget(self.range_all)
        rng.addWidget(self.range_sel)
        rng.addLayout(custom)
        self._selection = list(selection)
        self.open_box = QCheckBox("Open the folder when done")
        self.open_box.setChecked(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)

        form = QFormLayout()
        form.addRow("Folder", row)
        form.addRow("Naming", self.template_edit)
        form.addRow("", self.preview)
        form.addRow("Layers", layers)
        form.addRow("Range", rng)
        form.addRow("", self.open_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._request)
        self.buttons.rejected.connect(self._cancel)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.buttons)
        self._update_preview()
        if parent is not None and hasattr(parent, "_workers"):
            parent._workers.worker.progress.connect(self._on_progress)
            parent._workers.worker.finished.connect(self._on_finished)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _update_preview(self) -> None:
        try:
            req = self.request()
            frames = exportable(self._doc, req.frames)
            names = [p.name for _, p in target_files(self._doc, req, frames[0])] if frames else []
            n = len(frames)
            self.preview.setText((f"{n} coloured frame(s); first: " + ", ".join(names)) if names
                                 else "None of these frames is coloured yet")
            self.export_button.setEnabled(bool(names))
        except OPDMError as exc:
            self.preview.setText(str(exc))
            self.export_button.setEnabled(False)

    def request(self) -> ExportRequest:
        """The request as edited."""
        if self.range_sel.isChecked() and self._selection:
            frames = list(self._selection)
        elif self.range_custom.isChecked():
            a, b = sorted((self.first_spin.value(), self.last_spin.value()))
            frames = list(range(a - 1, b))
        else:
            frames = list(range(self._doc.n_frames))
        return ExportRequest(folder=Path(self.folder_edit.text()).expanduser(), frames=frames,
                             layers=[k for k, b in self.layer_boxes.items() if b.isChecked()],
                             psd=self.psd_box.isChecked(), template=self.template_edit.text().strip(),
                             open_folder=self.open_box.isChecked())

    def _request(self) -> None:
        if not self.folder_edit.text().strip():
            self.preview.setText("Choose a folder")
            return
        self.progress.setVisible(True)
        self.exportRequested.emit(self.request())

    def _cancel(self) -> None:
        parent = self.parent()
        if parent is not None and getattr(parent, "busy", False) and parent._running_kind == "export":
            parent.cancel()
        else:
            self.reject()

    def _on_progress(self, p) -> None:
        if self.isVisible():
            self.progress.setValue(int(p.fraction * 1000))

    def _on_finished(self, outcome) -> None:
        if outcome.kind == "export" and outcome.cancelled and self.isVisible():
            self.progress.setVisible(False)
