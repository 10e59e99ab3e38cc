"""The hand tools for when a fill leaks: a brush and an enclose-and-fill lasso (囲って塗る).

Both paint with the palette's current swatch, in the views where the fill tool paints; each
stroke is one undoable change (``FixTool.record``: a :class:`~opdm_studio.app.fixing.FixesCommand`;
the fixing module installs this one, so it is not imported here) and is carried to
the neighbouring frames like a fill for the regions it covers whole (the logic:
:mod:`opdm_studio.engine.strokes`, :meth:`~opdm_studio.engine.fixes.Fixer.paint`). The tool
installs its actions beside the fill tool's (menu, toolbar, the one-tool-at-a-time group) and
reads the strokes from the viewer's mouse events; Alt-click picks a swatch as with the fill tool.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem, QMenu, QToolButton

from opdm_studio.app.actions import plain
from opdm_studio.app.i18n import translate
from opdm_studio.app.swatch_tree import swatch_label
from opdm_studio.app.theme import icon
from opdm_studio.app.viewer import FILL_MODES, mode_label
from opdm_studio.engine.strokes import BRUSH, LASSO, MAX_RADIUS, MIN_RADIUS, Shape
from opdm_studio.errors import ProjectError


class HandTool(QObject):
    """The brush and the lasso of the main window ``win`` (see the module doc)."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        self.radius: int | None = None          # brush radius in frame pixels (None: from the cut's size)
        self._points: list[tuple[float, float]] | None = None
        self._item: QGraphicsPathItem | None = None
        self._ring: QGraphicsEllipseItem | None = None      # the brush's size under the pointer
        self._at: QPointF | None = None
        acts = win.acts
        self.brush = self._act(translate("HandTool", "&Brush"), "P", "mdi6.brush", BRUSH,
                               translate("HandTool", "Brush (P): paint with the current swatch where the "
                                                     "fill leaks; [ and ] change its size; Alt-click picks "
                                                     "a swatch"))
        self.lasso = self._act(translate("HandTool", "&Enclose and fill"), "L", "mdi6.lasso", LASSO,
                               translate("HandTool", "Enclose and fill (L): draw round a part to paint "
                                                     "inside the outline with the current swatch; regions "
                                                     "inside it whole are carried like fills"))
        self.smaller = self._key(translate("HandTool", "Smaller brush"), "[", 1 / 1.25)
        self.bigger = self._key(translate("HandTool", "Larger brush"), "]", 1.25)
        for a in (self.brush, self.lasso):
            acts.tools.addAction(a)
            a.setEnabled(acts.fill.isEnabled())
        acts.fill.enabledChanged.connect(self._follow_fill)
        self._place(acts)
        win.viewer.viewport().installEventFilter(self)

    def _act(self, text: str, key: str, icon_name: str, kind: str, tip: str) -> QAction:
        a = QAction(icon(icon_name), text, self.win)
        a.setShortcut(QKeySequence(key))
        a.setCheckable(True)
        a.setToolTip(tip)
        a.setIconText(plain(text))          # no "(B)" beside the icon in Japanese
        a.toggled.connect(lambda on, kind=kind: self.set_tool(kind, on))
        self.win.addAction(a)
        return a

    def _key(self, text: str, key: str, factor: float) -> QAction:
        a = QAction(text, self.win)
        a.setShortcut(QKeySequence(key))
        a.triggered.connect(lambda _=False: self.resize_brush(factor))
        self.win.addAction(a)
        return a

    def _place(self, acts) -> None:
        # Beside the fill tool in the Edit menu and on the toolbar, icons only there.
        for w in [*(w for w in acts.fill.associatedObjects() if isinstance(w, QMenu)), acts.toolbar]:
            mine = [self.brush, self.lasso] + ([self.smaller, self.bigger] if isinstance(w, QMenu) else [])
            if acts.next_flag in w.actions():
                w.insertActions(acts.next_flag, mine)
            else:
                w.addActions(mine)
        tb = acts.toolbar
        for a in (self.brush, self.lasso):
            button = tb.widgetForAction(a)
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def _follow_fill(self, enabled: bool) -> None:
        for a in (self.brush, self.lasso, self.smaller, self.bigger):
            a.setEnabled(enabled)

    # ------------------------------------------------------------------ the tool

    def set_tool(self, kind: str, on: bool) -> None:
        """The viewer's clicks paint with ``kind`` (off: back to panning, unless another tool
        took over meanwhile)."""
        viewer = self.win.viewer
        if on:
            viewer.set_tool(kind)
            viewer.viewport().setCursor(Qt.CursorShape.CrossCursor)
            viewer.viewport().setMouseTracking(True)      # the brush's ring follows the pointer
            if self.win.doc is not None and not self.win.busy:   # a stroke then carries at once
                self.win.doc.warm_fixes(self.win.current_frame())
        elif viewer.tool == kind:
            viewer.set_tool("pan")
        self._show_ring(None)

    def brush_radius(self) -> int:
        """The brush radius in frame pixels (at first a hundredth of the cut's smaller side)."""
        if self.radius is None:
            w, h = self.win.doc.size if self.win.doc is not None else (500, 500)
            self.radius = int(max(MIN_RADIUS + 1, min(w, h) // 100))
        return self.radius

    def resize_brush(self, factor: float) -> None:
        """Make the brush ``factor`` times larger (at least one pixel more or less)."""
        r = self.brush_radius()
        new = round(r * factor)
        new = new if new != r else r + (1 if factor > 1 else -1)
        self.radius = int(min(MAX_RADIUS, max(MIN_RADIUS, new)))
        self._show_ring(self._at)
        self.win.status(translate("HandTool", "Brush size {size} px").format(size=2 * self.radius + 1))

    def paint(self, kind: str, points: list[tuple[float, float]]) -> None:
        """One stroke of the brush (a path) or the lasso (an outline), in frame pixels, painted
        with the current swatch on the current frame and recorded on the undo stack."""
        win, fixes = self.win, self.win.fixes
        doc, frame = win.doc, win.current_frame()
        if doc is None or frame < 0 or win.busy or not points:
            return
        if win.mode not in FILL_MODES:
            raise ProjectError(translate("HandTool", "The brush and enclose and fill paint in the {views} "
                                                     "views (Ctrl+2, Ctrl+3, Ctrl+5).").format(
                views=", ".join(map(mode_label, FILL_MODES))))
        sid = fixes.panel.current_swatch()
        if sid is None:
            raise ProjectError(translate("HandTool", "Choose a swatch in the palette first (or Alt-click a "
                                                     "region to pick one)."))
        if doc.is_key(frame):
            raise ProjectError(translate("HandTool", "Frame {frame} is a keyframe: its paint is what the "
                                                     "other frames are coloured from. Fix it in your paint "
                                                     "program and drop it back.").format(frame=doc.frame_label(frame)))
        if doc.result_color(frame) is None:
            raise ProjectError(translate("HandTool", "Frame {frame} has no colour yet: colour it (Ctrl+Enter) "
                                                     "before painting on it.").format(frame=doc.frame_label(frame)))
        if kind == LASSO and len(points) < 3:
            raise ProjectError(translate("HandTool", "Enclose and fill: draw round the part to paint, "
                                                     "holding the mouse button down."))
        # The pixel under the pointer (scene coordinates are frame pixels, x in [px, px + 1)).
        shape = Shape.make(kind, [(math.floor(x), math.floor(y)) for x, y in points], self.brush_radius())
        sw = doc.palette.get(sid)
        before = doc.fixes_state()
        try:
            out = doc.paint(frame, shape, sid, carry=fixes.panel.carry.isChecked())
        except ProjectError:
            doc.restore_fixes(before)
            raise ProjectError(translate("HandTool", "The stroke paints no region: paint inside the "
                                                     "regions, not only on the lines.")) from None
        label = doc.frame_label(frame)
        if kind == BRUSH:
            text = translate("HandTool", "Brush on frame {frame} with {swatch}").format(frame=label, swatch=swatch_label(sw))
        else:
            text = translate("HandTool", "Enclose and fill on frame {frame} with {swatch}").format(
                frame=label, swatch=swatch_label(sw))
        where = fixes.record(text, before, out, "stroke")
        win.status(translate("HandTool", "Painted with {swatch}: {where}").format(swatch=swatch_label(sw), where=where))

    # ------------------------------------------------------------------ the viewer's mouse

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        """Read brush and lasso strokes from the viewer's mouse events."""
        viewer = self.win.viewer
        if viewer.tool not in (BRUSH, LASSO) or not viewer.has_image():
            return False
        kind = event.type()
        if kind == QEvent.Type.Leave:
            self._show_ring(None)
            return False
        if kind == QEvent.Type.MouseMove and self._points is None:
            self._show_ring(viewer.mapToScene(event.position().toPoint()) if viewer.tool == BRUSH else None)
            return False
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            p = viewer.mapToScene(event.position().toPoint())
            if event.modifiers() & Qt.KeyboardModifier.AltModifier:
                self.win.guard(self.win.fixes.pick_at, int(p.x()), int(p.y()))
                return True
            self._points = [(p.x(), p.y())]
            self._draw()
            return True
        if kind == QEvent.Type.MouseMove and self._points is not None:
            p = viewer.mapToScene(event.position().toPoint())
            self._points.append((p.x(), p.y()))
            self._draw()
            return True
        if kind == QEvent.Type.MouseButtonRelease and self._points is not None:
            points, self._points = self._points, None
            self._draw()
            self.win.guard(self.paint, viewer.tool, points)
            return True
        return False

    def _show_ring(self, at: QPointF | None) -> None:
        """The brush's size as a ring centred on ``at`` (scene = frame pixels; None hides it)."""
        self._at = at
        scene = self.win.viewer.scene()
        if self._ring is None or self._ring.scene() is not scene:
            if at is None:
                return
            self._ring = QGraphicsEllipseItem()
            pen = QPen(QColor(255, 255, 255, 200), 1.0)
            pen.setCosmetic(True)
            self._ring.setPen(pen)
            self._ring.setZValue(12)
            scene.addItem(self._ring)
        if at is None:
            self._ring.setVisible(False)
            return
        r = self.brush_radius() + 0.5        # round the pixel under the pointer, as it paints
        x, y = math.floor(at.x()) + 0.5, math.floor(at.y()) + 0.5
        self._ring.setRect(x - r, y - r, 2 * r, 2 * r)
        self._ring.setVisible(True)

    def _draw(self) -> None:
        # The stroke as it is drawn: the brush at its true width, the lasso's outline.
        scene = self.win.viewer.scene()
        if self._item is None or self._item.scene() is not scene:
            self._item = QGraphicsPathItem()
            self._item.setZValue(11)
            scene.addItem(self._item)
        pts = self._points
        if not pts:
            self._item.setVisible(False)
            return
        path = QPainterPath(QPointF(*pts[0]))
        for p in pts[1:]:
            path.lineTo(QPointF(*p))
        if self.win.viewer.tool == BRUSH:
            pen = QPen(QColor(255, 255, 255, 140), 2 * self.brush_radius() + 1)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            if len(pts) == 1:
                path.lineTo(QPointF(pts[0][0] + 0.01, pts[0][1]))
        else:
            path.closeSubpath()
            pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
        self._item.setPen(pen)
        self._item.setPath(path)
        self._item.setVisible(True)
