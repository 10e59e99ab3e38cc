"""The refine objective: its synthetic data, `python -m training refine`, and fine-tuning a refine
model on finished cuts (`train --init`), each exported with the model's refine spec."""
from __future__ import annotations

import json

import pytest
import torch

from opdm_studio.core.config import InferenceSpec
from opdm_studio.core.model import OPDM
from training.__main__ import main as training_main
from training.refine import refine_config
from training.refine_data import SynthRefineDataset
from training.triplets import TripletDataset, fixed_batch


def _load(path):
    from opdm_studio.engine.models import clear_model_cache, load_model
    clear_model_cache()
    return load_model(path, "cpu", "fp32")


def test_refine_data_items_are_consistent():
    d = SynthRefineDataset(size=32, seed=1, cut_size=(64, 80), frames=8, uses=4)
    b = fixed_batch(d, 2)
    assert b["line"].shape == (2, 1, 32, 32) and b["prev"].shape == (2, 3, 32, 32)
    for k in ("line", "prev", "next", "prop", "target"):
        assert b[k].min() >= -1 and b[k].max() <= 1
    assert 0 <= float(b["confidence"].min()) and float(b["confidence"].max()) <= 1
    # Line art is the protocol's binary drawing before area resizing: ink exists.
    assert float(b["line"].min()) < 0
    # The key fixes the item, whatever was generated before (exact resume).
    fresh = SynthRefineDataset(size=32, seed=1, cut_size=(64, 80), frames=8, uses=4)
    assert torch.equal(fresh[1]["target"], d[1]["target"]) and torch.equal(fresh[1]["prop"], b["prop"][1])


def test_flow_warped_triplets_from_finished_cuts(toy_cuts):
    from training.data import scan_cuts
    ds = TripletDataset(scan_cuts(toy_cuts).cuts, size=32, seed=2, refs="flow-warped")
    it = ds[3]
    assert set(it) == {"line", "prev", "next", "prop", "target", "confidence", "t"}
    assert it["prop"].shape == (3, 32, 32) and it["confidence"].shape == (1, 32, 32)
    assert torch.equal(ds[3]["prop"], it["prop"])


def test_refine_command_trains_exports_and_loads(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["refine", "--out", str(run), "--minutes", "5", "--max-steps", "2", "--size", "32", "--batch", "1",
            "--base", "8", "--workers", "0", "--dtype", "fp32", "--no-progress"]
    assert training_main(args) == 0
    assert json.loads((run / "run.json").read_text())["train_config"]["objective"] == "refine"
    dst = tmp_path / "m.safetensors"
    assert training_main(["export", str(run), str(dst)]) == 0
    loaded = _load(dst)
    assert loaded.inference == InferenceSpec.refine(t_start=35, steps=1, gate="confidence", refs="chain-warped")
    assert "inference" not in loaded.config.extra and loaded.config.base_channels == 8
    assert loaded.metadata["training_steps"] == 2 and loaded.metadata["objective"] == "refine"
    capsys.readouterr()
    assert training_main(args) == 2                       # never trains over a run
    assert "already holds" in capsys.readouterr().err


def test_init_refine_model_trains_refine_and_keeps_its_spec(toy_cuts, tmp_path):
    """Fine-tuning follows the model: a refine model trains the refine objective on the finished
    cuts (flow between the cut's own drawings) and its export keeps the model's spec."""
    from opdm_studio.core.checkpoint import save_checkpoint
    spec = InferenceSpec.refine(t_start=20, steps=1, gate="confidence")
    torch.manual_seed(0)
    start = save_checkpoint(tmp_path / "start.safetensors", OPDM(refine_config(base=8).replace(image_size=32)),
                            metadata={"name": "start"}, inference=spec)
    run = tmp_path / "ft"
    assert training_main(["train", str(toy_cuts), "--init", str(start), "--out", str(run), "--steps", "2",
                          "--batch", "1", "--workers", "0", "--device", "cpu", "--dtype", "fp32",
                          "--val-every", "2", "--val-frames", "2", "--no-progress"]) == 0
    assert json.loads((run / "run.json").read_text())["train_config"]["objective"] == "refine"
    from training.plots import read_log
    log = read_log(run / "log.jsonl")
    assert any("raw_l1" in r for r in log) and any("val_psnr_prop" in r for r in log)
    dst = tmp_path / "ft.safetensors"
    assert training_main(["export", str(run), str(dst)]) == 0
    assert _load(dst).inference == spec


def test_refine_config_is_small():
    m = OPDM(refine_config())
    assert m.num_parameters() < 15_000_000   # fp16 export well under 60 MB


@pytest.mark.parametrize("bad", [["--t-range", "70,10"], ["--t-range", "x"]])
def test_refine_bad_timesteps_are_one_line_errors(tmp_path, capsys, bad):
    args = ["refine", "--out", str(tmp_path / "r"), "--max-steps", "1", "--size", "32", "--base", "8",
            "--workers", "0", "--no-progress", *bad]
    assert training_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("training refine: error:") and "\n" not in err
