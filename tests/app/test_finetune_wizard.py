"""The fine-tune wizard walks its pages offscreen on a toy folder and installs a loadable model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QWizard  # noqa: E402

from opdm_studio import paths  # noqa: E402
from tests.training.conftest import write_toy_cuts  # noqa: E402


@pytest.fixture
def toy_cuts(tmp_path: Path) -> Path:
    """Three 8-frame 64 px cuts with paired line art (the training tests' toy data)."""
    return write_toy_cuts(tmp_path / "cuts")


def _install_start_model() -> Path:
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.model import OPDM
    torch.manual_seed(0)
    dst = paths.models_dir() / "start.safetensors"
    save_checkpoint(dst, OPDM(ModelConfig.preset("tiny").replace(image_size=32)), metadata={"name": "start"})
    return dst


def test_wizard_walks_pages_and_installs(qtbot, toy_cuts, tmp_path):
    from opdm_studio.app.finetune_wizard import FineTuneWizard, read_state, unfinished_runs
    from opdm_studio.app.settings import AppSettings
    from opdm_studio.core.checkpoint import load_checkpoint
    start = _install_start_model()
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    folder = wiz.page(FineTuneWizard.FOLDER)

    # A folder without usable cuts stops at the data check with a clear message.
    (tmp_path / "nothing").mkdir()
    folder.folder.setText(str(tmp_path / "nothing"))
    wiz.next()
    check = wiz.page(FineTuneWizard.CHECK)
    assert wiz.currentId() == FineTuneWizard.CHECK
    assert "cannot be used" in check.summary.text() and "no usable cuts" in check.summary.text()
    assert not check.isComplete()
    wiz.back()

    folder.folder.setText(str(toy_cuts))
    wiz.next()
    assert check.isComplete() and "3 usable cut(s), 24 frames" in check.summary.text()
    assert check.preview.pixmap() is not None and not check.preview.pixmap().isNull()
    wiz.next()
    settings = wiz.page(FineTuneWizard.SETTINGS)
    assert wiz.currentId() == FineTuneWizard.SETTINGS
    i = settings.start.findData(str(start))
    assert i >= 0
    settings.start.setCurrentIndex(i)
    assert settings.size.value() == 32          # the start model's working size
    settings.steps.setValue(3)
    settings.batch.setValue(1)
    settings.device.setCurrentText("cpu")
    settings.name.setText("start")
    assert not settings.isComplete()            # that name is already installed
    settings.name.setText("toy-finetune")
    assert settings.isComplete()
    wiz.next()
    train = wiz.page(FineTuneWizard.TRAIN)
    qtbot.waitUntil(lambda: train.outcome in ("finished", "failed"), timeout=240_000)
    assert train.outcome == "finished", train.status.text()
    assert train.plot.pixmap() is not None and not train.plot.pixmap().isNull()
    wiz.next()
    install = wiz.page(FineTuneWizard.INSTALL)
    assert install.installed == paths.models_dir() / "toy-finetune.safetensors"
    model, cfg, meta, _spec = load_checkpoint(install.installed, device="cpu")
    assert meta.get("training_steps") == 3
    assert AppSettings.load().model == str(install.installed)
    assert read_state(paths.training_runs_dir() / "toy-finetune")["status"] == "installed"
    assert unfinished_runs() == []
    wiz.button(QWizard.WizardButton.FinishButton).click()


def test_wizard_pause_and_resume_run(qtbot, toy_cuts):
    from opdm_studio.app.finetune_wizard import FineTuneWizard, read_state, unfinished_runs
    start = _install_start_model()
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.page(FineTuneWizard.FOLDER).folder.setText(str(toy_cuts))
    wiz.next()
    wiz.next()
    assert wiz.currentId() == FineTuneWizard.SETTINGS
    s = wiz.page(FineTuneWizard.SETTINGS)
    s.start.setCurrentIndex(s.start.findData(str(start)))
    s.steps.setValue(40)
    s.device.setCurrentText("cpu")
    s.name.setText("paused-run")
    wiz.next()
    assert wiz.currentId() == FineTuneWizard.TRAIN
    train = wiz.page(FineTuneWizard.TRAIN)
    qtbot.waitUntil(lambda: train.bar.value() >= 1 or bool(train.outcome), timeout=240_000)
    assert train.outcome == "", train.status.text()
    train.pause()
    qtbot.waitUntil(lambda: train.outcome == "paused", timeout=120_000)
    run_dir = paths.training_runs_dir() / "paused-run"
    assert read_state(run_dir)["status"] == "paused"
    wiz.close()
    # A new wizard (as after an app restart) offers the run for resuming.
    wiz2 = FineTuneWizard()
    qtbot.addWidget(wiz2)
    wiz2.restart()
    assert run_dir in unfinished_runs()
    runs = wiz2.page(FineTuneWizard.FOLDER).runs
    assert runs.count() == 1
    runs.setCurrentRow(0)
    assert wiz2.page(FineTuneWizard.FOLDER).nextId() == FineTuneWizard.TRAIN
