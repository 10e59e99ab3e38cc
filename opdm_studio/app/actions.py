"""The main window's actions (with their shortcuts and icons), menus and toolbar."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton

from opdm_studio import paths
from opdm_studio.app.i18n import translate
from opdm_studio.app.theme import icon
from opdm_studio.app.viewer import MODES, mode_label

if TYPE_CHECKING:   # (the window's module imports this one: for type checkers only)
    from opdm_studio.app.main_window import MainWindow

MODE_ICONS = {"line": "mdi6.draw", "color": "mdi6.palette-swatch", "overlay": "mdi6.layers",
              "side": "mdi6.view-column", "review": "mdi6.alert-decagram", "unpainted": "mdi6.format-paint"}


def plain(text: str) -> str:
    """A menu text as a tooltip: no mnemonic ("&Open", "開く(&O)") and no ellipsis."""
    return re.sub(r"\(&\w\)", "", text).replace("&", "").replace("...", "").strip()


class WindowActions:
    """Every QAction of the main window, the menu bar and the toolbar that show them.

    ``win`` is the main window: its command methods (``open_dialog``, ``save``, ``colorize_selection``,
    ...) are the actions' slots, and a triggered action runs through its ``guard`` (errors become
    dialogs). The actions are added to the window itself, so their shortcuts work wherever the
    focus is. (The window's module is imported for type checkers only: it imports this one.)
    """

    def __init__(self, win: MainWindow, undo: QUndoStack, mode: str) -> None:
        self._win = win
        self._file_actions(win)
        self._undo_actions(win, undo)
        self._frame_actions(win)
        self._colour_actions(win)
        self._view_actions(win.viewer)
        self._tool_actions(win, win.viewer)
        self._help_actions(win)
        self._mode_actions(win, mode)
        self.recent_menu = QMenu(translate("WindowActions", "Open &recent"), win)
        self._build_menus()
        self.toolbar = self._build_toolbar()

    def _file_actions(self, win: MainWindow) -> None:
        K = QKeySequence.StandardKey
        self.open = self._act(translate("WindowActions", "&Open cut..."), win.open_dialog, K.Open,
                              "mdi6.folder-open")
        self.save = self._act(translate("WindowActions", "&Save project"), win.save, "Ctrl+S",
                              "mdi6.content-save")
        self.export = self._act(translate("WindowActions", "&Export..."), win.export_dialog, "Ctrl+E",
                                "mdi6.export")
        self.quit = self._act(translate("WindowActions", "&Quit"), win.close, K.Quit)

    def _undo_actions(self, win: MainWindow, undo: QUndoStack) -> None:
        K = QKeySequence.StandardKey
        self.undo = undo.createUndoAction(win, translate("WindowActions", "&Undo"))
        self.undo.setShortcut(K.Undo)
        self.undo.setIcon(icon("mdi6.undo"))
        self.redo = undo.createRedoAction(win, translate("WindowActions", "&Redo"))
        self.redo.setShortcut(K.Redo)
        self.redo.setIcon(icon("mdi6.redo"))
        win.addActions([self.undo, self.redo])
        for act, changed in ((self.undo, undo.undoTextChanged), (self.redo, undo.redoTextChanged)):
            # Their text follows the stack ("Undo Mark keyframe 3"); the tooltip without "(&U)" too.
            act.setIconText(plain(act.text()))
            changed.connect(lambda _text, act=act: shiboken6.isValid(act) and act.setIconText(plain(act.text())))

    def _frame_actions(self, win: MainWindow) -> None:
        self.key = self._act(translate("WindowActions", "Mark / unmark &keyframe"), win.toggle_key, "K",
                             "mdi6.key")
        self.promote = self._act(translate("WindowActions", "&Promote and re-colour neighbours"),
                                 win.promote_current, None, "mdi6.key-star")
        self.prev = self._act(translate("WindowActions", "&Previous frame"), lambda: win.step_frame(-1), ",",
                              "mdi6.chevron-left")
        self.next = self._act(translate("WindowActions", "&Next frame"), lambda: win.step_frame(1), ".",
                              "mdi6.chevron-right")
        self.first = self._act(translate("WindowActions", "&First frame"), lambda: win.go_to(0), "Home",
                               "mdi6.page-first")
        self.last = self._act(translate("WindowActions", "&Last frame"), lambda: win.go_to(10 ** 9), "End",
                              "mdi6.page-last")

    def _colour_actions(self, win: MainWindow) -> None:
        K = QKeySequence.StandardKey
        self.colorize = self._act(translate("WindowActions", "&Colorize selection"), win.colorize_selection,
                                  ["Ctrl+Return", "Ctrl+Enter"], "mdi6.palette",
                                  translate("WindowActions", "Colour the selected frames (all frames if none) "
                                                             "— Ctrl+Enter"))
        self.cancel = self._act(translate("WindowActions", "C&ancel"), win.cancel, "Esc",
                                "mdi6.stop-circle-outline",
                                translate("WindowActions", "Stop colouring after the current step; finished "
                                                           "frames are kept (Esc)"))
        self.settings = self._act(translate("WindowActions", "&Settings..."), win.settings_dialog,
                                  K.Preferences, "mdi6.cog")
        self.wizard = self._act(translate("WindowActions", "&Fine-tune wizard..."), win.open_finetune_wizard,
                                None, "mdi6.school")

    def _view_actions(self, viewer: Any) -> None:
        K = QKeySequence.StandardKey
        self.fit = self._act(translate("WindowActions", "&Fit"), viewer.fit, "F", "mdi6.fit-to-screen-outline")
        self.actual_size = self._act(translate("WindowActions", "&Actual size"), viewer.actual_size, "1",
                                     "mdi6.magnify")
        self.zoom_in = self._act(translate("WindowActions", "Zoom &in"), lambda: viewer.zoom_by(1.25), K.ZoomIn)
        self.zoom_out = self._act(translate("WindowActions", "Zoom &out"), lambda: viewer.zoom_by(0.8),
                                  K.ZoomOut)

    def _tool_actions(self, win: MainWindow, viewer: Any) -> None:
        self.pick = self._act(translate("WindowActions", "Colour &picker"), viewer.set_pick_mode, "I",
                              checkable=True)
        self.pick.setIcon(icon("mdi6.eyedropper"))
        self.fill = self._act(translate("WindowActions", "&Fill tool"), viewer.set_fill_mode, "B",
                              checkable=True,
                              tip=translate("WindowActions", "Fill tool (B): click a region to give it the "
                                                             "current swatch, carried to the same region in "
                                                             "the neighbouring frames; Alt-click picks a swatch"))
        self.fill.setIcon(icon("mdi6.format-color-fill"))
        self.tools = QActionGroup(win)   # at most one of the picker and the fill tool
        self.tools.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.tools.addAction(self.pick)
        self.tools.addAction(self.fill)
        self.next_flag = self._act(translate("WindowActions", "&Next flagged region"), win.fixes.next_flagged,
                                   "N", "mdi6.skip-next-circle-outline",
                                   translate("WindowActions", "Jump to the next region flagged for review, "
                                                              "through the whole cut (N)"))

    def _help_actions(self, win: MainWindow) -> None:
        self.logs = self._act(translate("WindowActions", "Open &log folder"), lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(paths.log_dir()))))
        self.about = self._act(translate("WindowActions", "&About OPDM Studio"), win.about)

    def _mode_actions(self, win: MainWindow, mode: str) -> None:
        self.mode_group = QActionGroup(win)
        self.modes: dict[str, QAction] = {}
        for n, m in enumerate(MODES, start=1):
            a = QAction(icon(MODE_ICONS[m]), mode_label(m), win)
            a.setCheckable(True)
            a.setShortcut(QKeySequence(f"Ctrl+{n}"))
            a.setToolTip(f"{mode_label(m)} (Ctrl+{n})")
            a.triggered.connect(lambda _=False, m=m: win.set_mode(m))
            self.mode_group.addAction(a)
            self.modes[m] = a
            win.addAction(a)
        self.modes[mode].setChecked(True)

    def _act(self, text: str, slot: Callable, shortcut=None, icon_name: str | None = None,
             tip: str | None = None, checkable: bool = False) -> QAction:
        win = self._win
        a = QAction(text, win)
        if icon_name:
            a.setIcon(icon(icon_name))
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        a.setIconText(plain(text))      # the toolbar's label: without "(&O)" in Japanese
        a.setToolTip(tip or plain(text))
        a.setCheckable(checkable)
        if checkable:
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda _=False: win.guard(slot))
        win.addAction(a)  # shortcuts work wherever the focus is
        return a

    def _build_menus(self) -> None:
        mb = self._win.menuBar()
        m = mb.addMenu(translate("WindowActions", "&File"))
        m.addAction(self.open)
        m.addMenu(self.recent_menu)
        m.addSeparator()
        m.addActions([self.save, self.export])
        m.addSeparator()
        m.addAction(self.quit)
        m = mb.addMenu(translate("WindowActions", "&Edit"))
        m.addActions([self.undo, self.redo])
        m.addSeparator()
        m.addActions([self.key, self.promote])
        m.addSeparator()
        m.addActions([self.fill, self.next_flag])
        m = mb.addMenu(translate("WindowActions", "&View"))
        m.addActions(list(self.modes.values()))
        m.addSeparator()
        m.addActions([self.fit, self.actual_size, self.zoom_in, self.zoom_out, self.pick])
        m = mb.addMenu(translate("WindowActions", "F&rame"))
        m.addActions([self.prev, self.next, self.first, self.last])
        m = mb.addMenu(translate("WindowActions", "&Colour"))
        m.addActions([self.colorize, self.cancel])
        m = mb.addMenu(translate("WindowActions", "&Tools"))
        m.addActions([self.settings, self.wizard])
        m = mb.addMenu(translate("WindowActions", "&Help"))
        m.addActions([self.logs, self.about])

    def _build_toolbar(self) -> QToolBar:
        tb = QToolBar(translate("WindowActions", "Main toolbar"), self._win)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        groups = [[self.open, self.save], [self.undo, self.redo], [self.key],
                  list(self.modes.values()), [self.fit, self.pick, self.fill, self.next_flag],
                  [self.colorize, self.cancel, self.export, self.settings]]
        for n, group in enumerate(groups):
            if n:
                tb.addSeparator()
            tb.addActions(group)
        # Frequent, self-explaining tools show only their icon; the main verbs keep their text.
        for a in (self.undo, self.redo, self.fit, self.pick, self.fill, self.save, self.key,
                  *self.modes.values()):
            w = tb.widgetForAction(a)
            if isinstance(w, QToolButton):
                w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self._win.addToolBar(tb)
        return tb

    def fill_recent(self, folders: list[str], open_cut: Callable[[str], object]) -> None:
        """List the recent cut folders in File > Open recent."""
        self.recent_menu.clear()
        for folder in folders:
            a = self.recent_menu.addAction(folder)
            a.triggered.connect(lambda _=False, f=folder: open_cut(f))
        self.recent_menu.setEnabled(bool(folders))

    def update(self, has_doc: bool, busy: bool, can_undo: bool, can_redo: bool) -> None:
        """Enable what makes sense: a cut open, a job running, something to undo or redo."""
        for a in (self.prev, self.next, self.first, self.last, self.fit, self.actual_size,
                  self.pick, self.zoom_in, self.zoom_out, self.next_flag):
            a.setEnabled(has_doc)
        for a in (self.key, self.promote, self.colorize, self.save, self.export, self.fill):
            a.setEnabled(has_doc and not busy)
        self.open.setEnabled(not busy)
        self.cancel.setEnabled(busy)
        self.undo.setEnabled(not busy and can_undo)
        self.redo.setEnabled(not busy and can_redo)
