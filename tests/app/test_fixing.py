"""The fill tool, the palette panel, fixes that carry, Next flagged region, the first Colorize
(pytest-qt, offscreen)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from opdm_studio.app.timeline import FixRole

from .conftest import colorize_all

BALL = (30, 32)          # inside the ball on frame 3 of the 8-frame ball cut (64x64)
BOX = (50, 20)           # inside the box (it does not move)


def region_colour(win, frame, xy):
    x, y = xy
    return tuple(int(v) for v in win.doc.result_color(frame)[y, x])


def swatch_named(win, rgb):
    return next(s for s in win.doc.palette.live() if s.rgb == rgb)


def test_palette_comes_from_the_keyframes_paint(coloured):
    names = {s.rgb for s in coloured.doc.palette.live()}
    assert {(236, 226, 200), (220, 80, 60), (90, 170, 90)} <= names   # (the eye is too small)
    assert coloured.fixes.panel.list.count() == len(coloured.doc.palette.live())
    assert coloured.fixes.panel.current_swatch() is not None


def test_fill_carries_and_undo_redo(qtbot, coloured):
    win = coloured
    green = swatch_named(win, (90, 170, 90))
    win.go_to(3)
    before = {f: region_colour(win, f, (BALL[0] + 3 * (f - 3) // 2, BALL[1])) for f in range(1, 7)}
    win.fixes.panel.set_current(green.id)
    win.acts.fill.trigger()
    assert win.viewer.tool == "fill"
    # The fill tool gets the interval's regions ready in the background.
    qtbot.waitUntil(lambda: win.doc.fixer.regions.has_pair(3, 4)
                    and win.doc.fixer.regions.has_pair(2, 1), timeout=10000)
    win.viewer.filled.emit(*BALL)
    assert region_colour(win, 3, BALL) == green.rgb
    fix = next(iter(win.doc.hints.fixes.values()))
    carried = fix.carried_frames()
    assert carried and all(1 <= f <= 6 for f in carried)          # keys 0 and 7 stop it
    for f in carried:
        assert green.id in win.doc.fixer.fills(f).values()
    assert "carried to" in win.status_bar.message.text()
    # Timeline: a dot where fixed, a ring where carried, the fill's reach underlined.
    model = win.frames
    assert model.data(model.index(3), FixRole) == (1, [], True)
    own, src, reach = model.data(model.index(carried[0]), FixRole)
    assert own == 0 and src == [3] and reach
    assert "carried from frame(s) 4" in model.data(model.index(carried[0]), Qt.ItemDataRole.ToolTipRole)
    # Undo takes the fix away on every frame; redo brings it back.
    win.undo.undo()
    assert not win.doc.hints.fixes and region_colour(win, 3, BALL) == before[3]
    assert model.data(model.index(carried[0]), FixRole)[:2] == (0, [])
    win.undo.redo()
    assert region_colour(win, 3, BALL) == green.rgb and len(win.doc.hints.fixes) == 1
    # Only in the Colour, Overlay and Review views.
    win.set_mode("line")
    win.viewer.filled.emit(*BOX)
    assert len(win.doc.hints.fixes) == 1


def test_alt_click_picks_the_swatch(qtbot, coloured):
    win = coloured
    win.go_to(3)
    win.acts.fill.trigger()
    win.fixes.panel.set_current(swatch_named(win, (220, 80, 60)).id)
    # A real Alt-click on the viewer, at the box's pixel.
    win.viewer.fit()
    pos = win.viewer.mapFromScene(BOX[0] + 0.5, BOX[1] + 0.5)
    qtbot.mouseClick(win.viewer.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.AltModifier, QPoint(pos.x(), pos.y()))
    assert win.fixes.panel.current_swatch() == swatch_named(win, (90, 170, 90)).id
    assert not win.doc.hints.fixes                       # picking fills nothing
    assert "now the current swatch" in win.status_bar.message.text()


def test_recolouring_a_swatch_recolours_every_frame_and_undoes(qtbot, coloured):
    win = coloured
    box = swatch_named(win, (90, 170, 90))
    win.fixes.panel.recolour(box.id, (10, 20, 250))
    for f in range(8):          # keyframes and coloured frames alike
        assert region_colour(win, f, BOX) == (10, 20, 250)
    assert any("#0a14fa" in item.text(0) for item in win.fixes.panel.list.swatch_items())
    win.undo.undo()
    assert region_colour(win, 4, BOX) == (90, 170, 90)
    # Deleting a swatch the keys use is refused unless replaced; forced, its regions show red.
    with pytest.raises(Exception, match="used by"):
        win.fixes.panel.delete(box.id)
    win.fixes.panel.delete(box.id, force=True)
    assert region_colour(win, 5, BOX) == (255, 0, 0)
    win.undo.undo()
    bg = swatch_named(win, (236, 226, 200))
    win.fixes.panel.delete(box.id, replacement=bg.id)
    assert region_colour(win, 5, BOX) == bg.rgb


def test_next_flagged_region_walks_the_cut(qtbot, coloured):
    win = coloured
    doc = win.doc
    from opdm_studio.imaging.export import write_png_atomic
    # Only the box on frames 2 and 5 is flagged (their stored confidence maps say 0 there).
    for f in range(1, 7):
        res = doc.project.results[f]
        conf = np.full((64, 64), 255, np.uint8)
        if f in (2, 5):
            lab = doc.fixer.regions.labels(f)
            conf[lab == lab[BOX[1], BOX[0]]] = 0
        write_png_atomic(doc.project.root / res.confidence_path, conf, overwrite=True)
    doc.forget()
    win.go_to(0)
    win.acts.next_flag.trigger()
    assert win.current_frame() == 2 and win.viewer.box_shown()
    assert win.mode == "color"      # a fill view already: it stays
    win.acts.next_flag.trigger()
    assert win.current_frame() == 5
    # Fixing the flagged region settles it: only frame 2's is left.
    win.acts.fill.trigger()
    win.fixes.panel.set_current(swatch_named(win, (90, 170, 90)).id)
    win.fixes.panel.carry.setChecked(False)
    win.viewer.filled.emit(*BOX)
    assert not win.viewer.box_shown()
    win.acts.next_flag.trigger()
    assert win.current_frame() == 2
    win.viewer.filled.emit(*BOX)
    win.acts.next_flag.trigger()
    assert "No region is flagged" in win.status_bar.message.text()


def test_first_colorize_of_a_keyframe_colours_its_intervals(qtbot, window, cut_dir):
    assert window.open_cut(cut_dir)
    window.go_to(0)                     # the current frame, a keyframe, is the selection
    assert window.timeline.selected_frames() == [0]
    window.acts.colorize.trigger()
    qtbot.waitUntil(lambda: not window.busy, timeout=60000)
    assert all(window.doc.has_result(i) for i in range(1, 7))
    text = window.status_bar.message.text()
    assert "frames 1-8, the intervals of keyframe 1" in text and "8 frame(s)" in text


def test_hints_kept_across_saving_reopening_and_recolouring(qtbot, coloured, cut_dir):
    from opdm_studio.app.settings import AppSettings
    from opdm_studio.imaging.cut import read_image
    win = coloured
    green = swatch_named(win, (90, 170, 90))
    win.go_to(3)
    win.acts.fill.trigger()
    win.fixes.panel.set_current(green.id)
    win.viewer.filled.emit(*BALL)
    fix = next(iter(win.doc.hints.fixes.values()))
    # Saving writes the project file and the run's layer files again, with the fix.
    win.acts.save.trigger()
    root = win.doc.project.root
    layer = read_image(root / "ball_cut_0004.png", mode="rgb")
    assert tuple(layer[BALL[1], BALL[0]]) == green.rgb
    # Reopened: the same fix, still shown.
    assert win.open_cut(cut_dir)
    assert win.doc.hints.fixes == {fix.id: fix}
    assert region_colour(win, 3, BALL) == green.rgb
    # Coloured again (another snapping setting makes every result out of date): the fix stays.
    win.apply_settings(AppSettings(**{**win.settings.__dict__, "snapping": "all"}))
    assert win.doc.is_outdated(3)
    colorize_all(qtbot, win)
    assert not win.doc.is_outdated(3) and win.doc.hints.fixes == {fix.id: fix}
    assert region_colour(win, 3, BALL) == green.rgb
    assert tuple(read_image(root / "ball_cut_0004.png", mode="rgb")[BALL[1], BALL[0]]) == green.rgb
    # Promote still works, and the fix is part of the new keyframe.
    win.go_to(3)
    win.acts.promote.trigger()
    qtbot.waitUntil(lambda: not win.busy, timeout=60000)
    assert 3 in win.doc.keys() and tuple(win.doc.key_color(3)[BALL[1], BALL[0]]) == green.rgb


def test_next_flagged_stops_at_a_hatched_place_inside_a_region(qtbot, coloured, monkeypatch):
    """A place hatched inside a region that is not flagged as a whole is a stop too, with the
    brush or the enclosing fill as the way to fix it (filling would repaint the whole region)."""
    win = coloured
    doc = win.doc
    from opdm_studio.engine import review
    from opdm_studio.imaging.export import write_png_atomic
    monkeypatch.setattr(review, "PLACE_MIN", 16)           # a place of these 64 px frames
    for f in range(1, 7):
        res = doc.project.results[f]
        conf = np.full((64, 64), 255, np.uint8)
        if f == 3:
            lab = doc.fixer.regions.labels(f)
            k = int(np.bincount(lab[lab > 0]).argmax())          # the biggest region
            import cv2
            depth = cv2.distanceTransform((lab == k).astype(np.uint8), cv2.DIST_L2, 3)
            cy, cx = np.unravel_index(int(depth.argmax()), depth.shape)   # deep inside it
            part = (lab == k) & (np.abs(np.arange(64)[:, None] - cy) < 6) \
                & (np.abs(np.arange(64)[None, :] - cx) < 6)
            assert 16 <= part.sum() < 0.5 * (lab == k).sum()
            conf[part] = 0
        write_png_atomic(doc.project.root / res.confidence_path, conf, overwrite=True)
    doc.forget()
    win.go_to(0)
    win.acts.next_flag.trigger()
    assert win.current_frame() == 3 and win.viewer.box_shown()
    assert "brush (P)" in win.status_bar.message.text()
