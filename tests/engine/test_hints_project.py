"""Hints are part of the project: saved and loaded with it, applied by the run when frames are
coloured again, by `opdm-studio export`, and by promotion."""
from __future__ import annotations

import numpy as np

from opdm_studio.cli import main
from opdm_studio.engine.fixes import fixer_for
from opdm_studio.engine.project import Project
from opdm_studio.engine.run import Colorizer

from .conftest import read_png


def fixed_project(cut_noholds, tmp_path):
    """A flow-coloured project with one fix on frame 4 (carried) painted with a swatch no key
    has at that place; returns (project folder, fix, the region's pixels on frame 4)."""
    out = tmp_path / "out"
    assert main(["colorize", str(cut_noholds), "--keys", "0,9", "--out", str(out), "--method",
                 "flow", "--layers", "composite,color", "-q"]) == 0
    project = Project.load(out)
    fixer = fixer_for(project)
    fixer.palette.sync([(1, 2, 3)])                    # a colour of its own
    sw = fixer.palette.by_source((1, 2, 3))
    lab = fixer.regions.labels(4)
    areas = np.bincount(lab.ravel())
    areas[0] = 0
    k = int(np.argmax(areas))
    ys, xs = np.nonzero(lab == k)
    fix = fixer.fill(4, int(xs[len(xs) // 2]), int(ys[len(ys) // 2]), sw.id).fix
    project.save()
    return out, fix, lab == k


def test_hints_saved_loaded_and_exported(cut_noholds, tmp_path):
    out, fix, region = fixed_project(cut_noholds, tmp_path)
    again = Project.load(out)
    assert again.hints.fixes == {fix.id: fix} and again.palette.by_source((1, 2, 3)) is not None
    # `opdm-studio export` writes the fix, in the swatch's colour now.
    again.palette.recolour(again.palette.by_source((1, 2, 3)).id, (250, 0, 250))
    again.save()
    assert main(["export", str(out), "--out", str(tmp_path / "exp"), "--layers", "color", "-q"]) == 0
    color = read_png(tmp_path / "exp" / "cut_0004_color.png")
    assert (color[region] == (250, 0, 250)).all()
    # The stored result itself stays as coloured: the fix is applied on top.
    assert not (again.stored_color(4)[region] == (1, 2, 3)).all()


def test_the_run_keeps_hints_when_frames_are_coloured_again(cut_noholds, tmp_path):
    out, fix, region = fixed_project(cut_noholds, tmp_path)
    project = Project.load(out)
    for _ in Colorizer(project, overwrite=True).run(force=True):
        pass
    composite = read_png(out / "cut_0004.png")
    assert (composite[region] == (1, 2, 3)).all()
    if fix.carried:
        g = fix.carried[0][0]
        assert (read_png(out / f"cut_{g:04d}_color.png") == (1, 2, 3)).all(axis=2).any()
    # Promotion takes the fix into the new keyframe's truth.
    project.promote_result(4, fixer_for(project).fixed(4, project.stored_color(4)))
    assert (project.key_color(4)[region] == (1, 2, 3)).all()


def test_a_brush_stroke_is_saved_and_exported(cut_noholds, tmp_path):
    from opdm_studio.engine.strokes import BRUSH, Shape
    out = tmp_path / "out"
    assert main(["colorize", str(cut_noholds), "--keys", "0,9", "--out", str(out), "--method",
                 "flow", "--layers", "composite,color", "-q"]) == 0
    project = Project.load(out)
    fixer = fixer_for(project)
    fixer.palette.sync([(1, 2, 3)])
    sw = fixer.palette.by_source((1, 2, 3))
    lab = fixer.regions.labels(4)
    ys, xs = np.nonzero(lab > 0)
    x, y = int(xs[len(xs) // 2]), int(ys[len(ys) // 2])
    stroke = fixer.paint(4, Shape.make(BRUSH, [(x, y)], radius=2), sw.id, carry=False).fix
    project.save()
    again = Project.load(out)
    assert again.hints.fixes[stroke.id] == stroke
    assert main(["export", str(out), "--out", str(tmp_path / "exp"), "--layers", "color", "-q"]) == 0
    color = read_png(tmp_path / "exp" / "cut_0004_color.png")
    assert (color[y, x] == (1, 2, 3)).all() and not (color == (1, 2, 3)).all(axis=2).all()
