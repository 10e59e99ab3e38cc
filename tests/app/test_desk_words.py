"""What the desk says: the save prompt names what changed, the fine-tune wizard says in a
colourist's words what got better, its first page's header fits, and the Japanese interface has
no English left in the run's progress, the wizard's resume list, its device and start-model
choices and its speed estimate (pytest-qt, offscreen)."""
from __future__ import annotations

import re

import pytest
from PySide6.QtGui import QUndoCommand, QUndoStack

from opdm_studio.app.unsaved import unsaved_question
from training.compare import Comparison, ModelScore

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


class Change(QUndoCommand):
    def __init__(self, kind: str | None) -> None:
        super().__init__("change")
        if kind is not None:
            self.kind = kind


def stack_of(*kinds) -> QUndoStack:
    stack = QUndoStack()
    for k in kinds:
        stack.push(Change(k))
    return stack


def test_save_prompt_counts_changes_by_kind(qapp):
    stack = stack_of("fill", "fill", "palette", "stroke", None)
    q = unsaved_question(stack, "cut01")
    assert q == "Save the changes to cut01 (2 fills, 1 brush or lasso stroke, 1 palette edit, 1 other change)?"
    stack.setClean()
    stack.undo()                        # undone past the save: still a change to save
    assert unsaved_question(stack, "cut01") == "Save the changes to cut01 (1 other change)?"


def test_closing_after_fills_and_a_palette_edit_says_so(qtbot, window, cut_dir, dialogs):
    from .conftest import colorize_all
    from .test_fixing import BALL, swatch_named
    win = window
    assert win.open_cut(cut_dir)
    colorize_all(qtbot, win)
    qtbot.waitUntil(win.doc.palette_synced, timeout=10000)
    win.set_mode("color")
    win.save()
    win.go_to(3)
    green = swatch_named(win, (90, 170, 90))
    win.fixes.panel.set_current(green.id)
    win.acts.fill.trigger()
    win.viewer.filled.emit(*BALL)
    win.fixes.edit("Rename", lambda: win.doc.palette.rename(green.id, "leaf"))
    win.toggle_key(3)
    from PySide6.QtWidgets import QMessageBox
    dialogs.answers.append(QMessageBox.StandardButton.Cancel)
    assert not win._maybe_save_changes()
    kind, _title, text = dialogs.seen[-1]
    assert kind == "question" and "keyframe changes" not in text
    assert "1 fill" in text and "1 palette edit" in text and "1 keyframe change" in text


def comparison(start_psnr, tuned_psnr, start_ssim=0.90, tuned_ssim=0.95) -> Comparison:
    return Comparison(ModelScore("a.safetensors", start_psnr, start_ssim, 6),
                      ModelScore("b.safetensors", tuned_psnr, tuned_ssim, 6), 4, ["cut01"])


def test_the_wizard_says_what_got_better_in_words(qapp):
    from opdm_studio.app.finetune_result import closer_percent, verdict
    assert round(closer_percent(6.0206)) == 50 and round(closer_percent(-6.0206)) == -100
    better = verdict(comparison(26.0, 27.0))
    assert "11 % closer" in better and "Shapes and shading match them better: 50 % less" in better
    worse = verdict(comparison(27.0, 26.0, 0.95, 0.90))
    assert "further from your finished frames" in worse and "less well" in worse
    same = verdict(comparison(27.0, 27.02, 0.95, 0.951))
    assert "as close to your finished frames as before" in same and "as before (SSIM)" in same


def test_wizard_pages_explain_the_figures_and_the_header_fits(qtbot):
    from PySide6.QtWidgets import QLabel

    from opdm_studio.app.finetune_wizard import FineTuneWizard
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    first = wiz.page(FineTuneWizard.FOLDER)
    assert len(first.subTitle()) <= 60                       # one line in the header
    assert "never changes these files" in first.findChild(QLabel, "folderHelp").text()
    result = wiz.page(FineTuneWizard.RESULT)
    assert "PSNR: how close the colours come" in result.help.text()
    assert "training error" in wiz.page(FineTuneWizard.TRAIN).plot_help.text()


