"""Application settings: one small façade over QSettings, and the settings dialog.

The settings live in an INI file under ``paths.data_dir()`` (so ``OPDM_STUDIO_HOME`` isolates
tests and portable installs); models, logs and caches are files under :mod:`opdm_studio.paths`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from opdm_studio import paths
from opdm_studio.app.i18n import LANGUAGES
from opdm_studio.engine.settings import METHODS, method_name
from opdm_studio.errors import OPDMError

DEVICES = ("auto", "cpu", "cuda", "mps")
SNAPPING = ("auto", "off", "all")
MAX_RECENT = 10


def qsettings() -> QSettings:
    """The QSettings store of the app: an INI file in the per-user data folder."""
    return QSettings(str(paths.data_dir() / "settings.ini"), QSettings.Format.IniFormat)


def restore_window_layout(window: QMainWindow, default_size: tuple[int, int] = (1400, 860)) -> None:
    """Give ``window`` its size, position and dock layout of the last session."""
    s = qsettings()
    geo = s.value("window/geometry")
    if geo is not None:
        window.restoreGeometry(geo)
    else:
        window.resize(*default_size)
    state = s.value("window/state")
    if state is not None:
        window.restoreState(state)


def save_window_layout(window: QMainWindow) -> None:
    """Remember ``window``'s size, position and dock layout for the next session."""
    s = qsettings()
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState())
    s.sync()


@dataclass
class AppSettings:
    """Colouring and UI preferences the user chooses in the settings dialog."""

    model: str = "default"          # "default" or a path to a .safetensors checkpoint
    method: str = "model"           # "model" or "flow" (fast preview, needs no model)
    device: str = "auto"
    steps: int = 10
    working_size: int = 224
    snapping: str = "auto"
    gap: int = 3
    thumb_size: int = 96
    language: str = ""              # interface language: "" follows the system, "en", "ja" (at restart)
    recent: list[str] = field(default_factory=list)

    @classmethod
    def load(cls) -> AppSettings:
        """Read the stored settings; unknown or broken values fall back to the defaults."""
        s = qsettings()
        out = cls()
        for f in fields(cls):
            if f.name == "recent":
                continue
            default = getattr(out, f.name)
            value = s.value(_key(f.name), default)
            try:
                value = type(default)(value)
            except (TypeError, ValueError):
                value = default
            setattr(out, f.name, value)
        recent = s.value("files/recent", [])
        if isinstance(recent, str):  # QSettings returns a bare string for one-element lists
            recent = [recent]
        out.recent = [str(r) for r in (recent if isinstance(recent, list) else [])][:MAX_RECENT]
        out.method = method_name(out.method)   # "opdm", the old name of "model", in older settings
        if out.method not in METHODS:
            out.method = "model"
        if out.device not in DEVICES:
            out.device = "auto"
        if out.snapping not in SNAPPING:
            out.snapping = "auto"
        if out.language not in ("", *dict(LANGUAGES)):
            out.language = ""
        return out

    def save(self) -> None:
        """Write the settings to the store now."""
        s = qsettings()
        for f in fields(self):
            if f.name != "recent":
                s.setValue(_key(f.name), getattr(self, f.name))
        s.setValue("files/recent", list(self.recent))
        s.sync()

    def add_recent(self, folder: str | Path) -> None:
        """Put a cut folder first in the recent list (no duplicates, at most MAX_RECENT)."""
        folder = str(Path(folder).resolve())
        self.recent = [folder] + [r for r in self.recent if r != folder]
        del self.recent[MAX_RECENT:]


def _key(name: str) -> str:
    """Where a setting lives in the store (the interface language is no colouring choice)."""
    return "ui/language" if name == "language" else f"colorize/{name}"


def model_steps(choice: str) -> int | None:
    """The sampling steps the chosen model's own spec decides (a refine model, or a spec that
    names its steps): what will run whatever the Steps setting says. None where the setting
    decides (or the model cannot be read: colouring then says why)."""
    from opdm_studio.engine.models import inference_spec_of_file, resolve_model
    try:
        spec = inference_spec_of_file(resolve_model(None if choice == "default" else choice))
    except OPDMError:
        return None
    if spec is None:
        return None
    if spec.pipeline == "refine":
        return spec.steps or 1
    return spec.steps or None


def _combo(values: tuple[str, ...] | list[tuple[str, str]], current: str) -> QComboBox:
    box = QComboBox()
    for v in values:
        data, label = (v, v) if isinstance(v, str) else v
        box.addItem(label, data)
    i = box.findData(current)
    box.setCurrentIndex(max(i, 0))
    return box


