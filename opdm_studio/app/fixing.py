"""Fixing in the window: the fill tool, the swatch picker, the palette edits (all undoable), the
reach of the last fix on the timeline, and "Next flagged region".

:class:`FixTool` is owned by the main window; the logic lives in the engine
(:class:`~opdm_studio.engine.fixes.Fixer`, through the window's Document), the swatches in the
:class:`~opdm_studio.app.palette_panel.PalettePanel` it creates. Every change of the fixes or
the palette is one :class:`FixesCommand` on the window's undo stack.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject, Signal
from PySide6.QtGui import QUndoCommand

from opdm_studio.app.i18n import translate
from opdm_studio.app.palette_panel import PalettePanel
from opdm_studio.app.swatch_tree import swatch_label
from opdm_studio.app.viewer import FILL_MODES, mode_label
from opdm_studio.engine.fixes import frame_ranges
from opdm_studio.engine.swatches import hex_of
from opdm_studio.errors import ProjectError

#: Why carrying a fix stopped (the engine's reasons), for the status line.
STOP_TEXT = {"keyframe": QT_TRANSLATE_NOOP("FixTool", "a keyframe"),
             "unsure": QT_TRANSLATE_NOOP("FixTool", "an unsure match"),
             "fixed": QT_TRANSLATE_NOOP("FixTool", "another fix"),
             "end": QT_TRANSLATE_NOOP("FixTool", "the cut's end")}


def fill_text(out, label: Callable[[int], str]) -> str:
    """Where a fill went and why carrying stopped, for the status line (``out``: a FillOutcome)."""
    carried = out.fix.carried_frames()
    if carried:
        text = translate("FixTool", "frame {frame}, carried to {frames}").format(
            frame=label(out.fix.frame), frames=frame_ranges([label(f) for f in carried], carried))
    else:
        text = translate("FixTool", "frame {frame}, not carried").format(frame=label(out.fix.frame))
    stops = [translate("FixTool", STOP_TEXT[s]) for s in dict.fromkeys(out.fix.stops) if s in STOP_TEXT]
    if len(stops) == 2:
        stops = [translate("FixTool", "{a} and {b}").format(a=stops[0], b=stops[1])]
    if stops:
        text += " " + translate("FixTool", "(stopped at {where})").format(where=stops[0])
    return text


class FixesCommand(QUndoCommand):
    """Undoable change of the fixes and the palette: both states, before and after.

    The change is made before the command is pushed (a refused change raises with nothing on
    the stack); ``frames`` are the frames whose colours it changes (None: all of them). A fill
    or stroke shows its ``reach`` on the timeline (``on_reach``) while it is done, not undone.
    ``kind``: "fill", "stroke" or "palette" (what the save prompt calls it).
    """

    def __init__(self, doc, text: str, before, after, frames: list[int] | None,
                 on_change: Callable[[list[int] | None], None], reach: list[int] | None = None,
                 on_reach: Callable[[list[int]], None] | None = None, kind: str = "palette") -> None:
        super().__init__(text)
        self.kind = kind
        self._doc, self._before, self._after = doc, before, after
        self._frames, self._on_change = frames, on_change
        self._reach, self._on_reach = reach, on_reach

    def redo(self) -> None:
        """Put the changed state in place (a no-op on the first push)."""
        self._doc.restore_fixes(self._after)
        self._on_change(self._frames)
        if self._on_reach is not None and self._reach is not None:
            self._on_reach(self._reach)

    def undo(self) -> None:
        """Restore the fixes and palette as they were."""
        self._doc.restore_fixes(self._before)
        self._on_change(self._frames)
        if self._on_reach is not None and self._reach is not None:
            self._on_reach([])


class _PaletteReader(QObject):
    """Carries the keys' paint colours, read on another thread, back to the GUI thread."""

    read = Signal(object, object, object)     # document, keys, colours


