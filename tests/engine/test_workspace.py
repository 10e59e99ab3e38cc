"""The workspace (the open cut as the app shows it) without Qt: opening, settings mapping,
keys, the pictures shown (the export's one composite), fixes with undo, and its change events."""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from opdm_studio.engine.composite import frame_composite
from opdm_studio.engine.picture_cache import PictureCache
from opdm_studio.engine.project_home import project_root_for
from opdm_studio.engine.run import Colorizer
from opdm_studio.engine.workspace import Workspace
from opdm_studio.errors import ProjectError

from .conftest import make_cut


@dataclass
class Choices:
    """What the app's settings dialog stores (``AppSettings`` has the same fields)."""

    model: str = "default"
    steps: int = 10
    device: str = "auto"
    working_size: int = 224
    snapping: str = "auto"
    gap: int = 3


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    make_cut(tmp_path / "cut", n_frames=6, holds=False, colors_for=[0, 5])
    return Workspace.open(tmp_path / "cut")


@pytest.fixture
def coloured(ws: Workspace) -> Workspace:
    """The workspace with its in-betweens coloured by the flow preview (no model)."""
    ws.project.settings = replace(ws.project.settings, method="flow").validate()
    for _ in Colorizer(ws.project).run():
        pass
    ws.forget()
    return ws


def test_the_workspace_needs_no_qt():
    import opdm_studio.engine.workspace as module
    assert "PySide6" not in module.__dict__ and "QtCore" not in Path(module.__file__).read_text()
    if "PySide6" not in sys.modules:     # alone (not after the GUI tests): nothing pulled it in
        assert "PySide6" not in sys.modules


def test_open_makes_the_painted_frames_keys_and_resumes_the_project(ws, tmp_path):
    assert ws.n_frames == 6 and ws.keys() == [0, 5] and ws.is_key(0) and not ws.is_key(2)
    assert ws.neighbours(2) == (0, 5) and ws.neighbours(5) == (5, 5)
    assert ws.can_be_key(0) and not ws.has_result(2) and ws.composite(2) is None
    assert ws.project.root == project_root_for(ws.cut.folder, ws.name)
    ws.unmark_key(5)
    ws.save()
    again = Workspace.open(tmp_path / "cut")
    assert again.keys() == [0] and again.project.root == ws.project.root


@pytest.mark.parametrize("method", ["model", "flow"])
def test_apply_settings_maps_the_app_choices_onto_the_project(ws, method):
    before = ws.project.settings
    before.seed, before.layers, before.template = 7, ["composite", "lines"], "{cut}_{frame:03d}.png"
    s = ws.apply_settings(Choices(model="/models/mine.safetensors", steps=4, device="cpu",
                                  working_size=128, snapping="all", gap=5), method=method)
    assert s is ws.project.settings
    assert (s.method, s.model, s.steps, s.device, s.working_size, s.snap, s.gap) == \
        (method, "/models/mine.safetensors", 4, "cpu", 128, "all", 5)
    # What the app does not edit is kept; the fill tool finds regions with the new gap.
    assert (s.seed, s.layers, s.template) == (7, ["composite", "lines"], "{cut}_{frame:03d}.png")
    assert ws.fixer.regions.gap == 5


def test_apply_settings_default_model_and_flow_fallback(ws):
    s = ws.apply_settings(Choices(), method="flow")
    assert s.model is None and s.method == "flow"   # None: the engine's shipped default model


def test_apply_settings_refuses_a_bad_value_and_keeps_the_old_settings(ws):
    good = ws.apply_settings(Choices(gap=2), method="flow")
    with pytest.raises(ProjectError, match="snap"):
        ws.apply_settings(Choices(snapping="sometimes"), method="flow")
    assert ws.project.settings is good and good.snap == "auto" and good.gap == 2


def test_listeners_hear_which_frames_changed(ws):
    heard: list[list[int] | None] = []
    ws.listen(heard.append)
    ws.unmark_key(5)
    assert heard == [[5]] and ws.keys() == [0]
    state = ws.key_state(0)
    ws.unmark_key(0)
    ws.restore_key_state(0, state)
    assert ws.keys() == [0] and heard[-2:] == [[0], [0]]
    ws.set_gap(ws.fixer.regions.gap + 1)
    assert heard[-1] is None                    # another gap: every picture may change


