"""Fine-tuning runs as the wizard keeps them (training.finetune), without Qt: a minutes budget over
pauses, the objective the start model runs, the before / after comparison on held-back frames,
install on accept and nothing on reject."""
from __future__ import annotations

import threading

import torch

from opdm_studio.core.config import InferenceSpec
from training.finetune import (
    compare_run,
    install_run,
    log_records,
    plan_run,
    read_state,
    reject_run,
    spent_minutes,
    train_phases,
    unfinished_runs,
)


def _refine_start(tmp_path, spec):
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.model import OPDM
    from training.refine import refine_config
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "start.safetensors", OPDM(refine_config(base=8).replace(image_size=32)),
                           inference=spec)


def test_a_refine_model_is_fine_tuned_on_its_objective_compared_and_installs_with_its_spec(toy_cuts, tmp_path):
    from opdm_studio.core.checkpoint_info import read_checkpoint_info
    from training.compare import read_comparison
    spec = InferenceSpec.refine(t_start=30, steps=1)
    start = _refine_start(tmp_path, spec)
    runs = tmp_path / "runs"
    run_dir = runs / "mine"
    state = plan_run(run_dir, toy_cuts, str(start), minutes=0.25, size=32, device="cpu")
    assert [p["name"] for p in state["phases"]] == ["train"] and state["compare_with"] == str(start)
    cfg = state["phases"][0]["config"]
    assert cfg["steps"] == 0 and cfg["ckpt_minutes"] == 0.05          # validates every few minutes
    assert unfinished_runs(runs) == [run_dir]
    stop = threading.Event()
    stop.set()                                    # pause after the first step, with a checkpoint
    assert train_phases(run_dir, stop=stop) == "paused"
    spent = spent_minutes(run_dir)
    assert 0 < spent < 0.25
    assert train_phases(run_dir) == "finished"    # resumes with what is left of the budget
    assert read_state(run_dir)["done"] == ["train"]
    assert spent_minutes(run_dir) >= 0.25 - 1e-3  # the whole budget, over the pause
    losses = [r for r in log_records(run_dir) if "loss" in r]
    assert losses[0]["step"] == 1 and all("raw_l1" in r for r in losses)   # the refine objective
    assert any("val_psnr_prop" in r for r in log_records(run_dir))         # validated on held-back frames

    comp = compare_run(run_dir)
    assert comp is not None and comp.held_back == ["cut02"] and comp.start.frames == comp.finetuned.frames > 0
    assert comp.start.model == str(start) and 5 < comp.start.psnr < 100 and 0 < comp.finetuned.ssim <= 1
    assert (run_dir / "comparison.png").is_file() and read_comparison(run_dir).gain_db == comp.gain_db

    out = install_run(run_dir, tmp_path / "models" / "mine.safetensors")
    info = read_checkpoint_info(out)
    assert info.inference == spec and info.metadata["objective"] == "refine"
    assert read_state(run_dir)["status"] == "installed" and unfinished_runs(runs) == []


def test_a_rejected_run_installs_nothing(toy_cuts, tmp_path):
    start = _refine_start(tmp_path, InferenceSpec.refine(t_start=30, steps=1))
    run_dir = tmp_path / "runs" / "no"
    plan_run(run_dir, toy_cuts, str(start), minutes=0.01, size=32, device="cpu")
    assert train_phases(run_dir) == "finished"
    assert compare_run(run_dir) is not None and (run_dir / "candidate.safetensors").is_file()
    reject_run(run_dir)
    assert read_state(run_dir)["status"] == "rejected" and unfinished_runs(tmp_path / "runs") == []
    assert not (run_dir / "candidate.safetensors").exists() and not (tmp_path / "models").exists()


def test_a_preset_plans_stage_1_then_stage_2_within_the_budget(toy_cuts, tmp_path):
    state = plan_run(tmp_path / "r", toy_cuts, "preset:tiny", minutes=8, size=32, device="cpu",
                     compare_with="default.safetensors")
    align, train = state["phases"]
    assert align["config"]["objective"] == "align" and align["minutes"] == 2 and train["minutes"] == 6
    assert train["config"]["objective"] == "auto" and train["config"]["init"] == str(tmp_path / "r" / "align")
    assert state["compare_with"] == "default.safetensors"


def test_measured_step_time_gives_the_expected_steps(toy_cuts, tmp_path):
    from training.config import TrainConfig
    from training.estimate import duration_text, measure_step_seconds
    start = _refine_start(tmp_path, InferenceSpec.refine(t_start=30, steps=1))
    t = measure_step_seconds(TrainConfig(data=str(toy_cuts), init=str(start), size=32, device="cpu", workers=0))
    assert t.objective == "refine" and t.batch == 4 and t.seconds > 0
    assert t.steps_in(30) == int(1800 / t.seconds)
    assert [duration_text(s) for s in (40, 720, 3.5 * 3600, 9 * 86400)] == ["40 s", "12 min", "3.5 h", "9 days"]
