"""Playback and onion skin in the window: play the cut at 24 or 12 frames a second, looping over
the selected frames, with the previous / next drawing (or its colour) ghosted.

:class:`Playback` installs its actions (Space plays, O switches the onion skin), a Playback menu
and two toolbar buttons on the main window, and makes the pictures the viewer shows
(:meth:`Playback.picture`: the view mode's picture with the onion skin). While playing, a
thread prepares the coming frames' pictures ahead of the play; a timer shows them on a fixed grid
of 1/24 or 1/12 s (:class:`~opdm_studio.engine.playback.FrameClock`) without redoing the
window's per-frame work: when the play stops, the window catches up with the frame it stopped on.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton

from opdm_studio.app.actions import plain
from opdm_studio.app.errors_ui import show_exception
from opdm_studio.app.i18n import translate
from opdm_studio.app.theme import icon
from opdm_studio.app.viewer import compose
from opdm_studio.engine.playback import (
    FPS_CHOICES,
    FrameClock,
    OnionSkin,
    next_frame,
    onion_neighbours,
    onion_skin,
    play_span,
)

# Memory the prepared pictures of a play may take (960x540: about 400 frames; 1080p: 100).
PICTURE_BUDGET = 640 * 2 ** 20
Picture = tuple[np.ndarray, str, int]       # (RGB image, note, x offset of the frame): viewer.compose's answer


class PicturePool:
    """Pictures prepared for the play, up to a byte budget, the least recently shown dropped
    first (thread-safe: the preparing thread fills it, the GUI thread reads it)."""

    def __init__(self, budget: int = PICTURE_BUDGET) -> None:
        self.budget = budget
        self._items: OrderedDict[tuple, Picture] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Picture | None:
        """The picture under ``key`` (None if not prepared)."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: tuple, picture: Picture) -> None:
        """Keep ``picture``; the oldest go while over the budget."""
        with self._lock:
            if key in self._items:
                return
            self._items[key] = picture
            self._bytes += picture[0].nbytes
            while self._bytes > self.budget and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old[0].nbytes

    def capacity(self, picture_bytes: int) -> int:
        """How many pictures of ``picture_bytes`` fit in the budget (at least 2)."""
        return max(2, self.budget // max(1, picture_bytes))

    def clear(self) -> None:
        """Forget every picture."""
        with self._lock:
            self._items.clear()
            self._bytes = 0


def make_picture(doc, frame: int, mode: str, skin: OnionSkin) -> Picture:
    """The viewer's picture of ``frame`` in ``mode`` with the onion skin (none in the side by
    side view, whose picture is three frames)."""
    img, note, offset = compose(doc, frame, mode)
    if skin.active() and mode != "side":
        prev, nxt = onion_neighbours(frame, doc.n_frames, doc.cut.hold_of)

        def side(k: int | None):
            if k is None:
                return None
            return doc.line(k), doc.composite(k) if skin.ghost == "colour" else None
        img = onion_skin(img, doc.line(frame), skin, side(prev), side(nxt))
    return img, note, offset


class Playback(QObject):
    """The window's player and onion skin (see the module doc); ``win`` is the main window."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        self.skin = OnionSkin()
        self.fps = FPS_CHOICES[0]
        self.clock = FrameClock(self.fps)
        self.span = (0, -1)
        self.pool = PicturePool()
        self.playing = False
        self._generation = 0                   # bumped when the pictures change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._position = -1                    # the frame shown, for the preparing thread
        self._mode = ""                        # the view mode the thread prepares
        self._panel_keys: tuple = ()           # the keys the keyframe panel shows, and since when
        self._panel_at = 0.0
        self._doc = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._build_actions()
        win.frames.modelReset.connect(self._cut_changed)
        self._cut_changed()

    # ------------------------------------------------------------------ actions and menus

    def _action(self, text: str, slot, shortcut: str | None = None, checked: bool | None = None,
                icon_name: str | None = None, tip: str | None = None) -> QAction:
        a = QAction(text, self.win)
        if icon_name:
            a.setIcon(icon(icon_name))
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        a.setIconText(plain(text))      # the toolbar's label: without "(&P)" in Japanese
        a.setToolTip(tip or plain(text))
        if checked is not None:
            a.setCheckable(True)
            a.setChecked(checked)
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda _=False: self.win.guard(slot))
        self.win.addAction(a)       # shortcuts work wherever the focus is
        return a

    def _build_actions(self) -> None:
        self.play = self._action(
            translate("Playback", "&Play"), self._play_toggled, "Space", False, "mdi6.play",
            translate("Playback", "Play the cut, looping over the selected frames (Space plays and stops)"))
        self.rates = QActionGroup(self.win)
        self.rate: dict[int, QAction] = {}
        texts = (translate("Playback", "&24 frames a second"), translate("Playback", "1&2 frames a second"))
        for fps, text in zip(FPS_CHOICES, texts, strict=True):
            a = self._action(text, lambda on, fps=fps: self.set_fps(fps) if on else None, None, fps == self.fps)
            self.rates.addAction(a)
            self.rate[fps] = a
        self.loop = self._action(translate("Playback", "&Loop"), lambda _on: None, None, True,
                                 tip=translate("Playback", "Start again at the first frame after the last"))
        self.onion = self._action(
            translate("Playback", "&Onion skin"), self._skin_changed, "O", False, "mdi6.layers-triple-outline",
            translate("Playback", "Onion skin (O): the previous drawing ghosted in red, the next one in green"))
        self.onion_prev = self._action(translate("Playback", "Ghost the &previous drawing"), self._skin_changed,
                                       None, True)
        self.onion_next = self._action(translate("Playback", "Ghost the &next drawing"), self._skin_changed,
                                       None, True)
        self.ghosts = QActionGroup(self.win)
        self.ghost_lines = self._action(translate("Playback", "Ghost their &lines"), self._skin_changed, None, True)
        self.ghost_colour = self._action(translate("Playback", "Ghost their &colours"), self._skin_changed, None,
                                         False)
        self.ghosts.addAction(self.ghost_lines)
        self.ghosts.addAction(self.ghost_colour)
        self.menu = QMenu(translate("Playback", "&Playback"), self.win)
        self.menu.addAction(self.play)
        self.menu.addSeparator()
        self.menu.addActions([*self.rate.values(), self.loop])
        self.menu.addSeparator()
        self.menu.addActions([self.onion, self.onion_prev, self.onion_next, self.ghost_lines, self.ghost_colour])
        bar = self.win.menuBar()
        colour = translate("WindowActions", "&Colour")
        before = next((a for a in bar.actions() if a.text() == colour), None)
        if before is not None:
            bar.insertMenu(before, self.menu)
        else:
            bar.addMenu(self.menu)
        toolbar = getattr(self.win.acts, "toolbar", None)
        if toolbar is not None:
            toolbar.addSeparator()
            toolbar.addActions([self.play, self.onion])
            for a in (self.play, self.onion):      # the toolbar is full: icons, their tooltips say what
                w = toolbar.widgetForAction(a)
                if isinstance(w, QToolButton):
                    w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def _cut_changed(self) -> None:
        """Another cut (or none) is open: stop, forget the pictures, follow its changes."""
        self.stop()
        doc = self.win.doc
        if doc is not self._doc:
            signals = getattr(doc, "signals", None)
            if signals is not None:
                signals.frames_changed.connect(self._pictures_changed)
            self._doc = doc
        self._pictures_changed(None)
        for a in (self.play, self.onion):
            a.setEnabled(doc is not None)

    def _pictures_changed(self, _frames) -> None:
        # A frame's picture shows its neighbours too (onion skin, side by side): forget them all.
        self._generation += 1
        self.pool.clear()

    # ------------------------------------------------------------------ onion skin

    def _skin_changed(self, _on: bool = False) -> None:
        self.skin = OnionSkin(on=self.onion.isChecked(), previous=self.onion_prev.isChecked(),
                              next=self.onion_next.isChecked(),
                              ghost="colour" if self.ghost_colour.isChecked() else "drawing")
        if self.playing:
            self._prepare_from_here()
        elif self.win.doc is not None:
            self.win.refresh_view()

    def picture(self, frame: int, mode: str) -> Picture:
        """The viewer's picture of ``frame`` in ``mode`` (the window's refresh calls this)."""
        doc = self.win.doc
        if self.playing:
            hit = self.pool.get(self._key(frame, mode))
            if hit is not None:
                return hit
        return make_picture(doc, frame, mode, self.skin)

    def _key(self, frame: int, mode: str) -> tuple:
        return self._generation, frame, mode, self.skin.key()

    # ------------------------------------------------------------------ playing

    def set_fps(self, fps: int) -> None:
        """Play at ``fps`` frames a second (24 or 12)."""
        self.fps = fps
        if not self.rate[fps].isChecked():
            self.rate[fps].setChecked(True)
        self.clock.restart(fps)

    def _play_toggled(self, on: bool) -> None:
        if on:
            self.win.guard(self.start)
        else:
            self.stop()

    def start(self) -> None:
        """Play from the current frame, over the selection (two frames or more) or the cut."""
        doc = self.win.doc
        if self.playing:
            return
        if doc is None or doc.n_frames < 2:
            self._checked(False)
            return
        self.span = play_span(self.win.timeline.selected_frames(), doc.n_frames)
        self.playing = True
        self._checked(True)
        self.clock.restart(self.fps)
        self._position = self.win.current_frame()
        self._prepare_from_here()
        self._timer.start(0)

    def _prepare_from_here(self) -> None:
        """(Re)start the thread preparing the coming pictures, for the view mode and onion skin
        shown now."""
        self._stop.set()
        self._stop = threading.Event()
        self._mode = self.win.mode
        self._thread = threading.Thread(target=self._prepare, args=(self.win.doc, self._mode, self._stop),
                                        daemon=True, name="opdm-playback")
        self._thread.start()

    def stop(self) -> None:
        """Stop playing; the window shows the frame the play stopped on, as usual."""
        if not self.playing:
            return
        self.playing = False
        self._timer.stop()
        self._stop.set()
        self._checked(False)
        fps = self.clock.measured_fps()
        frame = self.win.current_frame()
        if frame >= 0 and shiboken6.isValid(self.win.timeline):
            self.win.timeline.currentFrameChanged.emit(frame)    # the window's usual refresh
        if fps:      # after the window's line about the frame
            self.win.status(self.win.status_bar.message.text() + " · " + translate(
                "Playback", "played at {fps} frames a second").format(fps=f"{fps:.1f}"))

    def _checked(self, on: bool) -> None:
        # The button shows the state without asking for it again.
        blocked = self.play.blockSignals(True)
        self.play.setChecked(on)
        self.play.blockSignals(blocked)
        self.play.setIcon(icon("mdi6.pause" if on else "mdi6.play"))

    def _tick(self) -> None:
        try:
            self._show_next()
        except Exception as exc:
            self.stop()
            show_exception(self.win, exc)

    def _show_next(self) -> None:
        doc = self.win.doc
        if not self.playing or doc is None:
            return
        current = self.win.current_frame()
        if current == self.span[1] and self.loop.isChecked():
            # At the loop's end: a selection changed meanwhile decides the next round.
            self.span = play_span(self.win.timeline.selected_frames(), doc.n_frames)
        frame = next_frame(current, self.span, self.loop.isChecked())
        if frame is None:
            self.stop()
            return
        if self.win.mode != self._mode:
            self._prepare_from_here()          # the view mode changed while playing
        picture = self.pool.get(self._key(frame, self.win.mode))
        if picture is None:
            if self._thread is not None and self._thread.is_alive():
                self._timer.start(2)           # being prepared: show it as soon as it is ready
                return
            picture = make_picture(doc, frame, self.win.mode, self.skin)
        self._show(frame, picture)
        self.clock.shown(time.perf_counter())
        self._timer.start(int(self.clock.wait(time.perf_counter()) * 1000))

    def _show(self, frame: int, picture: Picture) -> None:
        timeline, doc = self.win.timeline, self.win.doc
        blocked = timeline.blockSignals(True)       # the window's per-frame refresh waits for the stop
        try:
            timeline.set_current_frame(frame, select=False)
        finally:
            timeline.blockSignals(blocked)
        self._position = frame
        img, _note, offset = picture
        self.win.viewer.set_image(img, offset, doc.size[0])
        # The keyframe panel (about 10 ms) follows at most four times a second, and at once when
        # the play enters another key interval.
        keys, now = doc.neighbours(frame), time.perf_counter()
        if keys != self._panel_keys or now - self._panel_at > 0.25:
            self.win.panel.show_frame(doc, frame)
            self._panel_keys, self._panel_at = keys, now
        first, last = self.span
        # (No frame number: the timeline shows it, and a status line changing 24 times a second
        # costs the play its time.)
        text = translate("Playback", "Playing frames {first}-{last} at {fps} frames a second (Space stops)").format(
            first=doc.frame_label(first), last=doc.frame_label(last), fps=self.fps)
        ready = sum(self._key(f, self._mode) in self.pool for f in range(first, last + 1))
        if ready < last - first + 1:       # the first round is as fast as the pictures are made
            text += " · " + translate("Playback", "preparing the pictures: {ready} of {n}").format(
                ready=ready, n=last - first + 1)
        if text != self.win.status_bar.message.text():
            self.win.status(text)

    def _prepare(self, doc, mode: str, stop: threading.Event) -> None:
        """The preparing thread: the pictures of the frames coming next, as many as the pool
        holds, in play order."""
        ahead: int | None = None
        while not stop.is_set():
            first, last = self.span
            span = list(range(first, last + 1))
            if not span:
                return
            pos = self._position
            start = span.index(pos) + 1 if pos in span else 0
            order = span[start:] + span[:start]
            todo = None
            for f in order[:ahead or len(order)]:
                if self._key(f, mode) not in self.pool:
                    todo = f
                    break
            if todo is None:
                stop.wait(0.01)
                continue
            key = self._key(todo, mode)
            try:
                picture = make_picture(doc, todo, mode, self.skin)
            except Exception:
                return          # the GUI thread makes it and shows the problem
            if stop.is_set() or key != self._key(todo, mode):
                continue        # changed meanwhile: made again with the change
            self.pool.put(key, picture)
            if ahead is None:
                ahead = min(len(order), self.pool.capacity(picture[0].nbytes) - 1)

    def measured_fps(self) -> float:
        """Frames a second the play showed (0 before two frames)."""
        return self.clock.measured_fps()