def test_pictures_are_the_exports_composite_and_forgotten_on_change(coloured):
    ws = coloured
    for i in range(ws.n_frames):
        pic = ws.composite(i)
        assert pic is not None and pic.shape == (40, 72, 3)
        # The one composite: what the export and the run write, byte for byte.
        assert np.array_equal(pic, frame_composite(ws.project, ws.fixer, i))
        assert ws.composite(i) is pic          # cached for scrubbing
    assert ws.thumbnail_source(2) is ws.composite(2)
    ws.forget(2)
    assert ws.composite(2) is not ws.composite(3) and np.array_equal(ws.composite(2), frame_composite(
        ws.project, ws.fixer, 2))


def test_fill_pick_and_undo_of_the_fixes(coloured):
    ws = coloured
    heard: list[list[int] | None] = []
    ws.listen(heard.append)
    labels = ws.fixer.regions.labels(2)
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    region = int(np.argmax(areas))
    ys, xs = np.nonzero(labels == region)
    x, y = int(xs[len(xs) // 2]), int(ys[len(ys) // 2])
    before = ws.fixes_state()
    swatch = ws.palette.add((1, 2, 3), "test blue")
    out = ws.fill(2, x, y, swatch.id, carry=False)
    assert out.frames == [2] and heard == [[2]]
    assert ws.fix_marks(2) == (1, [])
    rgb, sw = ws.pick(2, x, y)
    assert rgb == (1, 2, 3) and sw is not None and sw.id == swatch.id
    assert (ws.result_color(2)[labels == region] == (1, 2, 3)).all()
    ws.restore_fixes(before)
    assert ws.fix_marks(2) == (0, []) and heard[-1] is None
    assert not (ws.result_color(2)[labels == region] == (1, 2, 3)).all()
    ws.project.results.pop(1)
    with pytest.raises(ProjectError, match="no colour"):
        ws.fill(1, x, y, swatch.id)


def test_mark_stale_and_save_rewrite_the_layer_files(coloured):
    ws = coloured
    ws.mark_stale([2, 3])
    assert ws.stale_layers == {2, 3}
    path = ws.save()
    assert path.is_file() and ws.stale_layers == set()


def test_picture_cache_keeps_the_latest_and_forgets_per_frame():
    cache = PictureCache(2)
    made: list[int] = []

    def make(v: int):
        return lambda: made.append(v) or np.full(1, v)
    a = cache.get(("color", 1), make(1))
    assert cache.get(("color", 1), make(9)) is a and made == [1]
    cache.get(("color", 2), make(2))
    cache.get(("conf", 3), make(3))
    assert len(cache) == 2 and made == [1, 2, 3]          # the oldest went first
    cache.forget(2)
    assert len(cache) == 1
    assert cache.get(("none", 4), lambda: None) is None and len(cache) == 1   # None is not kept
    cache.forget()
    assert len(cache) == 0


def test_paint_a_stroke_and_undo(coloured):
    from opdm_studio.engine.strokes import BRUSH, Shape
    ws = coloured
    heard: list[list[int] | None] = []
    ws.listen(heard.append)
    labels = ws.fixer.regions.labels(2)
    ys, xs = np.nonzero(labels > 0)
    x, y = int(xs[len(xs) // 2]), int(ys[len(ys) // 2])
    before = ws.fixes_state()
    swatch = ws.palette.add((1, 2, 3), "test blue")
    out = ws.paint(2, Shape.make(BRUSH, [(x, y)], radius=1), swatch.id, carry=False)
    assert out.frames == [2] and heard == [[2]] and ws.fix_marks(2) == (1, [])
    assert tuple(ws.result_color(2)[y, x]) == (1, 2, 3)
    ws.restore_fixes(before)
    assert tuple(ws.result_color(2)[y, x]) != (1, 2, 3)
    ws.project.results.pop(1)
    with pytest.raises(ProjectError, match="no colour"):
        ws.paint(1, Shape.make(BRUSH, [(x, y)], radius=1), swatch.id)
