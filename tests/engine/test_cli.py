"""`opdm-studio colorize` / `export` through the real dispatcher: happy paths and user errors."""
import json

import numpy as np

from opdm_studio.cli import main
from opdm_studio.engine.project import PROJECT_FILENAME, Project

from .conftest import H, W, read_png


def test_colorize_happy_path_then_resume_then_export(cut_dir, tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "out"
    args = ["colorize", str(cut_dir), "--keys", "0,9", "--out", str(out), "--model",
            str(tiny_checkpoint), "--steps", "2", "--working-size", "32", "--dtype", "fp32",
            "--device", "cpu", "--layers", "composite,color", "--psd"]
    assert main(args) == 0
    for i in range(10):
        assert read_png(out / f"cut_{i:04d}.png").shape == (H, W, 3)
        assert read_png(out / f"cut_{i:04d}_color.png").shape == (H, W, 3)
        assert (out / f"cut_{i:04d}.psd").stat().st_size > 0
    doc = json.loads((out / PROJECT_FILENAME).read_text())
    assert doc["settings"]["steps"] == 2 and len(doc["results"]) == 10
    # The same command again: everything is finished, nothing is rewritten.
    before = (out / "cut_0004.png").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "cut_0004.png").stat().st_mtime_ns == before
    assert "coloured 0 frame(s)" in capsys.readouterr().err
    # Re-export other layers elsewhere.
    assert main(["export", str(out), "--out", str(tmp_path / "exp"), "--layers", "lines",
                 "--frames", "2-4", "-q"]) == 0
    got = sorted(p.name for p in (tmp_path / "exp").iterdir())
    assert got == ["cut_0002_lines.png", "cut_0003_lines.png", "cut_0004_lines.png"]
    assert read_png(tmp_path / "exp" / "cut_0003_lines.png").shape == (H, W, 4)
    # Exporting again into the same folder refuses to overwrite, then overwrites when asked.
    assert main(["export", str(out), "--out", str(tmp_path / "exp"), "--layers", "lines",
                 "--frames", "2-4", "-q"]) == 2
    assert main(["export", str(out), "--out", str(tmp_path / "exp"), "--layers", "lines",
                 "--frames", "2-4", "-q", "--overwrite"]) == 0


def test_flow_frames_range_and_keyframe_passthrough(cut_dir, tmp_path):
    out = tmp_path / "out"
    assert main(["colorize", str(cut_dir / "lineart"), "--key-dir", str(cut_dir / "color"),
                 "--keys", "0,9", "--out", str(out), "--method", "flow", "--frames", "0-3",
                 "-q"]) == 0
    assert sorted(p.name for p in out.glob("cut_*.png")) == [f"cut_{i:04d}.png" for i in range(4)]
    key = read_png(cut_dir / "color" / "0000.png")
    assert np.array_equal(read_png(out / "cut_0000.png"), key)
    assert sorted(Project.load(out).results) == [0, 1, 2, 3]


def test_user_errors_exit_2_with_one_line(cut_dir, tmp_path, capsys):
    out = str(tmp_path / "out")
    cases = [
        (["colorize", str(cut_dir), "--keys", "0,99", "--out", out, "--method", "flow"],
         "no frame numbered 99"),
        (["colorize", str(cut_dir), "--keys", "0,9", "--out", out], "no colouring model"),
        (["colorize", str(cut_dir), "--keys", "0,9", "--out", out, "--model",
          str(tmp_path / "missing.safetensors")], "does not exist"),
        (["colorize", str(tmp_path / "nope"), "--keys", "0", "--out", out], "does not exist"),
        (["colorize", str(cut_dir), "--keys", "x", "--out", out], "frame numbers"),
        (["colorize", str(cut_dir), "--out", out], "--keys"),
        (["colorize", str(cut_dir), "--keys", "0,9", "--out", out, "--method", "flow",
          "--layers", "alpha"], "unknown layer"),
        (["colorize", str(cut_dir / "lineart"), "--keys", "0", "--out", str(cut_dir / "lineart"),
          "--method", "flow"], "drawing folder"),
        (["export", str(tmp_path / "nothing"), "--out", out], "no project file"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and "Traceback" not in err, (argv, err)
        assert err.startswith("opdm-studio ")
    # None of the failed runs left results behind.
    assert not list((tmp_path / "out").glob("cut_*.png")) if (tmp_path / "out").exists() else True


def test_help_mentions_frame_numbers(capsys):
    import pytest
    with pytest.raises(SystemExit) as exc:
        main(["colorize", "--help"])
    assert exc.value.code == 0
    assert "numbers as in the drawings' file names" in capsys.readouterr().out


def test_ctrl_c_stops_cleanly_and_rerun_continues(cut_noholds, tmp_path, monkeypatch, capsys):
    import os
    import signal

    from opdm_studio.engine import run as colorizer_mod
    original = colorizer_mod.Colorizer.run

    def run_and_press_ctrl_c(self, *a, **k):
        for ev in original(self, *a, **k):
            yield ev
            if ev.kind == "frame" and ev.index == 3:
                os.kill(os.getpid(), signal.SIGINT)         # what Ctrl-C in a terminal sends

    monkeypatch.setattr(colorizer_mod.Colorizer, "run", run_and_press_ctrl_c)
    out = tmp_path / "out"
    args = ["colorize", str(cut_noholds), "--keys", "0,9", "--out", str(out), "--method", "flow",
            "-q"]
    assert main(args) == 130
    assert "run the same command again" in capsys.readouterr().err
    # Ctrl-C while frame 3 is coloured: the key and the two in-betweens already sampled are
    # finished and kept (their paint decided together); nothing else.
    kept = sorted(Project.load(out).results)
    assert kept == [0, 1, 2]
    assert sorted(p.name for p in out.glob("cut_*.png")) == [f"cut_{i:04d}.png" for i in kept]
    monkeypatch.setattr(colorizer_mod.Colorizer, "run", original)
    assert main(args) == 0
    assert sorted(Project.load(out).results) == list(range(10))