class FixTool:
    """The window's fixing tools (see the module doc). ``win`` is the main window."""

    def __init__(self, win) -> None:
        self.win = win
        self.panel = PalettePanel(self.edit)
        self.reach: list[int] = []                  # frames the last fill painted
        self._doc = None                            # the document shown (to stop its warm-up)
        self.flag: tuple[int, int] | None = None    # (frame, region) outlined by Next flagged
        win.viewer.filled.connect(lambda x, y: win.guard(self.fill_at, x, y))
        win.viewer.picked.connect(lambda x, y: win.guard(self.pick_at, x, y))
        win.timeline.currentFrameChanged.connect(self._frame_shown)
        self._reader = _PaletteReader(self.panel)     # goes with the window
        self._reader.read.connect(self._palette_read)
        self.chip: str | None = None                # the swatch the status bar's chip shows
        self.panel.swatchChosen.connect(self.show_chip)

    @property
    def doc(self):
        """The window's open cut (None without one)."""
        return self.win.doc

    def set_document(self, doc) -> None:
        """A cut was opened (or closed)."""
        if self._doc is not None and self._doc is not doc:
            self._doc.stop_warming()
        self._doc = doc
        self.reach, self.flag = [], None
        self.win.frames.set_reach([])
        self.win.viewer.show_box(None)
        self.chip = None
        self.win.status_bar.clear_swatch()          # the last cut's colour is not this cut's
        self.panel.set_document(doc)
        self.sync_palette()

    def sync_palette(self) -> None:
        """Read the keyframes' paint colours on another thread (decoding the paint would slow
        the opening of a cut down) and show their swatches when done."""
        doc = self.doc
        if doc is None or doc.palette_synced():
            return
        keys, reader = doc.palette_keys(), self._reader

        def read() -> None:
            colours = doc.key_paint(keys)
            try:
                if shiboken6.isValid(reader):     # else the window closed meanwhile
                    reader.read.emit(doc, keys, colours)
            except RuntimeError:                  # ... or is closing right now
                pass
        threading.Thread(target=read, daemon=True, name="opdm-palette").start()

    def _palette_read(self, doc, keys, colours) -> None:
        if doc is self.doc and shiboken6.isValid(self.panel):
            doc.apply_key_paint(keys, colours)      # (names them from the cut's colour model)
            if doc.model_problem:
                self.win.status(translate("FixTool", "The cut's colour model was not read: {error}").format(
                    error=doc.model_problem))
                doc.model_problem = None
            self.panel.refresh()

    def show_chip(self, swatch_id: str | None = None) -> None:
        """The status bar's chip shows swatch ``swatch_id`` (None: the one it shows) as its
        colour is now; cleared when the swatch is gone."""
        doc = self.doc
        self.chip = swatch_id or self.chip
        s = doc.palette.find(self.chip) if doc is not None and self.chip else None
        if s is None:
            self.chip = None
            self.win.status_bar.clear_swatch()
            return
        s = doc.palette.resolve(s.id)
        self.win.status_bar.show_swatch(doc.palette.shown_rgb(s), swatch_label(s))

    # ------------------------------------------------------------------ undoable changes

    def edit(self, text: str, change: Callable[[], object], frames: list[int] | None = None) -> None:
        """Make ``change`` to the fixes / palette and record it on the undo stack."""
        doc = self.doc
        if doc is None or self.win.busy:
            return
        before = doc.fixes_state()
        try:
            change()
        except Exception:
            doc.restore_fixes(before)
            raise
        self.win.undo.push(FixesCommand(doc, text, before, doc.fixes_state(), frames, self.changed))
        self.win.status(text)

    def changed(self, frames: list[int] | None) -> None:
        """The fixes or the palette changed: redraw what shows them."""
        doc = self.doc
        if doc is None:
            return
        doc.mark_stale(frames)
        # The timeline hears the workspace's forgetting (frames_changed) and repaints.
        if frames is None:
            if self.win.frames.thumbs is not None:
                self.win.frames.thumbs.invalidate()
            doc.forget()
        else:
            for f in frames:
                doc.forget(f)
        self.panel.refresh()
        self.show_chip()                # a recolour, an undo: the chip shows the colour now
        self.win.refresh_view()

    # ------------------------------------------------------------------ the fill tool

    def fill_at(self, x: int, y: int) -> None:
        """A click with the fill tool: the region gets the current swatch (carried on)."""
        doc, frame = self.doc, self.win.current_frame()
        if doc is None or frame < 0 or self.win.busy:
            return
        if self.win.mode not in FILL_MODES:
            raise ProjectError(translate("FixTool", "The fill tool paints in the {views} views (Ctrl+2, Ctrl+3, "
                                                    "Ctrl+5).").format(views=", ".join(map(mode_label, FILL_MODES))))
        sid = self.panel.current_swatch()
        if sid is None:
            raise ProjectError(translate("FixTool", "Choose a swatch in the palette first (or Alt-click a region "
                                                    "to pick one)."))
        if doc.result_color(frame) is None:
            raise ProjectError(translate("FixTool", "Frame {frame} has no colour yet: colour it (Ctrl+Enter) "
                                                    "before fixing its regions.").format(frame=doc.frame_label(frame)))
        sw = doc.palette.get(sid)
        before = doc.fixes_state()
        out = doc.fill(frame, x, y, sid, carry=self.panel.carry.isChecked())
        label = doc.frame_label(frame)
        text = translate("FixTool", "Fill a region of frame {frame} with {swatch}").format(
            frame=label, swatch=swatch_label(sw))
        self.win.undo.push(FixesCommand(doc, text, before, doc.fixes_state(), out.frames, self.changed,
                                        reach=out.frames, on_reach=self.show_reach, kind="fill"))
        if self.flag is not None and self.flag[0] == frame:
            self.win.viewer.show_box(None)
            self.flag = None
        self.win.status(translate("FixTool", "Filled with {swatch}: {where}").format(
            swatch=swatch_label(sw), where=fill_text(out, doc.frame_label)))

    def hand_tools(self):
        """The brush and the enclose-and-fill lasso, installed beside the fill tool (once the
        window's actions exist)."""
        from opdm_studio.app.hand_tool import HandTool  # (it builds on this module)
        return HandTool(self.win)

    def record(self, text: str, before, out, kind: str) -> str:
        """Put a fill or stroke already made (``out``: its FillOutcome; ``before``: the fixes
        before it) on the undo stack with its reach; returns where it went, for the status line."""
        doc = self.doc
        self.win.undo.push(FixesCommand(doc, text, before, doc.fixes_state(), out.frames, self.changed,
                                        reach=out.frames, on_reach=self.show_reach, kind=kind))
        if self.flag is not None and self.flag[0] == out.fix.frame:
            self.win.viewer.show_box(None)
            self.flag = None
        return fill_text(out, doc.frame_label)

    def show_reach(self, frames: list[int]) -> None:
        """The frames the last fill or stroke painted, marked under the timeline ([]: none)."""
        self.reach = list(frames)
        self.win.frames.set_reach(self.reach)

    def pick_at(self, x: int, y: int) -> None:
        """A click with the colour picker, or an Alt-click with the fill tool: the region's
        colour, its swatch (which becomes the current one) and its confidence."""
        doc, frame = self.doc, self.win.current_frame()
        if doc is None or frame < 0:
            return
        if doc.result_color(frame) is None:
            self.win.status(translate("FixTool", "Colour picker: this frame has no colour yet"))
            return
        rgb, sw = doc.pick(frame, x, y)
        conf = doc.confidence(frame)
        c = " · " + translate("FixTool", "confidence {value}").format(value=f"{conf[y, x]:.2f}") \
            if conf is not None else ""
        self.win.last_pick = (x, y, rgb)
        if sw is None:
            self.chip = None             # a colour, not a swatch: shown until the next change
            self.win.status_bar.show_swatch(rgb)
            self.win.status(translate("FixTool", "Region colour at ({x}, {y}): {hex}, not a swatch of the "
                                                 "palette (Add makes it one)").format(x=x, y=y, hex=hex_of(rgb)) + c)
            return
        self.panel.set_current(sw.id)
        self.show_chip(sw.id)
        self.win.status(translate("FixTool", "Region colour at ({x}, {y}): {swatch} {hex} = RGB{rgb}; now the "
                                             "current swatch").format(x=x, y=y, swatch=swatch_label(sw), hex=hex_of(rgb),
                                                                      rgb=rgb) + c)

    # ------------------------------------------------------------------ review

    def next_flagged(self) -> None:
        """Jump to the next region flagged for review, through the whole cut."""
        doc = self.doc
        if doc is None:
            return
        frame = self.win.current_frame()
        after = self.flag[1] if self.flag is not None and self.flag[0] == frame else None
        hit = doc.next_flagged(max(frame, 0), after)
        if hit is None:
            self.flag = None
            self.win.viewer.show_box(None)
            self.win.status(translate("FixTool", "No region is flagged for review: every coloured frame is settled"))
            return
        self.flag = (hit.frame, hit.label)
        if hit.frame != frame:
            self.win.go_to(hit.frame)
        if self.win.mode not in FILL_MODES:
            self.win.set_mode("review")
        self.win.viewer.show_box(hit.box)
        if hit.part:
            self.win.status(translate("FixTool", "Flagged place on frame {frame} ({area} px) inside a region "
                                                 "that is not flagged as a whole: paint it with the brush (P) "
                                                 "or enclose and fill it (L), or N for the next one").format(
                frame=doc.frame_label(hit.frame), area=hit.area))
            return
        self.win.status(translate("FixTool", "Flagged region on frame {frame} ({area} px): fill it with the "
                                             "right swatch (B, click), or N for the next one").format(
            frame=doc.frame_label(hit.frame), area=hit.area))

    def warm(self) -> None:
        """With the fill tool on, get the regions around the current frame ready in the
        background (the first fill of an interval then carries without a wait)."""
        if self.doc is not None and self.win.viewer.tool == "fill" and not self.win.busy:
            self.doc.warm_fixes(self.win.current_frame())

    def _frame_shown(self, frame: int) -> None:
        if self.flag is not None and self.flag[0] != frame:
            self.flag = None
            self.win.viewer.show_box(None)
        self.warm()
