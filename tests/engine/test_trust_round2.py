"""Trust, round two (issue 27), through the public command line in a temp folder: nothing is
written where a user's data lives, a project survives moves and missing files, bad input is
one line and exit 2."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


# -- 3. a project's files are stored relative to it: a renamed output folder keeps its files ----

def test_a_renamed_output_folder_still_owns_its_files(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    assert cli(capsys, *colorize_args(cut, tmp_path / "omA"))[0] == 0
    text = (tmp_path / "omA" / PROJECT_FILENAME).read_text()
    assert str(tmp_path / "omA") not in text
    (tmp_path / "omA").rename(tmp_path / "omB")
    code, err = cli(capsys, *colorize_args(cut, tmp_path / "omB", "--force"))
    assert code == 0, err
    project = Project.load(tmp_path / "omB")
    assert all(Path(p).parent == tmp_path / "omB" for r in project.results.values()
               for p in r.outputs.values())


# -- 4. a vanished drawing is dropped with a warning; a moved cut is found or pointed at ----------

@pytest.mark.parametrize("change", ["delete", "rename"])
def test_a_vanished_drawing_is_dropped_with_a_warning(tmp_path, capsys, change):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    drawing = cut / "lineart" / "0004.png"
    if change == "delete":
        drawing.unlink()
    else:
        drawing.rename(cut / "lineart" / "0004b.png")
    code, err = cli(capsys, "export", out, "--out", tmp_path / "e", "-q")
    assert code == 0 and "0004.png" in err and "no longer in" in err, err
    code, err = cli(capsys, *colorize_args(cut, out))
    assert code == 0 and "no longer in" in err, err
    assert "0004.png" not in [project_name for project_name in Project.load(out).frame_names()]


def test_a_moved_cut_is_pointed_at_or_found_beside_its_project(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    cut.rename(tmp_path / "cut2")
    code, err = cli(capsys, "export", out, "--out", tmp_path / "e1", "-q")
    one_line_error(code, err, "give its new folder")
    assert cli(capsys, "export", out, "--out", tmp_path / "e1", "-q", "--cut",
               tmp_path / "cut2")[0] == 0
    code, err = cli(capsys, *colorize_args(tmp_path / "cut2", out))
    assert code == 0 and "now reads it from" in err, err
    assert cli(capsys, "export", out, "--out", tmp_path / "e2", "-q")[0] == 0
    # A project kept inside its cut's folder (as the app does) moves with it.
    inner = tmp_path / "cut2" / "opdm"
    assert cli(capsys, *colorize_args(tmp_path / "cut2", inner))[0] == 0
    (tmp_path / "cut2").rename(tmp_path / "cut3")
    code, err = cli(capsys, "export", tmp_path / "cut3" / "opdm", "--out", tmp_path / "e3", "-q")
    assert code == 0, err
    assert (tmp_path / "e3" / "cut3_0004.png").is_file() or any((tmp_path / "e3").iterdir())


# -- 11. one bad line in the results log is skipped, not blamed on the project file ---------------

def test_a_damaged_results_log_record_is_skipped_with_a_warning(tmp_path, capsys, monkeypatch):
    import opdm_studio.engine.project_file as pf
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    monkeypatch.setattr(pf, "save", _save_once(pf.save))      # leave the log unfolded
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    log = out / "opdm-project.log"
    lines = log.read_text().splitlines()
    assert len(lines) > 3
    bad = json.loads(lines[2])
    bad.setdefault("result", {})["name"] = 12     # valid JSON, unusable record
    bad["result"].pop("status", None)
    lines[2] = json.dumps(bad)
    log.write_text("\n".join(lines) + "\n")
    monkeypatch.undo()
    code, err = cli(capsys, "export", out, "--out", tmp_path / "e", "-q")
    assert code == 0 and "damaged record" in err, err


def _save_once(real):
    calls = []

    def save(project):
        calls.append(1)
        if len(calls) == 1:
            return real(project)
        return project.path
    return save


# -- 10, 13. evaluate: its report never lands in its data; bad values are one line ----------------

def test_evaluate_never_writes_its_report_into_its_data(tmp_path, capsys):
    from opdm_studio.imaging.export import write_png_atomic
    from tests.evaluation.synth import moving_disc
    data = tmp_path / "data"
    (data / "disc").mkdir(parents=True)
    for i, frame in enumerate(moving_disc(n=4, h=48, w=64, step=2, radius=10)):
        write_png_atomic(data / "disc" / f"{i:04d}.png", frame)
    before = source_tree(data)
    for out in (data, data / "disc", data / "report"):
        code, err = cli(capsys, "evaluate", data, "--gaps", "2", "--methods", "nearest",
                        "--size224-only", "--out", out)
        one_line_error(code, err, "never writes where it reads")
    assert source_tree(data) == before


@pytest.mark.parametrize("bad", [["--gaps", "1"], ["--gaps", "x"], ["--steps", "0"],
                                 ["--seed", "-1"], ["--working-size", "7"], ["--device", "tpu"]])
def test_evaluate_answers_bad_values_in_one_line(tmp_path, capsys, bad):
    (tmp_path / "data").mkdir()
    code, err = cli(capsys, "evaluate", tmp_path / "data", *bad)
    one_line_error(code, err, bad[0])


# -- 12. templates: no control characters, no edge spaces, no other format's extension -----------

@pytest.mark.parametrize("template", ["{cut}_{frame:04d}\n.png", "{frame}\t.png",
                                      "{frame}.png ", " {frame}.png", "{cut}_{frame:04d}.jpg",
                                      "{name}.TIF"])
def test_templates_that_make_unclean_names_are_refused(tmp_path, capsys, template):
    cut = new_cut(tmp_path / "cut")
    code, err = cli(capsys, *colorize_args(cut, tmp_path / "out", "--template", template))
    one_line_error(code, err, "template")
    assert not (tmp_path / "out").exists()


# -- 11. a keyframe image is read from a copy inside the project, never from a path in the file ----

def test_a_project_file_cannot_make_export_read_a_keyframe_image_elsewhere(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    out = tmp_path / "out"
    assert cli(capsys, *colorize_args(cut, out))[0] == 0
    secret = tmp_path / "secret.png"
    secret.write_bytes((cut / "color" / "0000.png").read_bytes())
    doc = json.loads((out / PROJECT_FILENAME).read_text())
    doc["keyframes"][0].update(source="file", path=str(secret))
    (out / PROJECT_FILENAME).write_text(json.dumps(doc))
    opened = []                          # every open of the secret file (PIL and digests use open)
    import builtins
    real_open = builtins.open

    def spy(file, *a, **k):
        if str(file) == str(secret):
            opened.append(file)
        return real_open(file, *a, **k)

    builtins.open = spy
    try:
        code, err = cli(capsys, "export", out, "--out", tmp_path / "e", "-q")
    finally:
        builtins.open = real_open
    assert "outside the project" in err and "no longer a keyframe" in err, err
    assert not opened
    doc["keyframes"][0].update(source="file", path="../secret.png")
    (out / PROJECT_FILENAME).write_text(json.dumps(doc))
    code, err = cli(capsys, "export", out, "--out", tmp_path / "e2", "-q")
    one_line_error(code, err, "points outside the project folder")


def test_a_keyframe_image_given_as_a_file_is_copied_into_the_project(tmp_path):
    cut = new_cut(tmp_path / "cut")
    given = tmp_path / "elsewhere" / "key.png"
    given.parent.mkdir()
    given.write_bytes((cut / "color" / "0000.png").read_bytes())
    project = Project.create(cut, tmp_path / "out", keys=[9])
    project.set_keyframe(0, color_path=given)
    project.save()
    given.unlink()
    loaded = Project.load(tmp_path / "out")
    assert loaded.key_color(0).shape == (40, 72, 3)
    assert not Path(loaded.keyframes[0].path).is_absolute()


# -- 13. an --out that is a file is named as such ----------------------------------------------

def test_an_out_that_is_a_file_is_one_line(tmp_path, capsys):
    cut = new_cut(tmp_path / "cut")
    (tmp_path / "file").write_text("not a folder")
    code, err = cli(capsys, *colorize_args(cut, tmp_path / "file"))
    one_line_error(code, err, "is a file, not a folder")
    assert cli(capsys, *colorize_args(cut, tmp_path / "out"))[0] == 0
    code, err = cli(capsys, "export", tmp_path / "out", "--out", tmp_path / "file", "-q")
    one_line_error(code, err, "is a file, not a folder")