def test_resume_list_and_device_in_words(qtbot):
    from opdm_studio import paths
    from opdm_studio.app.finetune_wizard import FineTuneWizard
    from training.finetune import update_state
    run = paths.training_runs_dir() / "finetuned-test"
    run.mkdir(parents=True)
    update_state(run, name=run.name, data="/cuts", status="cancelled")
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    first = wiz.page(FineTuneWizard.FOLDER)
    first.initializePage()
    assert first.runs.item(0).text() == "finetuned-test  (cancelled, data /cuts)"
    settings = wiz.page(FineTuneWizard.SETTINGS)
    assert settings.device.itemData(0) == "auto" and settings.device.itemText(0).startswith("Auto")


@pytest.fixture
def ja(qapp):
    """The application's texts in Japanese."""
    from opdm_studio.app import i18n
    i18n.install(qapp, "ja")
    yield
    i18n.install(qapp, "en")


def test_no_english_left_in_the_japanese_desk(ja, qtbot, monkeypatch):
    from opdm_studio.app import finetune_wizard
    from opdm_studio.app.finetune_estimate import objective_text
    from opdm_studio.app.finetune_result import verdict
    from opdm_studio.app.settings import AppSettings, SettingsDialog
    from opdm_studio.app.worker import engine_text
    for message in ("4 of 4 frames to colour", "3 frames coloured in 0.0 s"):
        text = engine_text(message)
        assert JAPANESE.search(text) and "frames" not in text, text
    for status in finetune_wizard.RUN_STATUS.values():
        assert JAPANESE.search(finetune_wizard.translate("FolderPage", status)), status
    assert JAPANESE.search(finetune_wizard.device_label("auto"))
    text = objective_text("refine")
    assert JAPANESE.search(text) and "refine" not in text
    assert JAPANESE.search(verdict(comparison(26.0, 27.0)))
    assert JAPANESE.search(unsaved_question(stack_of("fill", "palette"), "cut01"))
    # The shipped model (default.safetensors) is not "既定のモデル (default)".
    monkeypatch.setattr("opdm_studio.engine.models.default_model_path", lambda: __file__.replace(
        "test_desk_words.py", "default.safetensors"))
    monkeypatch.setattr("pathlib.Path.is_file", lambda self: True)
    label = finetune_wizard.installed_model_choices()[0][0]
    assert JAPANESE.search(label) and "default" not in label, label
    monkeypatch.undo()
    dlg = SettingsDialog(AppSettings(), "", [])
    qtbot.addWidget(dlg)
    assert JAPANESE.search(dlg.device_box.itemText(0)) and dlg.device_box.itemData(0) == "auto"


def test_settings_show_the_steps_that_will_run(qtbot, tmp_path):
    import torch

    from opdm_studio.app.settings import AppSettings, SettingsDialog
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.config import InferenceSpec
    from opdm_studio.core.model import OPDM
    from training.refine import refine_config
    torch.manual_seed(0)
    path = tmp_path / "refine.safetensors"
    save_checkpoint(path, OPDM(refine_config(base=8).replace(image_size=32)),
                    inference=InferenceSpec.refine(t_start=30, steps=1))
    dlg = SettingsDialog(AppSettings(model=str(path), steps=10), "", [])
    qtbot.addWidget(dlg)
    # The refine model runs its own single step: shown as what will run, not editable.
    assert dlg.steps_spin.value() == 1 and not dlg.steps_spin.isEnabled()
    assert "runs 1 step(s)" in dlg.steps_note.text() and not dlg.steps_note.isHidden()
    assert dlg.result_settings().steps == 10               # the user's setting is kept
    dlg.model_box.setCurrentIndex(dlg.model_box.findData("default"))   # (none installed here)
    assert dlg.steps_spin.isEnabled() and dlg.steps_spin.value() == 10 and dlg.steps_note.isHidden()
    dlg.steps_spin.setValue(20)
    assert dlg.result_settings().steps == 20
