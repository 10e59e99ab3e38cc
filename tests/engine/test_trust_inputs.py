"""Hostile and odd input through the command line (issue items 5-11): warnings are printed,
user errors are one line with exit 2 and are found before anything is written, project files
cannot lead writes or reads elsewhere, and the cost of a frame does not grow along a cut."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opdm_studio.engine.project import PROJECT_FILENAME, Project
from opdm_studio.imaging.export import write_png_atomic

from .trust_helpers import cli, colorize_args, new_cut, one_line_error, source_tree

REPO = Path(__file__).resolve().parents[2]


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not list(out.glob("*.png"))


# -- 5. the cut's warnings ---------------------------------------------------------------------

def test_colorize_prints_the_cuts_warnings(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    (cut / "lineart" / ".DS_Store").write_bytes(b"x")
    (cut / "lineart" / "notes.txt").write_text("retake 3")
    (cut / "color" / "0042.png").write_bytes((cut / "color" / "0000.png").read_bytes())
    gray = np.asarray(Image.open(cut / "lineart" / "0005.png").convert("L"))
    Image.fromarray(255 - gray).save(cut / "lineart" / "0005.png")      # white lines on black
    code, err = cli(capsys, *colorize_args(cut, tmp_path / "out"))
    assert code == 0, err
    for words in ("warning: skipped 1 hidden file(s): .DS_Store",
                  "warning: skipped 1 file(s) that are not images: notes.txt",
                  "warning: colour files without a drawing of the same name in color: 0042",
                  "warning: 0005.png: white lines on black, inverted"):
        assert words in err, err


# -- 6. one line, exit 2 -------------------------------------------------------------------------

def test_tiny_drawings_long_names_and_link_loops_are_one_line_errors(tmp_path, capsys):
    small = new_cut(tmp_path / "small")
    for p in (small / "lineart").iterdir():
        Image.open(p).resize((10, 10)).save(p)
    for p in (small / "color").iterdir():
        Image.open(p).resize((10, 10)).save(p)
    code, err = cli(capsys, *colorize_args(small, tmp_path / "o1"))
    one_line_error(code, err, "10x10 pixels is too small to be a drawing (at least 12x12")
    long_cut = new_cut(tmp_path / ("c" * 250))
    code, err = cli(capsys, *colorize_args(long_cut, tmp_path / "o2"))
    one_line_error(code, err, "file systems allow 255")
    assert _nothing_written(tmp_path / "o2")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    code, err = cli(capsys, *colorize_args(loop, tmp_path / "o3"))
    one_line_error(code, err, "loop of symbolic links")
    code, err = cli(capsys, *colorize_args(long_cut, loop))
    assert code == 2 and "Traceback" not in err, err


# -- 7. where the cut is found, commands, no display ---------------------------------------------

def test_colorize_dot_inside_the_lineart_folder_finds_the_colour_folder(tmp_path, capsys,
                                                                         monkeypatch):
    cut = new_cut(tmp_path / "cut")
    monkeypatch.chdir(cut / "lineart")
    code, err = cli(capsys, "colorize", ".", "--keys", "0,9", "--out", tmp_path / "out",
                    "--method", "flow", "-q")
    assert code == 0, err
    assert (tmp_path / "out" / "cut_0004.png").is_file()


def test_colourise_is_colorize_and_unknown_commands_say_so(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    args = colorize_args(cut, tmp_path / "out")
    assert cli(capsys, "colourise", *args[1:])[0] == 0
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(REPO)
    for argv, words in ((["frobnicate"], "unknown command 'frobnicate'"),
                        ([], "no display"), ([str(cut)], "no display")):
        proc = subprocess.run([sys.executable, "-m", "opdm_studio", *argv], env=env,
                              capture_output=True, text=True, timeout=120)
        one_line_error(proc.returncode, proc.stderr, words)


# -- 8. every file is checked before the first frame is written ----------------------------------

@pytest.mark.parametrize("damage", ["truncated", "32-bit", "key size"])
def test_bad_files_stop_the_run_before_anything_is_written(tmp_path, capsys, damage):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    if damage == "truncated":
        data = (cut / "lineart" / "0007.png").read_bytes()
        (cut / "lineart" / "0007.png").write_bytes(data[: len(data) * 2 // 3])
        words = "0007.png: the file is truncated"
    elif damage == "32-bit":
        (cut / "lineart" / "0007.png").unlink()
        Image.fromarray(np.full((40, 72), 100_000, np.int32), "I").save(cut / "lineart" / "0007.tif")
        words = "unsupported pixel format"
    else:
        key = Image.open(cut / "color" / "0009.png")
        key.resize((70, 40)).save(cut / "color" / "0009.png")
        words = "0009.png: colour is 70x40 but the cut's drawings are 72x40"
    before = source_tree(cut)
    code, err = cli(capsys, *colorize_args(cut, out))
    one_line_error(code, err, words)
    assert _nothing_written(out)
    assert source_tree(cut) == before


# -- 9. a project file cannot lead elsewhere; templates name files only --------------------------

def test_a_project_file_cannot_point_outside_its_folder(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    secret = tmp_path / "secret.png"
    write_png_atomic(secret, np.zeros((40, 72, 3), np.uint8))
    doc = json.loads((out / PROJECT_FILENAME).read_text())
    for bad in (str(secret), "../secret.png", "opdm-data/../../secret.png"):
        doc["results"][4]["color_path"] = bad
        (out / PROJECT_FILENAME).write_text(json.dumps(doc))
        code, err = cli(capsys, "export", out, "--out", tmp_path / "exp", "-q")
        one_line_error(code, err, "points outside the project folder")
    assert not (tmp_path / "exp").exists()


def test_templates_allow_plain_fields_and_formats_only(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    for template in ("{cut.__class__.__mro__}_{frame}.png", "{name[0]}{frame}.png",
                     "{frame!r}.png", "{frame:{cut}}.png", "{0}.png"):
        code, err = cli(capsys, *colorize_args(cut, tmp_path / "out", "--template", template))
        one_line_error(code, err, "not allowed")
        assert _nothing_written(tmp_path / "out")
    assert cli(capsys, *colorize_args(cut, tmp_path / "out", "--template",
                                      "{cut}-{frame:05d}-{name:>6}.png"))[0] == 0
    assert (tmp_path / "out" / "cut-00004-  0004.png").is_file()


def test_a_data_folder_that_is_a_link_is_refused(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    out.mkdir()
    (out / "opdm-data").symlink_to(cut / "lineart")
    before = source_tree(cut)
    code, err = cli(capsys, *colorize_args(cut, out))
    one_line_error(code, err, "is a link or a file, not a folder")
    assert source_tree(cut) == before and _nothing_written(out)


# -- 10. the cost of a frame stays flat; the working size never exceeds the drawing ----------------

def test_the_project_file_is_not_rewritten_per_frame(tmp_path, capsys, monkeypatch):
    cut = new_cut(tmp_path / "cut", n_frames=60, keys=(0, 59))
    rewrites = []
    real = os.replace

    def counting_replace(src, dst, *a, **k):
        if Path(dst).name == PROJECT_FILENAME:
            rewrites.append(dst)
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", counting_replace)
    code, err = cli(capsys, "colorize", cut, "--keys", "0,59", "--out", tmp_path / "out",
                    "--method", "flow", "-q")
    assert code == 0, err
    assert len(rewrites) <= 3                       # at the start and the end, not once a frame
    assert sorted(Project.load(tmp_path / "out").results) == list(range(60))


def test_working_size_is_capped_at_the_drawing(tmp_path, tiny_checkpoint, capsys):
    from opdm_studio.engine.run import Colorizer
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    args = ["colorize", cut, "--keys", "0,9", "--out", out, "--model", tiny_checkpoint,
            "--steps", "1", "--device", "cpu", "--dtype", "fp32", "-q"]
    assert cli(capsys, *args, "--working-size", "2048")[0] == 0
    p = Project.load(out)
    assert Colorizer(p).frame_colorizer().settings.working_size == 40     # the 72x40 drawing
    assert p.results[4].recipe["working_size"] == 40
    # Any setting at or above the drawing's size gives the same colours: nothing to redo.
    code, err = cli(capsys, *args[:-1], "--working-size", "1024")
    assert code == 0 and "coloured 0 frame(s)" in err, err


def test_bench_reports_the_late_to_early_ratio():
    from opdm_studio.bench.cut_bench import RATIO_TARGET, late_to_early
    flat = late_to_early([0.1 * (i + 1) for i in range(600)])
    assert flat["late_to_early_ratio"] == pytest.approx(1.0) and RATIO_TARGET == 1.3
    growing = late_to_early(list(np.cumsum(np.linspace(0.1, 0.4, 600))))
    assert growing["late_to_early_ratio"] > 2


# -- 11. bf16 on a CPU without it ------------------------------------------------------------------

def test_explicit_bf16_on_a_cpu_without_it_is_one_line(tmp_path, tiny_checkpoint, capsys,
                                                        monkeypatch):
    import opdm_studio.core.device as device
    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: False)
    cut = new_cut(tmp_path / "cut")
    code, err = cli(capsys, "colorize", cut, "--keys", "0,9", "--out", tmp_path / "out",
                    "--model", tiny_checkpoint, "--device", "cpu", "--dtype", "bf16", "-q")
    one_line_error(code, err, "this CPU has no bf16 support; use fp32")
    assert _nothing_written(tmp_path / "out")
