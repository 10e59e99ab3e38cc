"""Trust, round two (issue 27), through the public command line in a temp folder: nothing is
written where a user's data lives, a project survives moves and missing files, bad input is
one line and exit 2."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from opdm_studio.engine.project import PROJECT_FILENAME, Project

from .trust_helpers import cli, colorize_args, new_cut, one_line_error, source_tree

# -- 1. nothing is written in the cut's own folder, nor inside its drawing or paint folders -----


@pytest.mark.parametrize("spelling", ["root", "root/", "root/../root", "lineart/x",
                                      "color/y/z", "color/../lineart/q", "link-to-root"])
def test_colorize_and_export_never_write_in_the_cuts_root_or_inside_its_folders(
        tmp_path, capsys, monkeypatch, spelling):
    cut = new_cut(tmp_path / "sp")
    (tmp_path / "link-to-root").symlink_to(cut)
    monkeypatch.chdir(tmp_path)
    target = {"root": "sp", "root/": "sp/", "root/../root": "sp/../sp",
              "link-to-root": "link-to-root"}.get(spelling, f"sp/{spelling}")
    before = source_tree(cut)
    for given in ("sp/lineart", "sp", "link-to-root/lineart"):
        code, err = cli(capsys, "colorize", given, "--keys", "0,9", "--out", target,
                        "--method", "flow", "-q", "--overwrite")
        one_line_error(code, err, "never writes where it reads")
    assert cli(capsys, "colorize", "sp/lineart", "--keys", "0,9", "--out", "out", "--method",
               "flow", "-q")[0] == 0
    code, err = cli(capsys, "export", "out", "--out", target, "-q", "--overwrite")
    one_line_error(code, err, "never writes where it reads")
    assert source_tree(cut) == before


def test_a_project_beside_the_cut_inside_its_folder_is_still_allowed(tmp_path, capsys):
    """The app keeps a project at ``cut/opdm``: a subfolder the cut reader never reads."""
    cut = new_cut(tmp_path / "sp")
    code, err = cli(capsys, *colorize_args(cut / "lineart", cut / "opdm"))
    assert code == 0, err
    assert (cut / "opdm" / PROJECT_FILENAME).is_file()
    assert len(Project.load(cut / "opdm").cut) == 10     # the cut still reads its drawings


# -- 2. a frame range is checked against the cut, never expanded -------------------------------

_LIMITED = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1500 * 2**20, 1500 * 2**20))
    from opdm_studio.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("command", ["colorize", "export"])
def test_a_huge_frame_range_answers_at_once(tmp_path, capsys, command):
    cut = new_cut(tmp_path / "cut", n_frames=4, keys=(0, 3))
    out = tmp_path / "out"
    assert cli(capsys, "colorize", cut, "--keys", "0,3", "--out", out, "--method", "flow",
               "-q")[0] == 0
    base = (["colorize", str(cut), "--out", str(out), "--method", "flow", "-q", "--force"]
            if command == "colorize" else ["export", str(out), "--out", str(tmp_path / "e"), "-q"])
    for frames, code_wanted in (("0-99999999999", 0), ("50-99999999999", 2)):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _LIMITED, *base, "--frames", frames],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == code_wanted, proc.stderr
        assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
        assert time.perf_counter() - start < 30
        if code_wanted == 2:
            assert "runs from 0 to 3" in proc.stderr, proc.stderr


def test_frame_ranges_pick_without_expanding():
    from opdm_studio.cli_args import UsageError, frame_ranges
    ranges = frame_ranges("0-99999999999999,5")
    start = time.perf_counter()
    assert ranges.pick(range(0, 200, 10)) == list(range(20))
    assert time.perf_counter() - start < 0.5
    with pytest.raises(UsageError, match="runs from 1 to 9"):
        frame_ranges("20-30").pick(range(1, 10))
