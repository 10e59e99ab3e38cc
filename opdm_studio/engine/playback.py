"""Playback and onion skin, without Qt: which frames a play loops over, when each frame is due
at 24 or 12 frames a second (and how fast it really went), and the neighbouring drawings or
colours ghosted over a picture.

The window's player (``app/playback.py``) drives a timer with :class:`FrameClock` and shows the
pictures :func:`onion_skin` makes; everything here is plain numpy and arithmetic, so the timing
and the pictures are tested without a display.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Frame rates offered: the film rate, and "on twos" as a colourist checks a cut.
FPS_CHOICES = (24, 12)
#: Ghost colours of the light table: the previous drawing red, the next one green.
PREVIOUS_TINT = (225, 40, 40)
NEXT_TINT = (20, 160, 60)
#: Strength of a ghosted drawing's lines, and of a ghosted colour picture.
DRAWING_STRENGTH = 0.6
COLOUR_STRENGTH = 0.3


def play_span(selected: Sequence[int], n_frames: int) -> tuple[int, int]:
    """The frames a play loops over: the selection's first to last frame when two or more are
    selected, else the whole cut (first, last; inclusive)."""
    if n_frames <= 0:
        return 0, -1
    inside = [f for f in selected if 0 <= f < n_frames]
    if len(inside) >= 2:
        return min(inside), max(inside)
    return 0, n_frames - 1


def next_frame(current: int, span: tuple[int, int], loop: bool) -> int | None:
    """The frame after ``current`` in ``span``: back to its start after the last one when
    ``loop`` (else None: the play ends); a frame outside the span goes to its start."""
    first, last = span
    if last < first:
        return None
    if current < first or current > last:
        return first
    if current < last:
        return current + 1
    return first if loop else None


@dataclass
class OnionSkin:
    """What the onion skin ghosts: the previous and / or the next drawing, as its lines
    (``ghost="drawing"``, tinted as on a light table) or as its finished colour picture
    (``ghost="colour"``). ``on`` switches it as a whole."""

    on: bool = False
    previous: bool = True
    next: bool = True
    ghost: str = "drawing"

    def key(self) -> tuple:
        """What a picture with this onion skin depends on (for caches)."""
        return (self.on, self.previous, self.next, self.ghost) if self.on else (False,)

    def active(self) -> bool:
        """True when something is ghosted."""
        return self.on and (self.previous or self.next)


def onion_neighbours(frame: int, n_frames: int, hold_of: Callable[[int], int]) -> tuple[int | None, int | None]:
    """(previous drawing, next drawing) of ``frame``: the nearest frames with another drawing
    (a held drawing is one drawing; ``hold_of(i)`` is the first frame of frame i's hold), each
    None at the cut's ends."""
    own = hold_of(frame)
    prev = hold_of(own - 1) if own > 0 else None
    nxt = None
    for j in range(frame + 1, n_frames):
        if hold_of(j) != own:
            nxt = j
            break
    return prev, nxt


def ghost_drawing(picture: np.ndarray, own_line: np.ndarray, other_line: np.ndarray,
                  tint: tuple[int, int, int], strength: float = DRAWING_STRENGTH) -> np.ndarray:
    """``picture`` (RGB) with ``other_line``'s ink (gray, 255 paper) drawn in ``tint``, under the
    picture's own lines (``own_line``) so that the frame's drawing stays on top."""
    out = picture.copy()
    # Only the neighbour's ink changes (a few per cent of a drawing): computed there alone, a
    # 960x540 frame takes milliseconds instead of a hundred.
    idx = np.flatnonzero(other_line.ravel() < 255)
    if idx.size == 0:
        return out
    ink = 1.0 - other_line.ravel()[idx].astype(np.float32) / 255.0
    paper = own_line.ravel()[idx].astype(np.float32) / 255.0
    w = (strength * ink * paper)[:, None]
    flat = out.reshape(-1, 3)
    mixed = flat[idx].astype(np.float32) * (1.0 - w) + np.asarray(tint, np.float32) * w
    flat[idx] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def ghost_colour(picture: np.ndarray, other: np.ndarray, strength: float = COLOUR_STRENGTH) -> np.ndarray:
    """``picture`` (RGB) with ``other`` (the neighbour's finished picture) seen through it."""
    out = cv2.addWeighted(picture, 1.0 - strength, other, strength, 0.0)
    return np.asarray(out, np.uint8)


def onion_skin(picture: np.ndarray, own_line: np.ndarray, skin: OnionSkin,
               previous: tuple[np.ndarray | None, np.ndarray | None] | None,
               following: tuple[np.ndarray | None, np.ndarray | None] | None) -> np.ndarray:
    """``picture`` with the onion skin: ``previous`` / ``following`` are each (line drawing,
    finished colour picture or None) of the neighbouring drawing, or None where there is none.
    A colour ghost falls back to the drawing's lines where the neighbour has no colour yet."""
    if not skin.active():
        return picture
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    out = picture
    sides = ((skin.previous, previous, PREVIOUS_TINT), (skin.next, following, NEXT_TINT))
    for wanted, neighbour, tint in sides:
        if not wanted or neighbour is None:
            continue
        line, colour = neighbour
        if skin.ghost == "colour" and colour is not None and colour.shape == out.shape:
            out = ghost_colour(out, colour)
        elif line is not None and line.shape == own_line.shape:
            out = ghost_drawing(out, own_line, line, tint)
    return out


class FrameClock:
    """When the next frame is due at ``fps``, and the rate the frames were really shown at.

    Frames are due on a fixed grid from the first one shown; a frame shown more than one period
    late moves the grid (the play slows down instead of rushing through frames to catch up). Times
    are seconds from any monotonic clock.
    """

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self.shown_at: list[float] = []
        self._due: float | None = None

    @property
    def period(self) -> float:
        """Seconds per frame."""
        return 1.0 / self.fps

    def wait(self, now: float) -> float:
        """Seconds until the next frame is due (0 when it is due now)."""
        return 0.0 if self._due is None else max(0.0, self._due - now)

    def shown(self, now: float) -> None:
        """A frame was shown at ``now``."""
        self.shown_at.append(now)
        if self._due is None or now - self._due > self.period:
            self._due = now
        self._due += self.period

    def restart(self, fps: int | None = None) -> None:
        """Start a new grid (after a pause or a change of rate) and forget the measurements."""
        self.fps = fps or self.fps
        self.shown_at.clear()
        self._due = None

    def measured_fps(self, last: int | None = None) -> float:
        """Frames per second over the frames shown (the ``last`` ones only, when given)."""
        times = self.shown_at[-last:] if last else self.shown_at
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])
