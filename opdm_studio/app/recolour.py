"""Colour again on purpose (the command line's ``--force``): Colour > Colour again
(Ctrl+Shift+Enter) colours the selection anew even where its frames are finished, and Colorize
(Ctrl+Enter) on frames that are all finished and up to date asks whether to colour them again
instead of saying "coloured in 0.0 s" and doing nothing.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from opdm_studio.app.i18n import translate
from opdm_studio.app.jobs import frames_to_colour
from opdm_studio.app.theme import icon


def finished(doc, frames: list[int]) -> bool:
    """True when every frame of ``frames`` is a keyframe or has a result that is up to date
    (a plain Colorize would have nothing to do)."""
    return all(doc.is_key(i) or (doc.has_result(i) and not doc.is_outdated(i)) for i in frames)


class ColourAgain:
    """The Colour again action on the window, and Colorize's question on finished frames.
    (``win`` is the main window, which imports this module.)"""

    def __init__(self, win: Any) -> None:
        self._win = win
        self.action = QAction(icon("mdi6.palette-outline"), translate("recolour", "Colour &again"), win)
        self.action.setShortcuts([QKeySequence("Ctrl+Shift+Return"), QKeySequence("Ctrl+Shift+Enter")])
        tip = translate("recolour", "Colour the selected frames again even where they are finished "
                                    "(all frames if none) — Ctrl+Shift+Enter; fixes are kept")
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        self.action.triggered.connect(lambda _=False: win.guard(self.colour_again))
        win.addAction(self.action)           # the shortcut works wherever the focus is
        colorize = win.acts.colorize
        menu = next((m for m in colorize.associatedObjects() if isinstance(m, QMenu)), None)
        if menu is not None:
            actions = menu.actions()
            after = actions.index(colorize) + 1 if colorize in actions else len(actions)
            if after < len(actions):
                menu.insertAction(actions[after], self.action)
            else:
                menu.addAction(self.action)
        colorize.changed.connect(lambda: self.action.setEnabled(colorize.isEnabled()))
        self.action.setEnabled(colorize.isEnabled())

    def _selection(self) -> tuple[list[int], str]:
        win = self._win
        return frames_to_colour(win.doc, win.timeline.selected_frames())

    def colorize(self, frames: list[int], what: str | None = None) -> None:
        """Colorize ``frames``; when all of them are finished, ask whether to colour them again
        (No: nothing runs, and the status line says why)."""
        win = self._win
        if win.doc is None or win.busy:
            return
        if not win.doc.keys() or not finished(win.doc, frames):
            win.colorize(frames, what)
            return
        what = what or translate("recolour", "{n} frame(s)").format(n=len(frames))
        button = QMessageBox.StandardButton
        answer = QMessageBox.question(
            win, translate("recolour", "Colour again?"),
            translate("recolour", "{what}: every frame is already coloured and up to date.\n"
                                  "Colour them again (their fixes are kept)?").format(what=what),
            button.Yes | button.No, button.No)
        if answer == button.Yes:
            win.colorize(frames, what, force=True)
        else:
            win.status(translate("recolour", "Nothing coloured: {what} already coloured and up to date "
                                             "(Colour again: Ctrl+Shift+Enter).").format(what=what))

    def colour_again(self) -> None:
        """Colour > Colour again: colour the selection anew, finished frames included."""
        win = self._win
        if win.doc is None or win.busy:
            return
        win.colorize(*self._selection(), force=True)
