"""What OPDM Studio never does, through the public command line in a temp folder (issue items
1-4): it never writes a source (sha256 of every source file before and after), never overwrites
a file it did not write, never loses a finished frame, never keeps a result made from sources
that were edited since."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from opdm_studio.engine.project import PROJECT_FILENAME, Project
from opdm_studio.imaging.cut import read_image
from opdm_studio.imaging.export import write_png_atomic

from .trust_helpers import cli, colorize_args, new_cut, one_line_error, source_tree

# -- 1. every folder the project reads is protected, in colorize and export --------------------


def test_export_never_writes_into_a_folder_the_project_reads(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    before = source_tree(cut)
    (tmp_path / "link-to-lines").symlink_to(cut / "lineart")
    targets = [cut / "lineart", cut / "color", cut, cut / "lineart" / ".." / "color",
               tmp_path / "link-to-lines", cut / "lineart" / "color", cut / "paint"]
    for target in targets:
        for extra in ([], ["--template", "{name}.png", "--overwrite"], ["--overwrite"]):
            code, err = cli(capsys, "export", out, "--out", target, "-q", *extra)
            one_line_error(code, err, "choose")
            assert "never writes" in err or "would be read as" in err, err
    assert source_tree(cut) == before
    assert not (cut / "lineart" / "color").exists() and not (cut / "paint").exists()


def test_colorize_never_writes_into_a_folder_the_project_reads(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    before = source_tree(cut)
    for target in (cut / "lineart", cut / "color", cut, cut / "lineart" / "color",
                   cut / "lineart" / ".." / "color"):
        code, err = cli(capsys, *colorize_args(cut, target, "--overwrite"))
        one_line_error(code, err, str(target))
    # A project file whose output folder was edited to point at the drawings is refused too.
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    doc = json.loads((out / PROJECT_FILENAME).read_text())
    doc["settings"]["output_dir"] = str(cut / "lineart")
    doc["results"] = []
    (out / PROJECT_FILENAME).write_text(json.dumps(doc))
    code, err = cli(capsys, *colorize_args(cut, out, "--overwrite"))
    one_line_error(code, err, "outside the project folder")
    assert source_tree(cut) == before


# -- 2. a stop between writing a frame's files and recording it never blocks the rerun -----------

_KILL_AFTER_LAYERS = textwrap.dedent("""
    import os, sys
    import opdm_studio.engine.run as run
    real, calls = run.write_layers, []
    def write_then_die(*a, **k):
        written = real(*a, **k)
        calls.append(1)
        if len(calls) == int(sys.argv[1]):
            os._exit(9)           # SIGKILL-like: no cleanup, no project save
        return written
    run.write_layers = write_then_die
    from opdm_studio.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def test_killed_between_writing_a_layer_and_recording_it_the_same_command_resumes(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    before = source_tree(cut)
    args = colorize_args(cut, out, "--layers", "composite,color")
    script = tmp_path / "kill.py"
    script.write_text(_KILL_AFTER_LAYERS)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, str(script), "4", *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    # The frame killed after its files were written left them behind; finished frames are kept.
    assert (out / "cut_0003.png").is_file()
    assert sorted(Project.load(out).results) == [0, 1, 2]
    # The same command again: no "already exists", every frame done, sources untouched.
    code, err = cli(capsys, *args)
    assert code == 0, err
    assert sorted(Project.load(out).results) == list(range(10))
    assert source_tree(cut) == before


def test_disk_full_after_a_layer_then_the_same_command_resumes(tmp_path, capsys, monkeypatch):
    import opdm_studio.engine.run as run
    from opdm_studio.errors import ExportError
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    before = source_tree(cut)
    real, calls = run.store_result, []

    def full_disk(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise ExportError(f"{out}/opdm-data/color/0003.png: cannot be written: the disk is full")
        return real(*a, **k)

    monkeypatch.setattr(run, "store_result", full_disk)
    code, err = cli(capsys, *colorize_args(cut, out))
    one_line_error(code, err, "the disk is full")
    assert (out / "cut_0003.png").is_file()          # written before the disk filled up
    monkeypatch.setattr(run, "store_result", real)
    code, err = cli(capsys, *colorize_args(cut, out))
    assert code == 0, err
    assert sorted(Project.load(out).results) == list(range(10))
    assert source_tree(cut) == before


def test_sigkill_at_any_moment_then_the_same_command_resumes(tmp_path, capsys):
    import signal
    import time
    cut = new_cut(tmp_path / "cut", n_frames=24, keys=(0, 23))
    out = tmp_path / "out"
    before = source_tree(cut)
    args = ["colorize", str(cut), "--keys", "0,23", "--out", str(out), "--method", "flow",
            "--layers", "composite,color,lines", "-q"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for wanted in (2, 9):
        proc = subprocess.Popen([sys.executable, "-m", "opdm_studio", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if len(list(out.glob("cut_*.png"))) >= 3 * wanted:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        Project.load(out)                              # always a valid project
    code, err = cli(capsys, *args)
    assert code == 0, err
    assert sorted(Project.load(out).results) == list(range(24))
    assert source_tree(cut) == before


def test_a_file_the_project_did_not_write_is_still_refused(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "cut_0004.png"
    mine.write_bytes(b"the compositor's own file")
    code, err = cli(capsys, *colorize_args(cut, out))
    one_line_error(code, err, "already exists")
    assert mine.read_bytes() == b"the compositor's own file"
    assert not list(out.glob("cut_000[0-3].png"))     # refused before anything was written


# -- 3. two frames never go to one file --------------------------------------------------------

def _repeated_numbers_cut(root: Path) -> Path:
    """Drawings a_0001..a_0004 and b_0001..b_0004 (numbers repeat), keys a_0001 and b_0004."""
    src = new_cut(root / "src", n_frames=8, keys=(0, 7))
    cut = root / "cut"
    (cut / "lineart").mkdir(parents=True)
    (cut / "color").mkdir()
    for i in range(8):
        name = f"{'ab'[i // 4]}_{i % 4 + 1:04d}.png"
        (cut / "lineart" / name).write_bytes((src / "lineart" / f"{i:04d}.png").read_bytes())
        if i in (0, 7):
            (cut / "color" / name).write_bytes((src / "color" / f"{i:04d}.png").read_bytes())
    return cut


def test_frames_with_repeated_numbers_never_share_an_output_file(tmp_path, capsys):
    cut = _repeated_numbers_cut(tmp_path)
    out = tmp_path / "out"
    before = source_tree(cut)
    # --keys by number is ambiguous here: refused, naming the drawings.
    code, err = cli(capsys, "colorize", cut, "--keys", "1,4", "--out", out, "--method", "flow")
    one_line_error(code, err, "carried by 2 drawings (a_0001.png, b_0001.png)")
    # By name it works; the default naming would send a_0001 and b_0001 to cut_0001.png.
    args = ["colorize", cut, "--keys", "a_0001,b_0004.png", "--out", out, "--method", "flow", "-q"]
    code, err = cli(capsys, *args)
    one_line_error(code, err, "cut_0001.png <- a_0001.png, b_0001.png")
    assert not list(out.glob("*.png")) if out.exists() else True
    code, err = cli(capsys, *args, "--template", "{name}.png")
    assert code == 0, err
    assert len(list(out.glob("?_000?.png"))) == 8
    assert source_tree(cut) == before


def test_a_template_that_merges_frames_is_refused_before_writing(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    code, err = cli(capsys, *colorize_args(cut, out, "--template", "{name:.1}.png"))
    one_line_error(code, err, "0.png <- 0000.png, 0001.png")
    assert not list(out.glob("*.png")) if out.exists() else True
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    code, err = cli(capsys, "export", out, "--out", tmp_path / "exp", "--template",
                    "{cut}_{name:.2}.png", "-q")
    one_line_error(code, err, "would each be written by several frames")
    assert not (tmp_path / "exp").exists() or not list((tmp_path / "exp").iterdir())


# -- 4. an edited drawing or key makes its results out of date ---------------------------------

def _redraw(path: Path) -> None:
    """The animator redraws the frame: its lines move."""
    img = read_image(path, mode="raw")
    write_png_atomic(path, np.roll(img, 3, axis=1), overwrite=True)


def test_an_edited_drawing_or_key_is_coloured_again(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    old4 = read_image(out / "cut_0004.png", mode="raw")
    _redraw(cut / "lineart" / "0004.png")
    before = source_tree(cut)
    assert Project.load(out).is_outdated(4)                 # what the app shows
    code, err = cli(capsys, "export", out, "--out", tmp_path / "exp", "-q")
    assert code == 0 and "1 frame(s) are out of date (their drawing" in err, err
    code, err = cli(capsys, *colorize_args(cut, out)[:-1])
    assert code == 0 and "coloured 1 frame(s)" in err, err
    new4 = read_image(out / "cut_0004.png", mode="raw")
    assert not np.array_equal(new4, old4)
    # The result is what a fresh project colours from the edited drawing when it colours that
    # frame alone, as this run did (paint is decided over the frames sampled together).
    assert cli(capsys, *colorize_args(cut, tmp_path / "fresh", "--frames", "4"))[0] == 0
    assert np.array_equal(new4, read_image(tmp_path / "fresh" / "cut_0004.png", mode="raw"))
    # A repainted key: the key itself and every frame coloured from it are done again.
    key = read_image(cut / "color" / "0009.png", mode="rgb").copy()
    colours, counts = np.unique(key.reshape(-1, 3), axis=0, return_counts=True)
    paint = colours[np.argmax(counts)]                 # the biggest paint area gets a new colour
    key[(key == paint).all(axis=2)] = (10, 200, 30)
    write_png_atomic(cut / "color" / "0009.png", key, overwrite=True)
    before = source_tree(cut)
    p = Project.load(out)
    assert all(p.is_outdated(i) for i in range(1, 9))
    code, err = cli(capsys, *colorize_args(cut, out)[:-1])
    assert code == 0 and "coloured 9 frame(s)" in err, err
    assert np.array_equal(read_image(out / "cut_0009.png", mode="rgb"), key)
    assert not any(Project.load(out).is_outdated(i) for i in range(10))
    assert source_tree(cut) == before


@pytest.mark.parametrize("layout", ["flat", "lineart+color"])
def test_colorize_and_export_leave_every_source_byte_identical(tmp_path, capsys, layout):
    cut = new_cut(tmp_path / "cut")
    root = cut if layout == "lineart+color" else cut / "lineart"
    extra = [] if layout == "lineart+color" else ["--key-dir", str(cut / "color")]
    before = source_tree(cut)
    out = tmp_path / "out"
    args = ["colorize", root, "--keys", "0,9", "--out", out, "--method", "flow", "-q",
            "--layers", "composite,color,lines", "--psd", *extra]
    assert cli(capsys, *args)[0] == 0
    assert cli(capsys, *args, "--force", "--overwrite")[0] == 0
    assert cli(capsys, "export", out, "--out", tmp_path / "exp", "--layers", "lines", "-q")[0] == 0
    assert source_tree(cut) == before
