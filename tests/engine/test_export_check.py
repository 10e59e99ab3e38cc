"""Checks before export: frames left out, frames out of date, unpainted pixels (no Qt)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from opdm_studio.cli import main
from opdm_studio.engine.export_check import check_range, check_unpainted, spans, unpainted_in
from opdm_studio.engine.fixes import fixer_for
from opdm_studio.engine.project import Project


def coloured_project(cut_noholds, tmp_path, frames="0-9"):
    out = tmp_path / "out"
    assert main(["colorize", str(cut_noholds), "--keys", "0,9", "--out", str(out), "--method", "flow",
                 "--frames", frames, "-q"]) == 0
    return Project.load(out)


def test_frames_left_out_and_out_of_date_are_listed(cut_noholds, tmp_path):
    project = coloured_project(cut_noholds, tmp_path, frames="0-5")
    check = check_range(project, range(10))
    assert check.missing == [6, 7, 8] and check.outdated == [] and not check.clean
    assert check.exported == [0, 1, 2, 3, 4, 5, 9]
    # Other colouring settings: the coloured in-betweens are now out of date (keys are not).
    project.settings = replace(project.settings, gap=5).validate()
    check = check_range(project, range(10))
    assert check.outdated == [1, 2, 3, 4, 5]


def test_unpainted_pixels_found_on_what_the_export_writes(cut_noholds, tmp_path):
    project = coloured_project(cut_noholds, tmp_path)
    check = check_range(project, range(10))
    assert check.clean
    done = list(check_unpainted(project, fixer_for(project), check))
    assert done == list(range(10)) and check.checked == 10
    # The painted keys leave no hole (their dark paints are paint, not ink); the flow's
    # in-betweens carry specks of the keys' ink off the lines, and those are found.
    assert 0 not in check.unpainted and 9 not in check.unpainted
    assert check.unpainted and not check.clean
    # A hole of paper white off the lines is found; on the line nothing is.
    color = project.key_color(0).copy()
    assert unpainted_in(project, 0, color).clean
    line = project.cut.line_mask(0)
    ys, xs = np.nonzero(~line)
    color[ys[:7], xs[:7]] = 255
    assert unpainted_in(project, 0, color).pixels == 7
    color[line] = 255
    assert unpainted_in(project, 0, color).pixels == 7


def test_the_check_stops_when_asked(cut_noholds, tmp_path):
    project = coloured_project(cut_noholds, tmp_path)
    check = check_range(project, range(10))
    assert list(check_unpainted(project, fixer_for(project), check, stop=lambda: check.checked >= 3)) == [0, 1, 2]


def test_spans():
    assert spans([13, 14, 15, 16, 20]) == "13-16, 20"
    assert spans([]) == "" and spans([3]) == "3" and spans([5, 4]) == "4-5"
