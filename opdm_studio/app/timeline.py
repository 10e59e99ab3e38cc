"""The timeline strip: a list model of the cut's frames, lazy thumbnails, and the strip view.

Thumbnails are decoded and scaled on a thread pool (QImage is safe off the GUI thread; QPixmap is
not), cached per frame, and requested only when the view paints a frame, so a 500-frame cut opens
instantly and scrolls smoothly.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from opdm_studio.app.theme import DONE_COLOR, FIX_COLOR, FLAG_COLOR, KEY_COLOR, LINE_ONLY_COLOR, OUTDATED_COLOR

# Extra data roles of FrameListModel.
KeyRole = Qt.ItemDataRole.UserRole + 1
ColouredRole = Qt.ItemDataRole.UserRole + 2
FlaggedRole = Qt.ItemDataRole.UserRole + 3
NumberRole = Qt.ItemDataRole.UserRole + 4
OutdatedRole = Qt.ItemDataRole.UserRole + 5
FixRole = Qt.ItemDataRole.UserRole + 6      # (fixes made here, frames fixes were carried from, in the last fill's reach)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """An owned QImage copy of a uint8 RGB (H, W, 3) or gray (H, W) array."""
    arr = np.ascontiguousarray(rgb)
    if arr.ndim == 2:
        h, w = arr.shape
        return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_Grayscale8).copy()
    h, w, _ = arr.shape
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888).copy()


def scaled_thumb(img: np.ndarray, size: int) -> np.ndarray:
    """Shrink an image so its longer side is ``size`` (area filter keeps thin lines visible)."""
    h, w = img.shape[:2]
    s = size / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


class _Signals(QObject):
    done = Signal(int, int, QImage)   # frame, generation, image
    failed = Signal(int, int)


class _ThumbJob(QRunnable):
    def __init__(self, frame: int, generation: int, size: int,
                 source: Callable[[int], np.ndarray], signals: _Signals) -> None:
        super().__init__()
        self.frame, self.generation, self.size, self.source, self.signals = frame, generation, size, source, signals

    def run(self) -> None:
        try:
            img = self.source(self.frame)
            self.signals.done.emit(self.frame, self.generation, rgb_to_qimage(scaled_thumb(img, self.size)))
        except Exception:  # a broken frame shows as an empty tile; the viewer reports the error
            self.signals.failed.emit(self.frame, self.generation)


class ThumbnailCache(QObject):
    """Makes frame thumbnails on a thread pool and keeps the most recent ones in memory."""

    ready = Signal(int)
    MAX_QUEUED = 120

    def __init__(self, source: Callable[[int], np.ndarray], size: int = 96, capacity: int = 2000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source, self.size, self._capacity = source, size, capacity
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._pending: set[int] = set()
        self._generation: dict[int, int] = {}
        self._seq = 0
        self._pool = QThreadPool(self)
        # One decoder thread: the colouring worker needs the other core.
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)

    def get(self, frame: int) -> QPixmap | None:
        """The cached thumbnail, or None after queueing its creation."""
        pm = self._cache.get(frame)
        if pm is not None:
            self._cache.move_to_end(frame)
            return pm
        if frame not in self._pending:
            if len(self._pending) > self.MAX_QUEUED:
                # Fast scrolling queued tiles that are long off screen: forget them.
                self._pool.clear()
                self._pending.clear()
            self._pending.add(frame)
            self._seq += 1
            # Newest request first: the tiles on screen now come before those scrolled past.
            self._pool.start(_ThumbJob(frame, self._generation.get(frame, 0), self.size,
                                       self._source, self._signals), self._seq)
        return None

    @property
    def cached(self) -> int:
        """Thumbnails made and kept in memory."""
        return len(self._cache)

    @property
    def requested(self) -> int:
        """Thumbnails made or queued: how many frames the timeline had decoded."""
        return len(self._cache) + len(self._pending)

    def invalidate(self, frame: int | None = None) -> None:
        """Forget one frame's thumbnail (or all): the next get() makes it again."""
        frames = list(self._cache) + list(self._pending) if frame is None else [frame]
        for f in frames:
            self._cache.pop(f, None)
            self._pending.discard(f)
            self._generation[f] = self._generation.get(f, 0) + 1

    def set_size(self, size: int) -> None:
        """Change the thumbnail size (drops the cache)."""
        self.size = size
        self.invalidate()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for queued thumbnails (tests, shutdown)."""
        return self._pool.waitForDone(msecs)

    def shutdown(self) -> None:
        """Drop queued jobs and wait for the running one."""
        self._pool.clear()
        self._pool.waitForDone(3000)

    def _on_done(self, frame: int, generation: int, image: QImage) -> None:
        if generation != self._generation.get(frame, 0):
            return  # a stale thumbnail of a frame that has changed since
        self._pending.discard(frame)
        self._cache[frame] = QPixmap.fromImage(image)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        self.ready.emit(frame)

    def _on_failed(self, frame: int, generation: int) -> None:
        if generation == self._generation.get(frame, 0):
            self._pending.discard(frame)


class FrameListModel(QAbstractListModel):
    """One row per frame of the open document, with keyframe / coloured / flagged roles."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc = None
        self.thumbs: ThumbnailCache | None = None
        self._thumb_size = 96
        self.reach: set[int] = set()      # frames the last fill painted (shown under the tiles)

    def set_document(self, doc, thumb_size: int = 96) -> None:
        """Show a new document (or None)."""
        self.beginResetModel()
        if self.thumbs is not None:
            self.thumbs.shutdown()
            self.thumbs.deleteLater()
        if self._doc is not None:
            self._doc.signals.frames_changed.disconnect(self._doc_changed)
        self._doc = doc
        self._thumb_size = thumb_size
        self.thumbs = None
        if doc is not None:
            self.thumbs = ThumbnailCache(doc.thumbnail_source, thumb_size, parent=self)
            self.thumbs.ready.connect(self._thumb_ready)
            doc.signals.frames_changed.connect(self._doc_changed)
        self.endResetModel()

    def _doc_changed(self, frames: list[int] | None) -> None:
        """The workspace's pictures of ``frames`` (None: all) changed: repaint them (and remake
        their thumbnails; all of them are remade only where the caller drops them)."""
        if frames is None:
            self.layoutChanged.emit()
            return
        for f in frames:
            self.frame_changed(f)

    def set_reach(self, frames) -> None:
        """Underline the frames the last fill painted (its frame and where it was carried)."""
        old, self.reach = self.reach, set(frames)
        for f in sorted(old ^ self.reach):
            self.frame_changed(f, thumbnail=False)

    def set_thumb_size(self, size: int) -> None:
        """Change the thumbnail size and repaint."""
        self._thumb_size = size
        if self.thumbs is not None:
            self.thumbs.set_size(size)
        self.layoutChanged.emit()

    @property
    def thumb_size(self) -> int:
        """Longer side of a thumbnail in pixels."""
        return self._thumb_size

    def image_size(self) -> QSize:
        """Size of the picture part of a tile: the cut's aspect, longer side ``thumb_size``."""
        s = self._thumb_size
        if self._doc is None:
            return QSize(s, s * 9 // 16)
        w, h = self._doc.size
        return QSize(s, max(16, round(s * h / w))) if w >= h else QSize(max(16, round(s * w / h)), s)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of frames."""
        return 0 if self._doc is None or parent.isValid() else self._doc.n_frames

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        """Frame name, thumbnail and marker flags."""
        if self._doc is None or not index.isValid():
            return None
        i = index.row()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._doc.frame_label(i)
        if role == Qt.ItemDataRole.ToolTipRole:
            tags = [t for t, on in ((self.tr("keyframe"), self._doc.is_key(i)),
                                    (self.tr("coloured"), self._doc.has_result(i)),
                                    (self.tr("out of date: other keys or settings, Colorize redoes it"),
                                     self._doc.is_outdated(i)),
                                    (self.tr("flagged for review"), self._doc.is_flagged(i))) if on]
            own, carried = self._doc.fix_marks(i)
            if own:
                tags.append(self.tr("{n} fix(es) made here").format(n=own))
            if carried:
                tags.append(self.tr("fixes carried from frame(s) {frames}").format(
                    frames=", ".join(self._doc.frame_label(f) for f in carried)))
            tags = tags or [self.tr("line only")]
            return f"{self._doc.frame_name(i)} ({', '.join(tags)})"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.get(i) if self.thumbs is not None else None
        if role == KeyRole:
            return self._doc.is_key(i)
        if role == ColouredRole:
            return self._doc.has_result(i)
        if role == FlaggedRole:
            return self._doc.is_flagged(i)
        if role == OutdatedRole:
            return self._doc.is_outdated(i)
        if role == FixRole:
            own, carried = self._doc.fix_marks(i)
            return own, carried, i in self.reach
        if role == NumberRole:
            return i
        return None

    def frame_changed(self, frame: int, thumbnail: bool = True) -> None:
        """A frame's state changed: repaint it (and remake its thumbnail)."""
        if self._doc is None or not 0 <= frame < self._doc.n_frames:
            return
        if thumbnail and self.thumbs is not None:
            self.thumbs.invalidate(frame)
        idx = self.index(frame)
        self.dataChanged.emit(idx, idx)

    def _thumb_ready(self, frame: int) -> None:
        idx = self.index(frame)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class FrameDelegate(QStyledItemDelegate):
    """Paints a frame tile: thumbnail, number, and its markers."""

    def __init__(self, model: FrameListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        """Tile size follows the thumbnail size."""
        img = self._model.image_size()
        return QSize(img.width() + 8, img.height() + 26)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        """Draw the tile."""
        painter.save()
        try:
            self._paint(painter, option, index)
        finally:
            painter.restore()

    def _paint(self, painter: QPainter, option: QStyleOptionViewItem,
               index: QModelIndex | QPersistentModelIndex) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        current = index.row() == getattr(self.parent(), "current_frame", lambda: -1)()
        painter.fillRect(r, QColor(64, 156, 255, 70) if selected else QColor(38, 40, 44))
        img_rect = QRect(r.x() + 2, r.y() + 2, r.width() - 4, self._model.image_size().height())
        painter.fillRect(img_rect, QColor(58, 60, 64))
        pm = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pm, QPixmap) and not pm.isNull():
            sz = pm.size().scaled(img_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, sz.width(), sz.height())
            target.moveCenter(img_rect.center())
            painter.drawPixmap(target, pm)
        # status bar under the thumbnail: key / coloured / line only, flagged triangle
        is_key, coloured, flagged = index.data(KeyRole), index.data(ColouredRole), index.data(FlaggedRole)
        bar = QRect(r.x() + 2, img_rect.bottom() + 2, r.width() - 4, 4)
        outdated = coloured and not is_key and index.data(OutdatedRole)
        painter.fillRect(bar, KEY_COLOR if is_key else OUTDATED_COLOR if outdated
                         else DONE_COLOR if coloured else LINE_ONLY_COLOR)
        painter.setPen(QColor(200, 203, 207))
        f = QFont(painter.font())
        f.setPointSizeF(max(7.0, f.pointSizeF() - 1))
        painter.setFont(f)
        text_rect = QRect(r.x() + 4, bar.bottom() + 1, r.width() - 8, r.bottom() - bar.bottom() - 1)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         str(index.data(Qt.ItemDataRole.DisplayRole)))
        if is_key:  # key diamond, top-left of the thumbnail
            d = QPainterPath()
            cx, cy, h = img_rect.x() + 9, img_rect.y() + 9, 6
            d.moveTo(cx, cy - h); d.lineTo(cx + h, cy); d.lineTo(cx, cy + h); d.lineTo(cx - h, cy); d.closeSubpath()
            painter.fillPath(d, KEY_COLOR)
            painter.strokePath(d, QPen(QColor(40, 30, 0), 1))
        if flagged:  # review triangle, top-right
            t = QPainterPath()
            x, y = img_rect.right() - 16, img_rect.y() + 3
            t.moveTo(x + 6.5, y); t.lineTo(x + 13, y + 11); t.lineTo(x, y + 11); t.closeSubpath()
            painter.fillPath(t, FLAG_COLOR)
        own, carried, in_reach = index.data(FixRole) or (0, [], False)
        if own or carried:  # fix mark, bottom-right: a dot where fixed, a ring where carried to
            c = img_rect.bottomRight() - QPoint(8, 8)
            painter.setPen(QPen(QColor(10, 30, 30), 1))
            painter.setBrush(FIX_COLOR if own else QColor(0, 0, 0, 0))
            if not own:
                painter.setPen(QPen(FIX_COLOR, 2))
            painter.drawEllipse(c, 5, 5)
            painter.setBrush(QColor(0, 0, 0, 0))
        if in_reach:  # the last fill's reach: a line under the tile's bar
            painter.fillRect(QRect(bar.x(), bar.bottom() + 1, bar.width(), 2), FIX_COLOR)
        if current:
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawRect(r.adjusted(1, 1, -1, -1))


