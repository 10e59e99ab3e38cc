"""The fine-tune wizard offscreen with a tiny refine model and a budget of seconds: the speed
measured here and the steps it buys, phases, validation on held-back frames, pause, resume after
closing the app, the before / after figures, install on accept and nothing installed on reject."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QWizard  # noqa: E402

from opdm_studio import paths  # noqa: E402
from opdm_studio.core.config import InferenceSpec  # noqa: E402
from tests.training.conftest import write_toy_cuts  # noqa: E402

SPEC = InferenceSpec.refine(t_start=30, steps=1)


@pytest.fixture
def toy_cuts(tmp_path: Path) -> Path:
    """Three 8-frame 64 px cuts with paired line art (the training tests' toy data)."""
    return write_toy_cuts(tmp_path / "cuts")


@pytest.fixture(autouse=True)
def _one_preset(monkeypatch):
    """Time only the tiny preset (every preset is measured; the small one costs seconds here), and
    let no measurement outlive its test."""
    from opdm_studio.app import finetune_estimate
    monkeypatch.setattr("opdm_studio.app.finetune_estimate.PRESETS", ("tiny",))
    monkeypatch.setattr("opdm_studio.app.finetune_wizard.PRESETS", ("tiny",))
    timers: list = []
    real = finetune_estimate.StepTimer.request

    def request(self, jobs):
        timers.append(self)
        real(self, jobs)

    monkeypatch.setattr(finetune_estimate.StepTimer, "request", request)
    yield
    for t in timers:
        t.cancel()
        t.wait(120)


def _install_start_model() -> Path:
    """A tiny refine model at 32 px, installed as the user's model."""
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.model import OPDM
    from training.refine import refine_config
    torch.manual_seed(0)
    dst = paths.models_dir() / "start.safetensors"
    save_checkpoint(dst, OPDM(refine_config(base=8).replace(image_size=32)), metadata={"name": "start"},
                    inference=SPEC)
    return dst


def _to_settings(qtbot, wiz, folder: Path, start: Path, minutes: float, name: str):
    from opdm_studio.app.finetune_wizard import FineTuneWizard
    wiz.page(FineTuneWizard.FOLDER).folder.setText(str(folder))
    wiz.next()
    wiz.next()
    assert wiz.currentId() == FineTuneWizard.SETTINGS
    s = wiz.page(FineTuneWizard.SETTINGS)
    s.start.setCurrentIndex(s.start.findData(str(start)))
    s.device.setCurrentText("cpu")
    s.minutes.setValue(minutes)
    s.name.setText(name)
    return s


def _wait_trained(qtbot, train) -> None:
    qtbot.waitUntil(lambda: train.outcome in ("finished", "failed"), timeout=240_000)
    assert train.outcome == "finished", train.status.text()


def test_wizard_measures_trains_compares_and_installs_on_accept(qtbot, toy_cuts, tmp_path):
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
    assert settings.minutes.value() == 30                      # the default budget
    settings.start.setCurrentIndex(settings.start.findData(str(start)))
    assert settings.size.value() == 32                          # the start model's working size
    settings.device.setCurrentText("cpu")
    # The speed is measured here and turned into the steps the budget buys; the from-scratch
    # preset gets its time here in its label.
    qtbot.waitUntil(lambda: "steps</b> in 30 min" in settings.expected.text(), timeout=120_000)
    assert "Measured on this machine" in settings.expected.text() and "correct the flow preview" in settings.expected.text()
    assert settings.expected_steps() > 0
    preset = settings.start.findData("preset:tiny")
    qtbot.waitUntil(lambda: "per step here" in settings.start.itemText(preset), timeout=120_000)
    assert "150,000 steps would take about" in settings.start.itemText(preset)
    settings.minutes.setValue(0.15)
    assert "in 0.15 min" in settings.expected.text()
    settings.name.setText("start")
    assert not settings.isComplete()            # that name is already installed
    settings.name.setText("toy-finetune")
    assert settings.isComplete()

    wiz.next()
    train = wiz.page(FineTuneWizard.TRAIN)
    _wait_trained(qtbot, train)
    run_dir = paths.training_runs_dir() / "toy-finetune"
    assert read_state(run_dir)["done"] == ["train"] and read_state(run_dir)["expected_steps"] > 0
    assert train.bar.value() == train.bar.maximum()
    assert train.validation.text().startswith("Held-back frames at step")
    assert train.plot.pixmap() is not None and not train.plot.pixmap().isNull()
    assert "compare" in train.phases_seen

    wiz.next()
    result = wiz.page(FineTuneWizard.RESULT)
    assert wiz.currentId() == FineTuneWizard.RESULT
    comp = result.comparison
    assert comp is not None and comp.held_back == ["cut02"]
    assert result.table.item(0, 0).text() == f"{comp.start.psnr:.2f}"
    assert result.table.item(0, 1).text() == f"{comp.finetuned.psnr:.2f}"
    assert result.table.item(1, 1).text() == f"{comp.finetuned.ssim:.3f}"
    assert "dB" in result.summary.text()
    assert result.sheet.pixmap() is not None and not result.sheet.pixmap().isNull()
    dst = paths.models_dir() / "toy-finetune.safetensors"
    assert not dst.exists() and not result.isComplete()     # nothing installed before the user accepts
    result.accept_btn.click()
    assert result.installed == dst and result.isComplete()
    model, cfg, meta, spec = load_checkpoint(dst, device="cpu")
    assert spec == SPEC and meta.get("objective") == "refine" and meta.get("training_steps", 0) >= 1
    assert AppSettings.load().model == str(dst)
    assert read_state(run_dir)["status"] == "installed"
    assert unfinished_runs() == []
    wiz.button(QWizard.WizardButton.FinishButton).click()


def test_wizard_pause_resume_after_closing_and_reject(qtbot, toy_cuts):
    from opdm_studio.app.finetune_wizard import FineTuneWizard, read_state, unfinished_runs
    from opdm_studio.app.settings import AppSettings
    start = _install_start_model()
    before = AppSettings.load().model
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    _to_settings(qtbot, wiz, toy_cuts, start, 0.4, "paused-run")
    wiz.next()
    assert wiz.currentId() == FineTuneWizard.TRAIN
    train = wiz.page(FineTuneWizard.TRAIN)
    qtbot.waitUntil(lambda: train.steps >= 1 or bool(train.outcome), timeout=240_000)
    assert train.outcome == "", train.status.text()
    train.pause()
    qtbot.waitUntil(lambda: train.outcome == "paused", timeout=120_000)
    run_dir = paths.training_runs_dir() / "paused-run"
    assert read_state(run_dir)["status"] == "paused"
    from training.finetune import spent_minutes
    assert 0 < spent_minutes(run_dir) < 0.4
    assert train.resume_btn.isEnabled()
    wiz.close()                                   # as when the app quits

    # A new wizard (as after an app restart) offers the run and finishes what is left of its budget.
    wiz2 = FineTuneWizard()
    qtbot.addWidget(wiz2)
    wiz2.show()
    assert run_dir in unfinished_runs()
    first = wiz2.page(FineTuneWizard.FOLDER)
    assert first.runs.count() == 1
    first.runs.setCurrentRow(0)
    assert first.nextId() == FineTuneWizard.TRAIN
    wiz2.next()
    assert wiz2.currentId() == FineTuneWizard.TRAIN
    train2 = wiz2.page(FineTuneWizard.TRAIN)
    _wait_trained(qtbot, train2)
    assert spent_minutes(run_dir) >= 0.4 - 1e-3
    wiz2.next()
    result = wiz2.page(FineTuneWizard.RESULT)
    assert result.comparison is not None and result.table.item(0, 1).text()
    result.reject_btn.click()
    assert result.isComplete() and result.installed is None
    assert read_state(run_dir)["status"] == "rejected" and unfinished_runs() == []
    assert not (paths.models_dir() / "paused-run.safetensors").exists()
    assert sorted(p.name for p in paths.models_dir().glob("*.safetensors")) == ["start.safetensors"]
    assert AppSettings.load().model == before
    wiz2.button(QWizard.WizardButton.FinishButton).click()


def test_wizard_from_a_preset_trains_both_phases(qtbot, toy_cuts):
    from opdm_studio.app.finetune_wizard import FineTuneWizard, read_state
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    _to_settings(qtbot, wiz, toy_cuts, Path("unused"), 0.15, "scratch")
    s = wiz.page(FineTuneWizard.SETTINGS)
    s.start.setCurrentIndex(s.start.findData("preset:tiny"))
    s.size.setValue(32)
    wiz.next()
    train = wiz.page(FineTuneWizard.TRAIN)
    _wait_trained(qtbot, train)
    run_dir = paths.training_runs_dir() / "scratch"
    assert read_state(run_dir)["done"] == ["align", "train"]
    assert train.phases_seen[:2] == ["align", "train"]
    wiz.next()
    assert wiz.page(FineTuneWizard.RESULT).comparison is not None
    wiz.page(FineTuneWizard.RESULT).reject_btn.click()
