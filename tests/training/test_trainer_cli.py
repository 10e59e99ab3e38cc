"""The trainer's time budget, the objective chosen from the model, and `check --preview` safety."""
from __future__ import annotations

import json
import os

import pytest
from PIL import Image

from opdm_studio.errors import TrainingDataError
from training.__main__ import main as training_main
from training.config import TrainConfig
from training.state import latest_checkpoint, read_training_header
from training.trainer import run

SIZE = 32


def _cfg(data, out, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), objective="paper", preset="tiny", size=SIZE, steps=4, batch=1,
                lr=1e-3, workers=0, device="cpu", dtype="fp32", chain_steps=1, ckpt_every=1000,
                val_every=1000, log_every=1, val_frames=2, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def test_minutes_budget_stops_with_a_checkpoint_and_resumes(toy_cuts, tmp_path):
    ev = run(_cfg(toy_cuts, tmp_path / "r", steps=100_000, minutes=0.02))
    assert ev.status == "budget" and 1 <= ev.step < 100_000
    ckpt = latest_checkpoint(tmp_path / "r")
    assert ckpt is not None and int(read_training_header(ckpt)["step"]) == ev.step
    assert (tmp_path / "r" / "samples" / "latest.png").is_file()     # validated at the stop
    # The budget belongs to one invocation: --resume goes on from the checkpoint.
    ev2 = run(_cfg(toy_cuts, tmp_path / "r", steps=ev.step + 1, minutes=5, resume=True))
    assert ev2.status == "finished" and ev2.step == ev.step + 1
    # Uncapped by steps, the budget decides.
    ev3 = run(_cfg(toy_cuts, tmp_path / "u", steps=0, minutes=0.01))
    assert ev3.status == "budget"
    with pytest.raises(TrainingDataError, match="length"):
        run(_cfg(toy_cuts, tmp_path / "none", steps=0, minutes=0))


def test_train_command_with_minutes(toy_cuts, tmp_path, capsys):
    out = tmp_path / "cli"
    assert training_main(["train", str(toy_cuts), "--out", str(out), "--preset", "tiny", "--size", "32",
                          "--minutes", "0.01", "--steps", "50000", "--workers", "0", "--device", "cpu",
                          "--dtype", "fp32", "--chain-steps", "1", "--val-frames", "0", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "objective: paper" in text and "budget is spent" in text
    assert latest_checkpoint(out) is not None
    assert json.loads((out / "run.json").read_text())["train_config"]["minutes"] == 0.01


def test_a_resumed_run_keeps_its_objective(toy_cuts, tmp_path):
    run(_cfg(toy_cuts, tmp_path / "a", objective="align", steps=1))
    with pytest.raises(TrainingDataError, match="align objective"):
        run(_cfg(toy_cuts, tmp_path / "a", objective="paper", steps=2, resume=True))
    assert run(_cfg(toy_cuts, tmp_path / "a", objective="auto", steps=2, resume=True)).step == 2


def test_legacy_run_options_map_stage_to_objective():
    assert TrainConfig.from_dict({"stage": "train", "steps": 3}).objective == "paper"
    assert TrainConfig.from_dict({"stage": "align"}).objective == "align"
    assert TrainConfig.from_dict({"objective": "refine", "stage": "train"}).objective == "refine"


def _check(capsys, *args):
    capsys.readouterr()
    rc = training_main(["check", *map(str, args)])
    return rc, capsys.readouterr()


def test_check_preview_refuses_training_folders(toy_cuts, tmp_path, capsys):
    frame = toy_cuts / "cut00" / "color" / "0000.png"
    before = frame.read_bytes()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "link").symlink_to(toy_cuts / "cut01", target_is_directory=True)
    # A cut that is a symlink to a folder outside the cuts folder is training data too.
    linked_cut = tmp_path / "linked_cut"
    os.rename(toy_cuts / "cut02", linked_cut)
    (toy_cuts / "cut02").symlink_to(linked_cut, target_is_directory=True)
    for target in (frame, toy_cuts / "preview.png", toy_cuts / "cut00" / ".." / "cut01" / "p.png",
                   outside / ".." / "cuts" / "p.png", tmp_path / "link" / "lineart" / "p.png",
                   linked_cut / "color" / "p.png"):
        rc, io = _check(capsys, toy_cuts, "--preview", target)
        assert rc == 2, target
        err = io.err.strip()
        assert err.startswith("training check: error:") and "inside the training data" in err and "\n" not in err
        assert io.out == ""          # refused before anything is reported or written
    assert frame.read_bytes() == before
    assert not (toy_cuts / "preview.png").exists() and not (linked_cut / "color" / "p.png").exists()


def test_check_preview_never_replaces_a_file_unless_asked(toy_cuts, tmp_path, capsys):
    dst = tmp_path / "preview.png"
    rc, io = _check(capsys, toy_cuts, "--preview", dst)
    assert rc == 0 and f"wrote {dst}" in io.out
    assert Image.open(dst).size[0] == 4 * 128
    dst.write_bytes(b"mine")
    rc, io = _check(capsys, toy_cuts, "--preview", dst)
    assert rc == 2 and "already exists" in io.err and "--overwrite" in io.err
    assert dst.read_bytes() == b"mine"
    rc, io = _check(capsys, toy_cuts, "--preview", tmp_path)
    assert rc == 2 and "folder" in io.err
    rc, io = _check(capsys, toy_cuts, "--preview", dst, "--overwrite")
    assert rc == 0 and Image.open(dst).format == "PNG"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporary left
