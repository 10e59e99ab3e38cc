"""Trust, round two (issue 27) for training: Ctrl-C stops with a checkpoint, every frame is
checked, bad option values are one line and exit 2, an export never replaces what it reads."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.__main__ import main as training_main
from training.config import TrainConfig
from training.state import latest_checkpoint, read_training_header
from training.trainer import run

ROOT = Path(__file__).resolve().parents[2]


def _one_line(code: int, err: str, words: str = "") -> None:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert code == 2, err
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err, err


# -- 5. Ctrl-C or SIGTERM: a checkpoint, one line, exit 130, and --resume goes on ----------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_training_with_a_checkpoint_and_resume_continues(toy_cuts, tmp_path, sig):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "training", "train", str(toy_cuts), "--out", str(out),
            "--preset", "tiny", "--size", "32", "--steps", "100000", "--workers", "0",
            "--device", "cpu", "--dtype", "fp32", "--chain-steps", "1", "--val-frames", "0",
            "--no-progress", "--log-every", "1", "--ckpt-every", "100000"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (out / "log.jsonl").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopped by the user at step" in err and "Traceback" not in err, err
    ckpt = latest_checkpoint(out)
    assert ckpt is not None
    step = int(read_training_header(ckpt)["step"])
    assert step >= 1
    cfg = TrainConfig(data=str(toy_cuts), out=str(out), objective="auto", preset="tiny", size=32,
                      steps=step + 1, batch=1, workers=0, device="cpu", dtype="fp32", chain_steps=1,
                      val_frames=0, progress=False, resume=True)
    ev = run(cfg)
    assert ev.status == "finished" and ev.step == step + 1


# -- 7. check reads every frame whole: a truncated one is named and left out ---------------------

def test_check_names_a_truncated_frame_and_training_leaves_it_out(toy_cuts, capsys):
    frame = toy_cuts / "cut01" / "color" / "0003.png"
    data = frame.read_bytes()
    frame.write_bytes(data[: len(data) // 2])
    line = toy_cuts / "cut02" / "lineart" / "0005.png"
    line.write_bytes(line.read_bytes()[:60])
    assert training_main(["check", str(toy_cuts)]) == 0
    text = capsys.readouterr().out
    assert f"{frame}: the file is truncated" in text, text
    assert f"{line}:" in text and "lines extracted" in text, text
    from training.data import open_data
    report = open_data(toy_cuts)
    used = [p for c in report.cuts for p in c.color_files]
    assert frame not in used and len(used) == 3 * 8 - 1


# -- 8. every training option answers a bad value in one line, exit 2 ----------------------------

BAD_TRAIN_OPTIONS = [
    ["--lr", "-1"], ["--lr", "nan"], ["--batch", "-1"], ["--ema", "5"], ["--accum", "0"],
    ["--minutes", "-1"], ["--minutes", "0"], ["--minutes", "nan"], ["--minutes", "inf"],
    ["--gap", "5,2"], ["--gap", "5"], ["--crop", "7"], ["--workers", "-3"], ["--flow-size", "-1"],
    ["--flow-size", "7"], ["--ckpt-every", "0"], ["--size", "100"], ["--steps", "-5"],
    ["--seed", "x"], ["--synth-ratio", "1"], ["--t-range", "60,10"], ["--device", "tpu"],
    ["--dtype", "int8"], ["--val-frames", "-1"], ["--chain-steps", "0"], ["--steps", "1e400"],
]


@pytest.mark.parametrize("bad", BAD_TRAIN_OPTIONS, ids=lambda b: " ".join(b))
def test_bad_training_options_are_one_line(toy_cuts, tmp_path, capsys, bad):
    code = training_main(["train", str(toy_cuts), "--out", str(tmp_path / "r"), "--preset", "tiny",
                          "--steps", "1", *bad])
    _one_line(code, capsys.readouterr().err, bad[0])
    assert not (tmp_path / "r").exists()


def test_a_device_or_dtype_this_machine_lacks_is_one_line(toy_cuts, tmp_path, capsys):
    import torch
    cases = [] if torch.cuda.is_available() else [["--device", "cuda"]]
    cases.append(["--device", "cpu", "--dtype", "fp16"])
    for bad in cases:
        code = training_main(["train", str(toy_cuts), "--out", str(tmp_path / "r"), "--steps", "1",
                              *bad])
        _one_line(code, capsys.readouterr().err, "--device")


def test_an_unknown_training_command_is_one_line_on_stderr(capsys):
    assert training_main(["bogus"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _one_line(2, captured.err, "unknown command 'bogus'")


# -- 10. an export never replaces its own input, the run's checkpoints or the training data ------

def test_export_never_replaces_what_it_reads(toy_cuts, tmp_path, capsys):
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(toy_cuts), out=str(out), objective="paper", preset="tiny", size=32,
                      steps=1, batch=1, workers=0, device="cpu", dtype="fp32", chain_steps=1,
                      val_frames=0, progress=False)
    run(cfg)
    ckpt = latest_checkpoint(out)
    paint = toy_cuts / "cut00" / "color" / "0000.png"
    before = {p: p.read_bytes() for p in (ckpt, paint)}
    for target in (ckpt, paint, out / "checkpoints" / "new.safetensors",
                   toy_cuts / "cut00" / "model.safetensors"):
        for source in (out, ckpt):
            code = training_main(["export", str(source), str(target), "--force"])
            _one_line(code, capsys.readouterr().err, "never writes where it reads")
    assert {p: p.read_bytes() for p in before} == before
    assert training_main(["export", str(out), str(tmp_path / "m.safetensors")]) == 0


def test_check_preview_into_a_read_only_folder_is_one_line(toy_cuts, tmp_path, capsys,
                                                          monkeypatch):
    import training.check as check

    def refuse(img, path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(check, "save_png_atomic", refuse)     # a read-only folder, even as root
    code = training_main(["check", str(toy_cuts), "--preview", str(tmp_path / "ro" / "p.png")])
    _one_line(code, capsys.readouterr().err, "cannot write the preview")
