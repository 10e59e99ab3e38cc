"""The fine-tune wizard's last page: the start model and the fine-tuned model side by side on the
frames held back from the studio's cuts (PSNR / SSIM and a contact sheet), and the user's choice:
install the fine-tuned model (and colour with it), or keep the current one (nothing installed)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from opdm_studio import paths
from opdm_studio.app.i18n import translate
from opdm_studio.app.theme import help_label
from opdm_studio.errors import OPDMError
from training.compare import Comparison, read_comparison
from training.finetune import read_state

if TYPE_CHECKING:   # (the wizard's module imports this one: for type checkers only)
    from opdm_studio.app.finetune_wizard import FineTuneWizard


def closer_percent(gain_db: float) -> float:
    """A PSNR gain in dB as the share of colour error (RMS, per pixel) it takes off, in %
    (negative: more error)."""
    return (1 - 10 ** (-gain_db / 20)) * 100


def shading_percent(start_ssim: float, tuned_ssim: float) -> float:
    """The share of the start model's shape-and-shading difference (1 - SSIM) the fine-tuned
    model takes off, in % (negative: more difference)."""
    before = max(1 - start_ssim, 1e-6)
    return (before - (1 - tuned_ssim)) / before * 100


def verdict(comp: Comparison) -> str:
    """What got better or worse, in a colourist's words (the figures are in the table)."""
    where = ", ".join(comp.held_back) or translate("finetune_result", "the held-back frames")
    n, gain = comp.finetuned.frames, comp.gain_db
    pct = closer_percent(gain)
    if comp.start.model == comp.finetuned.model:
        text = translate("finetune_result", "Figures of the new model on {n} frames held back from {where} (no "
                                            "start model to compare with).")
    elif gain >= 0.1:
        text = translate("finetune_result", "The fine-tuned model colours the {n} held-back frames of {where} "
                                            "better: its colours are <b>{pct} % closer</b> to your finished "
                                            "frames (PSNR {gain} dB).")
    elif gain <= -0.1:
        text = translate("finetune_result", "The fine-tuned model is <b>worse</b> on the {n} held-back frames of "
                                            "{where}: its colours are {pct} % further from your finished frames "
                                            "(PSNR {gain} dB). Keeping the current model is advised.")
    else:
        text = translate("finetune_result", "No clear difference on the {n} held-back frames of {where}: the "
                                            "colours are as close to your finished frames as before (PSNR {gain} "
                                            "dB).")
    text = text.format(n=n, where=where, gain=f"{gain:+.2f}", pct=f"{abs(pct):.0f}")
    if comp.start.model != comp.finetuned.model:
        shade = shading_percent(comp.start.ssim, comp.finetuned.ssim)
        if shade >= 5:
            more = translate("finetune_result", "Shapes and shading match them better: {pct} % less difference "
                                                "(SSIM).")
        elif shade <= -5:
            more = translate("finetune_result", "Shapes and shading match them less well: {pct} % more difference "
                                                "(SSIM).")
        else:
            more = translate("finetune_result", "Shapes and shading match them as before (SSIM).")
        text += " " + more.format(pct=f"{abs(shade):.0f}")
    return text


