"""The brush and the enclose-and-fill lasso in the window: strokes drawn with the mouse paint
with the current swatch, undo and redo, carry like fills where they cover a region whole, and the
reach line under the timeline follows undo (pytest-qt, offscreen)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from opdm_studio.app.timeline import FixRole

from .test_fixing import BALL, BOX, region_colour, swatch_named


def drag(win, points, alt=False) -> None:
    """Press, move through and release the left button at frame pixels ``points``."""
    viewer = win.viewer
    vp = viewer.viewport()
    mods = Qt.KeyboardModifier.AltModifier if alt else Qt.KeyboardModifier.NoModifier
    pos = [QPointF(viewer.mapFromScene(QPointF(x + 0.5, y + 0.5))) for x, y in points]
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseButtonPress, pos[0], vp.mapToGlobal(pos[0]),
                                           left, left, mods))
    for p in pos[1:]:
        QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseMove, p, vp.mapToGlobal(p), none, left, mods))
    QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseButtonRelease, pos[-1], vp.mapToGlobal(pos[-1]),
                                           left, none, mods))


def test_brush_paints_with_the_current_swatch_and_undoes(qtbot, coloured):
    win = coloured
    green = swatch_named(win, (90, 170, 90))
    win.go_to(3)
    before = region_colour(win, 3, BALL)
    win.fixes.panel.set_current(green.id)
    win.hand.brush.trigger()
    assert win.viewer.tool == "brush" and not win.acts.fill.isChecked()
    assert win.hand.brush in win.acts.toolbar.actions()
    win.hand.radius = 1
    drag(win, [(BALL[0] - 2, BALL[1]), (BALL[0] + 2, BALL[1])])
    assert region_colour(win, 3, BALL) == green.rgb
    assert region_colour(win, 3, (BALL[0], BALL[1] + 5)) == before      # outside the brush
    assert "Painted with" in win.status_bar.message.text()
    assert "Brush on frame 4" in win.undo.undoText()
    model = win.frames
    assert model.data(model.index(3), FixRole) == (1, [], True)          # fixed here, its reach
    win.undo.undo()
    assert region_colour(win, 3, BALL) == before and not win.doc.hints.fixes
    assert model.data(model.index(3), FixRole) == (0, [], False)         # the reach line goes too
    win.undo.redo()
    assert region_colour(win, 3, BALL) == green.rgb
    assert model.data(model.index(3), FixRole)[2]
    # [ and ] change the brush size; a ring of that size follows the pointer.
    vp = win.viewer.viewport()
    p = QPointF(win.viewer.mapFromScene(QPointF(20.5, 20.5)))
    QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseMove, p, vp.mapToGlobal(p), Qt.MouseButton.NoButton,
                                           Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    ring = win.hand._ring
    assert ring is not None and ring.isVisible() and ring.rect().width() == 3
    win.hand.resize_brush(1.25)
    assert win.hand.radius == 2 and "Brush size 5 px" in win.status_bar.message.text()
    assert ring.rect().width() == 5 and ring.rect().center() == QPointF(20.5, 20.5)
    win.acts.fill.trigger()
    assert not ring.isVisible()


def test_enclose_and_fill_carries_where_it_covers_a_region(qtbot, coloured):
    win = coloured
    green = swatch_named(win, (90, 170, 90))
    win.go_to(3)
    win.fixes.panel.set_current(green.id)
    win.hand.lasso.trigger()
    assert win.viewer.tool == "lasso"
    drag(win, [(13, 19), (41, 19), (41, 45), (13, 45), (13, 20)])
    assert region_colour(win, 3, BALL) == green.rgb
    fix = next(iter(win.doc.hints.fixes.values()))
    assert fix.shape is not None and fix.carried_frames()       # the ball is found next door
    assert "carried to" in win.status_bar.message.text()
    assert all(1 <= f <= 6 for f in fix.carried_frames())
    # Alt-click picks a swatch instead of painting.
    win.fixes.panel.set_current(swatch_named(win, (220, 80, 60)).id)
    drag(win, [BOX], alt=True)
    assert win.fixes.panel.current_swatch() == green.id and len(win.doc.hints.fixes) == 1


def test_hand_tools_refuse_clearly(qtbot, coloured, dialogs):
    win = coloured
    win.go_to(0)                                 # a keyframe
    win.guard(win.hand.paint, "brush", [BALL])
    assert "keyframe" in dialogs.seen[-1][2]
    win.go_to(3)
    win.guard(win.hand.paint, "lasso", [(1, 1), (5, 5)])
    assert "draw round" in dialogs.seen[-1][2]
    win.set_mode("line")
    win.guard(win.hand.paint, "brush", [BALL])
    assert "views" in dialogs.seen[-1][2] and not win.doc.hints.fixes


def test_the_reach_line_of_a_fill_goes_with_its_undo(qtbot, coloured):
    win = coloured
    win.go_to(3)
    win.acts.fill.trigger()
    win.viewer.filled.emit(*BALL)
    fix = next(iter(win.doc.hints.fixes.values()))
    reached = [3, *fix.carried_frames()]
    model = win.frames
    assert all(model.data(model.index(f), FixRole)[2] for f in reached)
    win.undo.undo()
    assert not any(model.data(model.index(f), FixRole)[2] for f in reached)
    win.undo.redo()
    assert all(model.data(model.index(f), FixRole)[2] for f in reached)
