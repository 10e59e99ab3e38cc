"""Playback timing and onion skin pictures, without Qt."""
from __future__ import annotations

import numpy as np
import pytest

from opdm_studio.engine.playback import (
    NEXT_TINT,
    PREVIOUS_TINT,
    FrameClock,
    OnionSkin,
    next_frame,
    onion_neighbours,
    onion_skin,
    play_span,
)


def test_play_span_is_the_selection_or_the_cut():
    assert play_span([], 24) == (0, 23)
    assert play_span([5], 24) == (0, 23)           # one frame selected: the whole cut
    assert play_span([9, 3, 6], 24) == (3, 9)
    assert play_span([3, 30], 24) == (0, 23)       # frames beyond the cut do not count
    assert play_span([], 0) == (0, -1)


def test_next_frame_loops_or_ends():
    assert next_frame(3, (3, 5), loop=True) == 4
    assert next_frame(5, (3, 5), loop=True) == 3
    assert next_frame(5, (3, 5), loop=False) is None
    assert next_frame(10, (3, 5), loop=True) == 3     # outside the span: its start
    assert next_frame(0, (0, -1), loop=True) is None


def test_onion_neighbours_skip_held_drawings():
    # Frames 0-1 one drawing, 2-3 another, 4 a third (on twos).
    holds = [0, 0, 2, 2, 4]
    assert onion_neighbours(2, 5, holds.__getitem__) == (0, 4)
    assert onion_neighbours(3, 5, holds.__getitem__) == (0, 4)
    assert onion_neighbours(0, 5, holds.__getitem__) == (None, 2)
    assert onion_neighbours(4, 5, holds.__getitem__) == (2, None)


def _lines(x: int) -> np.ndarray:
    line = np.full((8, 8), 255, np.uint8)
    line[:, x] = 0
    return line


def test_onion_skin_ghosts_lines_in_their_tints_under_the_frames_own_lines():
    own = _lines(4)
    picture = np.full((8, 8, 3), 200, np.uint8)
    picture[:, 4] = 0
    skin = OnionSkin(on=True)
    out = onion_skin(picture, own, skin, (_lines(1), None), (_lines(6), None))
    assert (out[:, 4] == 0).all()                        # the frame's own line stays on top
    prev_px, next_px = out[0, 1].astype(int), out[0, 6].astype(int)
    assert prev_px[0] > prev_px[1] and np.argmax(PREVIOUS_TINT) == 0   # red-ish
    assert next_px[1] > next_px[0] and np.argmax(NEXT_TINT) == 1       # green-ish
    assert (out[:, 2] == 200).all()                      # paper elsewhere untouched
    # Off, or nothing chosen: the picture as it was.
    assert onion_skin(picture, own, OnionSkin(on=False), (_lines(1), None), None) is picture
    assert onion_skin(picture, own, OnionSkin(on=True, previous=False, next=False), None, None) is picture
    only_next = onion_skin(picture, own, OnionSkin(on=True, previous=False), (_lines(1), None), (_lines(6), None))
    assert (only_next[:, 1] == 200).all() and not (only_next[:, 6] == 200).all()


def test_onion_skin_colour_ghost_blends_and_falls_back_to_lines():
    own = _lines(4)
    picture = np.full((8, 8, 3), 100, np.uint8)
    other = np.full((8, 8, 3), 200, np.uint8)
    skin = OnionSkin(on=True, next=False, ghost="colour")
    out = onion_skin(picture, own, skin, (_lines(1), other), None)
    assert out[0, 0].tolist() == [130, 130, 130]
    # No colour yet on the neighbour: its lines are ghosted instead.
    out = onion_skin(picture, own, skin, (_lines(1), None), None)
    assert out[0, 1, 0] > out[0, 1, 1] and out[0, 0].tolist() == [100, 100, 100]


def test_onion_skin_of_a_gray_picture_is_rgb():
    out = onion_skin(_lines(4), _lines(4), OnionSkin(on=True), (_lines(1), None), None)
    assert out.shape == (8, 8, 3)


def test_frame_clock_holds_the_rate_and_slows_down_rather_than_rushing():
    clock = FrameClock(24)
    assert clock.wait(0.0) == 0.0
    clock.shown(0.0)
    assert clock.wait(0.0) == pytest.approx(1 / 24)
    for n in range(1, 48):
        clock.shown(n / 24)
    assert clock.measured_fps() == pytest.approx(24.0)
    # A frame shown 0.2 s late moves the grid: the next is due a period after it, not at once.
    clock.shown(48 / 24 + 0.2)
    assert clock.wait(48 / 24 + 0.2) == pytest.approx(1 / 24)
    assert clock.measured_fps(last=2) == pytest.approx(1 / (1 / 24 + 0.2))
    clock.restart(12)
    assert clock.period == pytest.approx(1 / 12) and clock.measured_fps() == 0.0