class SettingsDialog(QDialog):
    """Edit :class:`AppSettings`: model, method, device, steps, sizes, snapping, gap, thumbnails."""


    def __init__(self, settings: AppSettings, model_status: str, installed: list[Path],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.setObjectName("settingsDialog")
        self._settings = settings
        form = QFormLayout()

        self.model_box = QComboBox()
        self.model_box.addItem(self.tr("Default model"), "default")
        for p in installed:
            self.model_box.addItem(self.tr("Installed: {name}").format(name=p.stem), str(p))
        if settings.model not in ("default", *map(str, installed)):
            self.model_box.addItem(Path(settings.model).name, settings.model)
        self.model_box.setCurrentIndex(max(self.model_box.findData(settings.model), 0))
        choose = QPushButton(self.tr("Choose file..."))
        choose.clicked.connect(self._choose_model)
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        row.addWidget(choose)
        form.addRow(self.tr("Model"), row)
        self.model_status = QLabel(model_status)
        self.model_status.setWordWrap(True)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", self.model_status)

        self.method_box = _combo([("model", self.tr("OPDM (diffusion, best quality)")),
                                  ("flow", self.tr("Flow preview (fast, no model)"))], settings.method)
        form.addRow(self.tr("Method"), self.method_box)
        self.device_box = _combo([(d, self.tr("Auto (the fastest here)") if d == "auto" else d) for d in DEVICES],
                                 settings.device)
        form.addRow(self.tr("Device"), self.device_box)
        self.steps_spin = QSpinBox(minimum=1, maximum=200, value=settings.steps)
        self.steps_spin.setToolTip(self.tr("DDIM sampling steps: fewer is faster, more is finer"))
        form.addRow(self.tr("Steps"), self.steps_spin)
        # What will run: a model whose spec sets its steps ignores the setting (shown, not edited).
        self._steps = settings.steps
        self.steps_spin.valueChanged.connect(self._steps_edited)
        self.steps_note = QLabel()
        self.steps_note.setObjectName("stepsNote")
        self.steps_note.setWordWrap(True)
        form.addRow("", self.steps_note)
        self.model_box.currentIndexChanged.connect(self._show_steps)
        self._show_steps()
        self.size_spin = QSpinBox(minimum=64, maximum=1024, singleStep=16, value=settings.working_size)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip(self.tr("Size the network works at; results are mapped back to full size"))
        form.addRow(self.tr("Working size"), self.size_spin)
        self.snap_box = _combo([("auto", self.tr("Auto (snap sure regions, flag the rest)")),
                                ("off", self.tr("Off (keep the model's colours)")),
                                ("all", self.tr("All (snap every region)"))], settings.snapping)
        form.addRow(self.tr("Palette snapping"), self.snap_box)
        self.gap_spin = QSpinBox(minimum=0, maximum=30, value=settings.gap)
        self.gap_spin.setSuffix(" px")
        self.gap_spin.setToolTip(self.tr("Close gaps in the line art up to this size when finding regions"))
        form.addRow(self.tr("Gap closing"), self.gap_spin)
        self.thumb_spin = QSpinBox(minimum=48, maximum=256, singleStep=16, value=settings.thumb_size)
        self.thumb_spin.setSuffix(" px")
        form.addRow(self.tr("Thumbnail size"), self.thumb_spin)
        # Each language by its own name; the change applies when the app starts again.
        self.language_box = _combo([("", self.tr("System language")), *LANGUAGES], settings.language)
        self.language_box.setToolTip(self.tr("The language of menus, dialogs and messages; "
                                             "applies when OPDM Studio starts again"))
        form.addRow(self.tr("Language"), self.language_box)
        form.addRow("", QLabel(self.tr("A new language applies when OPDM Studio starts again.")))
        where = QLabel(self.tr("Models folder: {models}\nLog file: {log}").format(
            models=paths.models_dir(), log=paths.log_file()))
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        where.setStyleSheet("color: #9aa0a6;")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(where)
        lay.addWidget(buttons)

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a model checkpoint"), str(paths.models_dir()),
                                              self.tr("OPDM checkpoints (*.safetensors)"))
        if path:
            if self.model_box.findData(path) < 0:
                self.model_box.addItem(Path(path).name, path)
            self.model_box.setCurrentIndex(self.model_box.findData(path))

    def _steps_edited(self, value: int) -> None:
        if self.steps_spin.isEnabled():
            self._steps = value

    def _show_steps(self) -> None:
        n = model_steps(str(self.model_box.currentData()))
        self.steps_spin.setEnabled(n is None)
        self.steps_spin.blockSignals(True)
        self.steps_spin.setValue(self._steps if n is None else n)
        self.steps_spin.blockSignals(False)
        self.steps_note.setVisible(n is not None)
        self.steps_note.setText("" if n is None else self.tr(
            "The chosen model runs {n} step(s) whatever this setting says: its own settings decide.").format(n=n))

    def result_settings(self) -> AppSettings:
        """The settings as edited in the dialog (recent cuts are carried over unchanged)."""
        s = AppSettings(**{f.name: getattr(self._settings, f.name) for f in fields(AppSettings)})
        s.model = str(self.model_box.currentData())
        s.method = str(self.method_box.currentData())
        s.device = str(self.device_box.currentData())
        s.steps = self._steps          # the user's setting, kept while a model decides its own
        s.working_size = self.size_spin.value()
        s.snapping = str(self.snap_box.currentData())
        s.gap = self.gap_spin.value()
        s.thumb_size = self.thumb_spin.value()
        s.language = str(self.language_box.currentData())
        return s