class ResultPage(QWizardPage):
    """Before / after on the held-back frames; install only on the user's accept."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Before and after"))
        self.setSubTitle(self.tr("Both models colour frames held back from your cuts."))
        self.help = help_label(self.tr("The frames were never trained on. PSNR: how close the colours come to your "
                                       "finished frames (higher is closer; +1 dB is about 11 % less colour error). "
                                       "SSIM: how well shapes, edges and shading match (1 = identical). Rows of the "
                                       "sheet: drawing | start model | fine-tuned | your finished frame."), "comparisonHelp")
        self.summary = QLabel()
        self.summary.setObjectName("comparisonSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(2, 2)
        self.table.setObjectName("comparisonTable")
        self.table.setHorizontalHeaderLabels([self.tr("Start model"), self.tr("Fine-tuned")])
        self.table.setVerticalHeaderLabels([self.tr("Colours: PSNR (dB, 224 px)"),
                                            self.tr("Shapes and shading: SSIM (224 px)")])
        self.table.setMaximumHeight(90)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.sheet = QLabel()
        self.sheet.setObjectName("contactSheet")
        scroll = QScrollArea()
        scroll.setWidget(self.sheet)
        scroll.setWidgetResizable(True)
        self.accept_btn = QPushButton(self.tr("Install the fine-tuned model"))
        self.accept_btn.setObjectName("installButton")
        self.accept_btn.clicked.connect(self.install)
        self.reject_btn = QPushButton(self.tr("Keep my current model"))
        self.reject_btn.setObjectName("rejectButton")
        self.reject_btn.clicked.connect(self.reject)
        self.result = QLabel()
        self.result.setObjectName("installResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_btn)
        buttons.addWidget(self.reject_btn)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.help)
        lay.addWidget(self.summary)
        lay.addWidget(self.table)
        lay.addWidget(scroll, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.result)
        self.run_dir: Path | None = None
        self.comparison: Comparison | None = None
        self.installed: Path | None = None
        self.decided = False

    def initializePage(self) -> None:
        """Show the comparison the training page computed."""
        from opdm_studio.app.finetune_training import to_pixmap
        self.run_dir = cast("FineTuneWizard", self.wizard()).current_run()
        self.installed, self.decided = None, False
        self.accept_btn.setEnabled(True)
        self.reject_btn.setEnabled(True)
        self.result.setText("")
        self.comparison = read_comparison(self.run_dir) if self.run_dir is not None else None
        comp = self.comparison
        if comp is None:
            self.summary.setText(self.tr("Nothing was held back from these cuts (too few frames), so the models "
                                         "could not be compared."))
            self.table.clearContents()
            self.sheet.clear()
            return
        self.summary.setText(verdict(comp))
        for col, score in enumerate((comp.start, comp.finetuned)):
            self.table.setItem(0, col, QTableWidgetItem(f"{score.psnr:.2f}"))
            self.table.setItem(1, col, QTableWidgetItem(f"{score.ssim:.3f}"))
        self.table.setHorizontalHeaderLabels([self.tr("Start model ({name})").format(name=Path(comp.start.model).stem),
                                              self.tr("Fine-tuned")])
        if comp.sheet and Path(comp.sheet).is_file():
            from training.compare import read_sheet
            self.sheet.setPixmap(to_pixmap(read_sheet(comp.sheet), 820))
        else:
            self.sheet.setPixmap(QPixmap())

    def install(self) -> None:
        """Export the fine-tuned model to the models folder and select it for colouring."""
        from training.finetune import install_run
        if self.run_dir is None or self.decided:
            return
        name = read_state(self.run_dir)["name"]
        try:
            self.installed = install_run(self.run_dir, paths.models_dir() / f"{name}.safetensors")
        except OPDMError as exc:
            self.result.setText(self.tr("<b>The model could not be installed.</b> {reason}").format(reason=exc))
            return
        from opdm_studio.app.settings import AppSettings
        s = AppSettings.load()
        s.model = str(self.installed)
        s.save()
        self._decided(self.tr("Installed <b>{name}</b> as {path} and selected it for colouring.").format(
            name=name, path=self.installed))

    def reject(self) -> None:
        """Keep the current model: nothing is installed, the run is not offered again."""
        from training.finetune import reject_run
        if self.run_dir is None or self.decided:
            return
        reject_run(self.run_dir)
        self._decided(self.tr("Nothing was installed; the app keeps colouring with your current model."))

    def _decided(self, text: str) -> None:
        self.decided = True
        self.result.setText(text)
        self.accept_btn.setEnabled(False)
        self.reject_btn.setEnabled(False)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        """Finish once the user chose."""
        return self.decided
