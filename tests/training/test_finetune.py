"""Fine-tuning runs as the wizard keeps them (training.finetune), without Qt."""
from __future__ import annotations

import threading

import torch

from opdm_studio.core.config import InferenceSpec
from training.finetune import install_run, log_records, plan_run, read_state, train_phases, unfinished_runs


def test_a_refine_model_is_fine_tuned_on_its_objective_and_installs_with_its_spec(toy_cuts, tmp_path):
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.checkpoint_info import read_checkpoint_info
    from opdm_studio.core.model import OPDM
    from training.refine import refine_config
    spec = InferenceSpec.refine(t_start=30, steps=1)
    torch.manual_seed(0)
    start = save_checkpoint(tmp_path / "start.safetensors", OPDM(refine_config(base=8).replace(image_size=32)),
                            inference=spec)
    runs = tmp_path / "runs"
    run_dir = runs / "mine"
    state = plan_run(run_dir, toy_cuts, str(start), steps=2, batch=1, size=32, device="cpu", lr=1e-4)
    assert [p["name"] for p in state["phases"]] == ["train"]
    assert unfinished_runs(runs) == [run_dir]
    stop = threading.Event()
    stop.set()                                    # pause after the first step, with a checkpoint
    assert train_phases(run_dir, stop=stop) == "paused"
    assert train_phases(run_dir) == "finished"    # resumes from that checkpoint
    assert read_state(run_dir)["done"] == ["train"]
    assert [r["step"] for r in log_records(run_dir) if "loss" in r] == [1, 2]
    out = install_run(run_dir, tmp_path / "models" / "mine.safetensors")
    info = read_checkpoint_info(out)
    assert info.inference == spec and info.metadata["objective"] == "refine"
    assert read_state(run_dir)["status"] == "installed" and unfinished_runs(runs) == []


def test_a_preset_plans_stage_1_then_stage_2(toy_cuts, tmp_path):
    state = plan_run(tmp_path / "r", toy_cuts, "preset:tiny", steps=8, batch=2, size=32, device="cpu", lr=1e-4)
    align, train = state["phases"]
    assert align["config"]["objective"] == "align" and align["config"]["steps"] == 2
    assert train["config"]["objective"] == "auto" and train["config"]["init"] == str(tmp_path / "r" / "align")
