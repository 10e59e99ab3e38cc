"""The fine-tune wizard's last page: the start model and the fine-tuned model side by side on the
frames held back from the studio's cuts (PSNR / SSIM and a contact sheet), and the user's choice:
install the fine-tuned model (and colour with it), or keep the current one (nothing installed)."""
from __future__ import annotations

from pathlib import Path

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
from opdm_studio.errors import OPDMError
from training.compare import Comparison, read_comparison
from training.finetune import read_state


def verdict(comp: Comparison) -> str:
    """One sentence on the comparison, for a colourist."""
    where = ", ".join(comp.held_back) or translate("finetune_result", "the held-back frames")
    n, gain = comp.finetuned.frames, comp.gain_db
    if comp.start.model == comp.finetuned.model:
        text = translate("finetune_result", "Figures of the new model on {n} frames held back from {where} (no "
                                            "start model to compare with).")
    elif gain >= 0.1:
        text = translate("finetune_result", "The fine-tuned model colours the {n} held-back frames of {where} "
                                            "better: <b>{gain} dB</b> PSNR.")
    elif gain <= -0.1:
        text = translate("finetune_result", "The fine-tuned model is <b>worse</b> on the {n} held-back frames of "
                                            "{where} ({gain} dB): keeping the current model is advised.")
    else:
        text = translate("finetune_result", "No clear difference on the {n} held-back frames of {where} "
                                            "({gain} dB).")
    return text.format(n=n, where=where, gain=f"{gain:+.2f}")


class ResultPage(QWizardPage):
    """Before / after on the held-back frames; install only on the user's accept."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle(self.tr("Before and after"))
        self.setSubTitle(self.tr("Both models coloured the same frames held back from your cuts (never trained "
                                 "on). Rows of the sheet: drawing | start model | fine-tuned | truth."))
        self.summary = QLabel()
        self.summary.setObjectName("comparisonSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(2, 2)
        self.table.setObjectName("comparisonTable")
        self.table.setHorizontalHeaderLabels([self.tr("Start model"), self.tr("Fine-tuned")])
        self.table.setVerticalHeaderLabels(["PSNR (dB, 224 px)", "SSIM (224 px)"])
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
        self.run_dir = self.wizard().current_run()
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