class TimelineView(QListView):
    """Horizontal strip of frame tiles; shift-click or drag selects a range."""

    currentFrameChanged = Signal(int)
    colourDropped = Signal(int, str)  # frame, image path dropped on it

    def __init__(self, model: FrameListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setModel(model)
        self.setItemDelegate(FrameDelegate(model, self))
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setUniformItemSizes(True)  # O(1) layout: smooth with long cuts
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self._model = model
        self._fit_height()
        model.layoutChanged.connect(self._fit_height)
        model.modelReset.connect(self._fit_height)

    def _fit_height(self) -> None:
        self.setFixedHeight(self._model.image_size().height() + 26 + 22)

    def current_frame(self) -> int:
        """Row of the current frame, -1 if none."""
        idx = self.currentIndex()
        return idx.row() if idx.isValid() else -1

    def set_current_frame(self, frame: int, select: bool = True) -> None:
        """Make ``frame`` current (and the only selection when ``select``)."""
        n = self._model.rowCount()
        if n == 0:
            return
        frame = max(0, min(n - 1, frame))
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect if select
                 else QItemSelectionModel.SelectionFlag.NoUpdate)
        self.selectionModel().setCurrentIndex(self._model.index(frame), flags)
        self.scrollTo(self._model.index(frame), QAbstractItemView.ScrollHint.PositionAtCenter)

    def select_range(self, first: int, last: int) -> None:
        """Select frames first..last inclusive (current frame becomes ``last``)."""
        sel = QItemSelection(self._model.index(first), self._model.index(last))
        self.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.selectionModel().setCurrentIndex(self._model.index(last), QItemSelectionModel.SelectionFlag.NoUpdate)

    def selected_frames(self) -> list[int]:
        """Sorted rows of the selected frames."""
        return sorted(i.row() for i in self.selectionModel().selectedIndexes())

    def currentChanged(self, current: QModelIndex | QPersistentModelIndex,
                       previous: QModelIndex | QPersistentModelIndex) -> None:
        """Tell the window which frame is current."""
        super().currentChanged(current, previous)
        self.viewport().update()
        if current.isValid():
            self.currentFrameChanged.emit(current.row())

    def wheelEvent(self, event) -> None:
        """A vertical wheel scrolls the strip sideways."""
        if event.angleDelta().y() and not event.angleDelta().x():
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - event.angleDelta().y())
            event.accept()
            return
        super().wheelEvent(event)

    # A coloured image file dropped on a tile gives that frame its key colour.
    def dragEnterEvent(self, event) -> None:
        """Accept image files; anything else (a cut folder) goes on to the main window."""
        if _is_image_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        """Accept over a tile only."""
        idx = self.indexAt(event.position().toPoint())
        if idx.isValid() and _is_image_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        """Emit colourDropped for an image on a tile; folders go to the window."""
        idx = self.indexAt(event.position().toPoint())
        path = _first_local_file(event.mimeData())
        if idx.isValid() and path and _is_image_drop(event.mimeData()):
            event.acceptProposedAction()
            self.colourDropped.emit(idx.row(), path)
        else:
            event.ignore()


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".tga", ".psd")


def _first_local_file(mime) -> str | None:
    for url in mime.urls():
        if url.isLocalFile():
            return url.toLocalFile()
    return None


def _is_image_drop(mime) -> bool:
    p = _first_local_file(mime)
    return p is not None and p.lower().endswith(IMAGE_SUFFIXES)
