"""Playback (24 / 12 fps, looping over the selection) and the onion skin (pytest-qt, offscreen)."""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import colorize_all


@pytest.fixture
def coloured(qtbot, window, cut_dir):
    """The window with the ball cut open and coloured (flow preview)."""
    assert window.open_cut(cut_dir)
    colorize_all(qtbot, window)
    window.set_mode("color")
    return window


def test_play_loops_over_the_selection_then_stops_where_it_is(qtbot, coloured):
    win = coloured
    pb = win.playback
    win.timeline.select_range(2, 4)
    pb.play.trigger()                       # Space
    assert pb.playing and pb.span == (2, 4)
    seen: list[int] = []
    qtbot.waitUntil(lambda: seen.append(win.current_frame()) or len(set(seen)) == 3 and len(seen) > 12,
                    timeout=10000)
    assert set(seen) <= {2, 3, 4}           # never outside the loop
    assert win.timeline.selected_frames() == [2, 3, 4]     # the selection stays
    assert "Playing frames 3-5 at 24 frames a second" in win.status_bar.message.text()
    pb.play.trigger()
    assert not pb.playing and not pb.play.isChecked()
    frame = win.current_frame()
    # The window caught up with the frame the play stopped on (its usual frame line).
    text = win.status_bar.message.text()
    assert text.startswith(f"Frame {win.doc.frame_label(frame)} ") and "played at" in text
    assert win.viewer.has_image()


def test_play_without_loop_ends_at_the_last_frame_and_12_fps(qtbot, coloured):
    win = coloured
    pb = win.playback
    pb.rate[12].trigger()
    assert pb.fps == 12 and pb.clock.fps == 12
    pb.loop.setChecked(False)
    win.go_to(5)                             # one frame selected: the whole cut plays
    pb.play.trigger()
    assert pb.span == (0, 7)
    qtbot.waitUntil(lambda: not pb.playing, timeout=10000)
    assert win.current_frame() == 7
    assert not pb.play.isChecked()


def test_the_play_counts_its_frames_and_its_thread_ends(qtbot, coloured):
    win = coloured
    pb = win.playback
    pb.onion.trigger()
    win.timeline.select_range(0, 7)
    pb.play.trigger()
    qtbot.waitUntil(lambda: len(pb.clock.shown_at) >= 20, timeout=20000)
    pb.stop()
    # No timed test: the clock counted the frames shown, and the preparing thread ends with the play.
    assert pb.measured_fps() > 0
    qtbot.waitUntil(lambda: not pb._thread.is_alive(), timeout=5000)


def test_onion_skin_ghosts_the_neighbours_in_the_view(qtbot, coloured):
    win = coloured
    pb = win.playback
    win.go_to(3)
    plain = win.playback.picture(3, "color")[0].copy()
    pb.onion.trigger()                       # O
    assert pb.skin.active() and pb.skin.ghost == "drawing"
    ghosted = pb.picture(3, "color")[0]
    assert not np.array_equal(plain, ghosted)
    # The previous drawing's ink shows red-ish where this frame has paint.
    prev_line = win.doc.line(2)
    own_line = win.doc.line(3)
    where = (prev_line < 80) & (own_line > 250)
    diff = ghosted.astype(int) - plain.astype(int)
    assert where.any() and diff[where][:, 0].mean() > diff[where][:, 1].mean()
    pb.ghost_colour.trigger()
    assert pb.skin.ghost == "colour"
    assert not np.array_equal(pb.picture(3, "color")[0], ghosted)
    pb.onion_prev.setChecked(False)
    pb.onion_next.setChecked(False)
    assert np.array_equal(pb.picture(3, "color")[0], plain)
    pb.onion.trigger()
    assert not pb.skin.active()


def test_a_fill_during_the_play_is_shown_at_once(qtbot, coloured):
    win = coloured
    pb = win.playback
    win.timeline.select_range(0, 7)
    pb.play.trigger()
    qtbot.waitUntil(lambda: len(pb.clock.shown_at) >= 3, timeout=10000)
    gen = pb._generation
    win.doc.forget(3)                        # what a fill or a finished frame does
    assert pb._generation > gen
    pb.stop()


def test_space_plays_and_stops_wherever_the_focus_is(qtbot, coloured):
    from PySide6.QtCore import Qt
    win = coloured
    win.timeline.setFocus()
    qtbot.keyClick(win.timeline, Qt.Key.Key_Space)
    assert win.playback.playing and win.playback.play.isChecked()
    qtbot.keyClick(win.viewer, Qt.Key.Key_Space)
    assert not win.playback.playing
    qtbot.keyClick(win.viewer, Qt.Key.Key_O)
    assert win.playback.skin.on and win.playback.onion.isChecked()
