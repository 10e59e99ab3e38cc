"""The frame viewer: zoom with the wheel, pan by dragging, fit; the view modes; colour picking.

Images of each mode are composed in numpy from the document (the finished frame as exported, the
keyframes side by side, low-confidence regions tinted for review) and shown as one pixmap.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QT_TRANSLATE_NOOP, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsView, QWidget

from opdm_studio.app.i18n import translate
from opdm_studio.app.timeline import rgb_to_qimage
from opdm_studio.engine.export_check import unpainted_in
from opdm_studio.imaging.unpainted import hatch

MODES = ("line", "color", "overlay", "side", "review", "unpainted")
MODE_LABELS = {"line": QT_TRANSLATE_NOOP("viewer", "Line art"),
               "color": QT_TRANSLATE_NOOP("viewer", "Colour result"),
               "overlay": QT_TRANSLATE_NOOP("viewer", "Overlay"),
               "side": QT_TRANSLATE_NOOP("viewer", "Side by side"),
               "review": QT_TRANSLATE_NOOP("viewer", "Review"),
               "unpainted": QT_TRANSLATE_NOOP("viewer", "Unpainted")}
REVIEW_THRESHOLD = 0.5       # regions whose confidence is below this are highlighted
REVIEW_TINT = np.array([255, 0, 170], np.float32)
SIDE_GAP = 12


def mode_label(mode: str) -> str:
    """The name of a view mode in the interface language."""
    return translate("viewer", MODE_LABELS[mode])


def _pad_label(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)


def _key_picture(doc, k: int | None, h: int, w: int) -> np.ndarray:
    # (Not nested in compose: pyside6-lupdate loses the class of later tr() calls after a def
    # nested in an if block.)
    if k is None:
        return np.full((h, w, 3), 60, np.uint8)
    c = doc.key_color(k)
    return doc.composite(k) if c is not None else _pad_label(doc.line(k))


def compose(doc, frame: int, mode: str) -> tuple[np.ndarray, str, int]:
    """The picture of ``frame`` in ``mode``: (RGB image, note for the status line, x offset of
    the frame inside the picture, for the colour picker)."""
    line = doc.line(frame)
    color = doc.result_color(frame)
    if mode == "line":
        return _pad_label(line), "", 0
    if mode == "color":
        if color is None:
            preview = doc.preview(frame)
            if preview is not None:
                return preview, translate("viewer", "being coloured: a first picture, its paint not decided yet"), 0
            return _pad_label(line), translate("viewer", "not coloured yet: showing the line art"), 0
        return doc.composite(frame), "", 0
    if mode == "overlay":
        # Colour at reduced strength under blue lines: shows colour leaking across lines.
        base = np.full(line.shape + (3,), 255, np.float32)
        if color is not None:
            base = 0.45 * color.astype(np.float32) + 0.55 * base
        ink = (1.0 - line.astype(np.float32) / 255.0)[..., None]
        out = base * (1 - ink) + np.array([20, 60, 200], np.float32) * ink
        return out.astype(np.uint8), "" if color is not None else translate("viewer", "not coloured yet"), 0
    if mode == "review":
        if color is None:
            return _pad_label(line), translate("viewer", "not coloured yet: nothing to review"), 0
        out = doc.composite(frame).astype(np.float32)
        conf = doc.confidence(frame)
        if conf is None:
            return out.astype(np.uint8), translate("viewer", "no confidence map for this frame"), 0
        low = conf < REVIEW_THRESHOLD
        # Stripes make the highlight readable on any paint colour.
        h, w = low.shape
        yy, xx = np.mgrid[0:h, 0:w]
        stripes = ((xx + yy) // 6) % 2 == 0
        tint = low & stripes
        out[tint] = 0.35 * out[tint] + 0.65 * REVIEW_TINT
        out[low & ~stripes] = 0.75 * out[low & ~stripes] + 0.25 * REVIEW_TINT
        share = float(low.mean()) * 100
        return out.astype(np.uint8), translate("viewer", "{share}% of the frame below confidence {threshold}").format(
            share=f"{share:.1f}", threshold=REVIEW_THRESHOLD), 0
    if mode == "unpainted":     # 塗り残し: paper white or ink left inside paint, hatched in cyan
        if color is None:
            return _pad_label(line), translate("viewer", "not coloured yet: nothing to check"), 0
        found = unpainted_in(doc.project, frame, color)
        if found.clean:
            return doc.composite(frame), translate("viewer", "no unpainted pixels"), 0
        return hatch(doc.composite(frame), found.mask), translate(
            "viewer", "{px} unpainted pixel(s) in {spots} spot(s), hatched").format(px=found.pixels,
                                                                                   spots=found.spots), 0
    if mode == "side":
        prev, nxt = doc.neighbours(frame)
        mid = doc.composite(frame) if color is not None else _pad_label(line)
        h, w = line.shape
        gap = np.full((h, SIDE_GAP, 3), 20, np.uint8)
        out = np.concatenate([_key_picture(doc, prev, h, w), gap, mid, gap, _key_picture(doc, nxt, h, w)], axis=1)
        names = [doc.frame_label(k) if k is not None else translate("viewer", "none") for k in (prev, nxt)]
        return out, translate("viewer", "previous key {prev} | this frame | next key {next}").format(
            prev=names[0], next=names[1]), w + SIDE_GAP
    raise ValueError(mode)


#: Views where the fill tool paints (the picture is the frame itself, at offset 0).
FILL_MODES = ("color", "overlay", "review", "unpainted")


class Viewer(QGraphicsView):
    """Zoomable, pannable view of one picture. Tools: ``pan`` (drag), ``pick`` (a click reports
    the pixel: ``picked``) and ``fill`` (a click reports ``filled``, an Alt-click ``picked``)."""

    picked = Signal(int, int)       # x, y in frame pixels
    filled = Signal(int, int)       # x, y in frame pixels
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setAcceptDrops(False)  # folder drops go to the main window
        self._fit_mode = True
        self.tool = "pan"
        self._offset_x = 0
        self._frame_w = 0
        self.placeholder = self.tr("Drop a cut folder here, or File > Open")
        # A box around one region (the next region flagged for review), in frame pixels.
        # Magenta over a white halo: readable on any paint, 3 screen pixels whatever the zoom.
        self._box = QGraphicsRectItem()
        self._halo = QGraphicsRectItem()
        for item, colour, width, z in ((self._halo, QColor(255, 255, 255), 5, 10),
                                       (self._box, QColor(255, 0, 170), 3, 11)):
            pen = QPen(colour, width)
            pen.setCosmetic(True)
            item.setPen(pen)
            item.setZValue(z)
            item.setVisible(False)
            self._scene.addItem(item)

    # ------------------------------------------------------------------ content

    def set_image(self, rgb: np.ndarray | None, offset_x: int = 0, frame_w: int | None = None) -> None:
        """Show ``rgb`` (None clears); keeps the zoom unless the picture size changed or fit is on."""
        old = self._item.pixmap().size()
        if rgb is None:
            self._item.setPixmap(QPixmap())
            self._scene.setSceneRect(QRectF())
            self.viewport().update()
            return
        pm = QPixmap.fromImage(rgb_to_qimage(rgb))
        self._item.setPixmap(pm)
        self._offset_x = offset_x
        self._frame_w = frame_w or pm.width()
        if self._fit_mode or pm.size() != old:
            self.fit()

    def has_image(self) -> bool:
        """True when a picture is shown."""
        return not self._item.pixmap().isNull()

    # ------------------------------------------------------------------ zoom and pan

    def fit(self) -> None:
        """Fit the whole picture in the view."""
        self._fit_mode = True
        self._scene.setSceneRect(QRectF(self._item.pixmap().rect()))
        if self.has_image():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoomChanged.emit(self.zoom())

    def zoom(self) -> float:
        """Current scale (1.0 = one image pixel per screen pixel)."""
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        """Zoom in (>1) or out, limited to 2%..3200%."""
        new = self.zoom() * factor
        if 0.02 <= new <= 32:
            self._fit_mode = False
            self.scale(factor, factor)
            self.zoomChanged.emit(self.zoom())

    def actual_size(self) -> None:
        """100%: one image pixel per screen pixel."""
        self._fit_mode = False
        self._scene.setSceneRect(QRectF(self._item.pixmap().rect()))
        self.resetTransform()
        self.zoomChanged.emit(1.0)

    def wheelEvent(self, event) -> None:
        """Wheel zooms around the cursor."""
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps)
            event.accept()

    def resizeEvent(self, event) -> None:
        """Stay fitted while the window resizes, if fitted."""
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    # ------------------------------------------------------------------ colour picker

    def set_tool(self, tool: str) -> None:
        """``pan`` (drag pans), ``pick`` (clicks pick a colour) or ``fill`` (clicks fill a
        region, Alt-clicks pick its swatch)."""
        self.tool = tool
        drag = QGraphicsView.DragMode.ScrollHandDrag if tool == "pan" else QGraphicsView.DragMode.NoDrag
        self.setDragMode(drag)
        cursor = {"pick": Qt.CursorShape.CrossCursor, "fill": Qt.CursorShape.PointingHandCursor}
        self.viewport().setCursor(cursor.get(tool, Qt.CursorShape.OpenHandCursor))

    def set_pick_mode(self, on: bool) -> None:
        """Clicks pick a colour instead of panning (off: back to panning, unless another tool
        took over meanwhile)."""
        if on or self.tool == "pick":
            self.set_tool("pick" if on else "pan")

    def set_fill_mode(self, on: bool) -> None:
        """Clicks fill regions with the current swatch instead of panning."""
        if on or self.tool == "fill":
            self.set_tool("fill" if on else "pan")

    def mousePressEvent(self, event) -> None:
        """With the pick or fill tool, report the frame pixel under the click."""
        if self.tool != "pan" and event.button() == Qt.MouseButton.LeftButton and self.has_image():
            p: QPointF = self.mapToScene(event.position().toPoint())
            x, y = int(p.x()) - self._offset_x, int(p.y())
            if 0 <= x < self._frame_w and 0 <= y < self._item.pixmap().height():
                alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
                (self.filled if self.tool == "fill" and not alt else self.picked).emit(x, y)
            event.accept()
            return
        super().mousePressEvent(event)

    def show_box(self, box: tuple[int, int, int, int] | None, centre: bool = True) -> None:
        """Outline the box (x0, y0, x1, y1) of the frame (None hides it); with ``centre``, zoom
        on it and centre it (:meth:`zoom_on`)."""
        if box is None:
            self._box.setVisible(False)
            self._halo.setVisible(False)
            return
        x0, y0, x1, y1 = box
        pad = 4
        rect = QRectF(x0 - pad + self._offset_x, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
        for item in (self._halo, self._box):
            item.setRect(rect)
            item.setVisible(True)
        if centre:
            self.zoom_on(rect)

    def zoom_on(self, rect: QRectF) -> None:
        """Zoom so that ``rect`` (scene pixels) fills about half of the view, never below the
        fitted scale nor above 800 %, and centre it (even near the picture's edges)."""
        pm = self._item.pixmap()
        vw, vh = self.viewport().width(), self.viewport().height()
        if pm.isNull() or vw < 2 or vh < 2:
            return
        fitted = min(vw / pm.width(), vh / pm.height())
        wanted = 0.5 * min(vw / max(rect.width(), 1.0), vh / max(rect.height(), 1.0))
        scale = max(fitted, min(wanted, max(8.0, fitted)))
        self._fit_mode = False
        self.resetTransform()
        self.scale(scale, scale)
        # Room around the picture so that a region near its edge can be centred too.
        half_w, half_h = vw / scale / 2, vh / scale / 2
        c = rect.center()
        self._scene.setSceneRect(QRectF(pm.rect()).united(QRectF(c.x() - half_w, c.y() - half_h, 2 * half_w,
                                                                 2 * half_h)))
        self.centerOn(c)
        self.zoomChanged.emit(self.zoom())

    def box_shown(self) -> bool:
        """True while a region is outlined."""
        return self._box.isVisible()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        """Draw the hint text when nothing is shown."""
        if self.has_image():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(140, 144, 150))
        f = QFont(painter.font())
        f.setPointSize(14)
        painter.setFont(f)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        painter.restore()
