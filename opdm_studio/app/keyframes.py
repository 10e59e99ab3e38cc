"""Keyframe panel (previous / next reference slots) and the undoable keyframe edits."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap, QUndoCommand
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from opdm_studio.app.i18n import translate
from opdm_studio.app.theme import icon
from opdm_studio.app.timeline import IMAGE_SUFFIXES, rgb_to_qimage, scaled_thumb
from opdm_studio.errors import ProjectError


class KeyEditCommand(QUndoCommand):
    """Undoable change of one frame's keyframe state (mark, unmark, promote, colour assignment).

    The edit is done *before* the command is pushed (see :func:`apply_key_edit`), so a refused
    edit raises to the caller with nothing on the stack; the command holds the frame's key and
    result before and after, so undo brings back a promoted result or a replaced colour exactly.
    """

    kind = "keyframe"          # what the save prompt calls it (app.unsaved)

    def __init__(self, doc, frame: int, text: str, before, after,
                 on_change: Callable[[int], None]) -> None:
        super().__init__(text)
        self._doc, self._frame, self._on_change = doc, frame, on_change
        self._before, self._after = before, after

    def redo(self) -> None:
        """Put the edited state in place (a no-op change on the first push)."""
        self._doc.restore_key_state(self._frame, self._after)
        self._on_change(self._frame)

    def undo(self) -> None:
        """Restore the frame as it was."""
        self._doc.restore_key_state(self._frame, self._before)
        self._on_change(self._frame)


def apply_key_edit(stack, doc, frame: int, text: str, edit: Callable[[], None],
                   on_change: Callable[[int], None]) -> KeyEditCommand:
    """Run ``edit`` on ``doc`` and record it on the undo ``stack``.

    ``edit`` raises (an OPDMError the caller shows) before changing anything, in which case no
    command is pushed.
    """
    before = doc.key_state(frame)
    edit()
    cmd = KeyEditCommand(doc, frame, text, before, doc.key_state(frame), on_change)
    stack.push(cmd)
    return cmd


class KeyframeEditor:
    """The undoable keyframe edits of the open cut: mark / unmark, colour from an image, promote.

    Each edit is done at once and recorded on ``undo``; a refused edit raises an OPDMError (the
    window shows it) and records nothing. ``on_change(frame)`` runs after each edit, undo and redo.
    """

    def __init__(self, undo, on_change: Callable[[int], None]) -> None:
        self.undo = undo
        self.on_change = on_change

    def toggle(self, doc, frame: int) -> str:
        """Mark ``frame`` as a keyframe, or unmark it; returns what was done, in words."""
        label = doc.frame_label(frame)
        if doc.is_key(frame):
            text, edit = translate("KeyframeEditor", "Unmark keyframe {frame}").format(frame=label), doc.unmark_key
        elif not doc.can_be_key(frame):
            raise ProjectError(translate("KeyframeEditor", "Frame {name} has no colour yet: drop a coloured "
                                                           "image on it (or colour it first) to make it a "
                                                           "keyframe.").format(name=doc.frame_name(frame)))
        else:
            text, edit = translate("KeyframeEditor", "Mark keyframe {frame}").format(frame=label), doc.mark_key
        return apply_key_edit(self.undo, doc, frame, text, lambda: edit(frame), self.on_change).text()

    def assign_colour(self, doc, frame: int, image_path: str) -> str:
        """Make ``frame`` a keyframe coloured by an image file; returns what was done."""
        text = translate("KeyframeEditor", "Colour keyframe {frame} from {file}").format(
            frame=doc.frame_label(frame), file=Path(image_path).name)
        return apply_key_edit(self.undo, doc, frame, text,
                              lambda: doc.set_key_image(frame, image_path), self.on_change).text()

    def promote(self, doc, frame: int) -> range:
        """Make the coloured ``frame`` a keyframe; returns the frames to colour again (those
        between its neighbouring keys, or the cut's ends)."""
        if doc.is_key(frame) or not doc.has_result(frame):
            raise ProjectError(translate("KeyframeEditor", "Only a coloured frame that is not yet a keyframe "
                                                           "can be promoted."))
        prev, nxt = doc.neighbours(frame)
        text = translate("KeyframeEditor", "Promote frame {frame}").format(frame=doc.frame_label(frame))
        apply_key_edit(self.undo, doc, frame, text,
                       lambda: doc.mark_key(frame), self.on_change)
        first = prev if prev is not None else 0
        last = nxt if nxt is not None else doc.n_frames - 1
        return range(first, last + 1)


class KeySlot(QFrame):
    """Shows one reference keyframe; accepts a dropped colour image for it."""

    imageDropped = Signal(int, str)  # key frame index, image path
    clicked = Signal(int)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keySlot")
        self.setAcceptDrops(True)
        self.frame: int | None = None
        self.title = QLabel(title)
        self.title.setObjectName("slotTitle")
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(QSize(160, 90))
        self.image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._aspect = 9 / 16
        self._shown: tuple | None = None
        self._pm: QPixmap | None = None    # the key image before fitting it to the slot
        self.caption = QLabel("—")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #9aa0a6;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addWidget(self.image, 1)
        lay.addWidget(self.caption)

    def show_key(self, frame: int | None, name: str, rgb: np.ndarray | None, note: str = "") -> None:
        """Display keyframe ``frame`` (None = no keyframe on this side)."""
        shown = (frame, id(rgb), name, note)
        if shown == self._shown:
            return  # same key image as before: skip the rescale (it runs on every frame change)
        self._shown = shown
        self.frame = frame
        if frame is None:
            self.image.setPixmap(QPixmap())
            self.image.setText(self.tr("no keyframe"))
            self.caption.setText(note or self.tr("Mark a painted frame with K"))
            return
        if rgb is not None:
            self._aspect = rgb.shape[0] / rgb.shape[1]
            self._fit_height()
            pm = QPixmap.fromImage(rgb_to_qimage(scaled_thumb(rgb, 480)))
            self.image.setPixmap(pm.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))
            self._pm = pm
        else:
            self.image.setText(self.tr("no colour"))
        self.caption.setText(self.tr("frame {name}").format(name=name) + (f" — {note}" if note else ""))

    def _fit_height(self) -> None:
        self.image.setFixedHeight(max(60, int(self.image.width() * self._aspect)))

    def resizeEvent(self, event) -> None:
        """Keep the picture fitted to the slot."""
        super().resizeEvent(event)
        self._fit_height()
        if self.frame is not None and self._pm is not None:
            self.image.setPixmap(self._pm.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def mouseDoubleClickEvent(self, event) -> None:
        """Double-click jumps to the keyframe."""
        if self.frame is not None:
            self.clicked.emit(self.frame)

    def dragEnterEvent(self, event) -> None:
        """Accept one image file when the slot shows a keyframe."""
        urls = event.mimeData().urls()
        if self.frame is not None and urls and urls[0].isLocalFile() \
                and urls[0].toLocalFile().lower().endswith(IMAGE_SUFFIXES):
            self.setProperty("dropHover", True)
            self.style().polish(self)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        """Clear the hover highlight."""
        self.setProperty("dropHover", False)
        self.style().polish(self)

    def dropEvent(self, event) -> None:
        """Give the slot's keyframe the dropped colour image."""
        self.setProperty("dropHover", False)
        self.style().polish(self)
        urls = event.mimeData().urls()
        if self.frame is not None and urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.imageDropped.emit(self.frame, urls[0].toLocalFile())


class KeyframePanel(QWidget):
    """Previous and next reference of the current frame, and the keyframe actions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("keyframePanel")
        self.header = QLabel(self.tr("No cut open"))
        self.header.setWordWrap(True)
        self.prev_slot = KeySlot(self.tr("Previous keyframe"))
        self.next_slot = KeySlot(self.tr("Next keyframe"))
        self.mark_button = QPushButton(icon("mdi6.key-plus"), self.tr("Mark keyframe (K)"))
        self.promote_button = QPushButton(icon("mdi6.key-star"), self.tr("Promote && re-colour neighbours"))
        self.promote_button.setToolTip(self.tr(
            "Make this coloured (corrected) frame a keyframe and colour the frames between its "
            "neighbouring keyframes again"))
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.prev_slot)
        lay.addWidget(self.next_slot)
        lay.addWidget(self.mark_button)
        lay.addWidget(self.promote_button)
        hint = QLabel(self.tr("Drop a coloured image on a slot or on a timeline frame to give that "
                              "keyframe its colour."))
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9aa0a6;")
        lay.addWidget(hint)
        lay.addStretch(1)

    def show_frame(self, doc, frame: int) -> None:
        """Show which keyframes colour ``frame``."""
        if doc is None or frame < 0:
            self.header.setText(self.tr("No cut open"))
            self.prev_slot.show_key(None, "", None)
            self.next_slot.show_key(None, "", None)
            self.mark_button.setEnabled(False)
            self.promote_button.setEnabled(False)
            return
        is_key = doc.is_key(frame)
        prev, nxt = doc.neighbours(frame)
        if is_key:
            state = self.tr("keyframe")
        elif not doc.has_result(frame):
            state = self.tr("being coloured") if doc.preview(frame) is not None else self.tr("line only")
        elif doc.is_outdated(frame):
            state = self.tr("coloured, out of date (Colorize redoes it)")
        else:
            state = self.tr("coloured")
        self.header.setText(self.tr("<b>Frame {label}</b> ({name}) — {state}").format(
            label=doc.frame_label(frame), name=doc.frame_name(frame), state=state))
        for slot, k in ((self.prev_slot, prev), (self.next_slot, nxt)):
            if k is None:
                slot.show_key(None, "", None)
                continue
            try:
                rgb = doc.key_color(k)
                note = ""
            except Exception as exc:  # a missing colour file: show the problem in the slot
                rgb, note = None, str(exc)
            slot.show_key(k, doc.frame_label(k), rgb, note)
        self.mark_button.setEnabled(True)
        self.mark_button.setText(self.tr("Unmark keyframe (K)") if is_key else self.tr("Mark keyframe (K)"))
        self.mark_button.setIcon(icon("mdi6.key-remove" if is_key else "mdi6.key-plus"))
        self.promote_button.setEnabled(not is_key and doc.has_result(frame))
