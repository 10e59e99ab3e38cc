"""Issue 27 item 9: every bench option answers a bad value in one line and exit 2, before any
work (no hang, no abort, no 56 GiB frame); --keep never writes into a folder holding files."""
from __future__ import annotations

import pytest

from opdm_studio.cli import main

BAD = [
    ["--repeats", "-1"], ["--threads", "0"], ["--peak-size", "0"], ["--size", "100"],
    ["--steps", "0"], ["--preset", "huge"],
    ["--cut", "--frames", "0"], ["--cut", "--size", "0x0"], ["--cut", "--size", "big"],
    ["--cut", "--preset", "nope"], ["--cut", "--steps", "-2"],
    ["--gui", "--frames", "0"], ["--gui", "--methods", "nope"], ["--gui", "--size", "-5"],
    ["--gui", "--repeat", "0"],
    ["--imaging", "--size", "100000x100000"], ["--imaging", "--size", "12"],
    ["--imaging", "--repeat", "0"], ["--imaging", "--seed", "-1"],
    ["--imaging", "--guess-heights", "0"],
    ["--fixes", "--frames", "0"], ["--fixes", "--seeds", "a"], ["--fixes", "--size", "1x1"],
    ["--fixes", "--keys", "5,2"], ["--fixes", "--keys", "0,99"],
]


@pytest.mark.parametrize("argv", BAD, ids=lambda a: " ".join(a))
def test_bad_bench_options_are_one_line(capsys, argv):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and "Traceback" not in err[0], err


def test_cut_bench_keeps_its_frames_only_in_a_new_or_empty_folder(tmp_path, capsys):
    lineart = tmp_path / "cut" / "lineart"
    lineart.mkdir(parents=True)
    (lineart / "0001.png").write_bytes(b"a drawing")
    for keep in (lineart, tmp_path / "cut" / "lineart" / "0001.png"):
        assert main(["bench", "--cut", "--method", "flow", "--frames", "3", "--size", "64x64",
                     "--keep", str(keep)]) == 2
        err = capsys.readouterr().err
        assert "new or empty folder" in err or "not a folder" in err, err
    assert (lineart / "0001.png").read_bytes() == b"a drawing"
