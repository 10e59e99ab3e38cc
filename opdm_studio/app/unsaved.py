"""What closing the cut would lose: the undo stack's changes since the last save, in words.

The save prompt names them ("2 fills, 1 palette edit") instead of calling everything a keyframe
change. Each undo command says what it changes with a ``kind`` attribute (``"keyframe"``,
``"fill"``, ``"stroke"``, ``"palette"``); a command without one counts as another change.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtGui import QUndoStack

from opdm_studio.app.i18n import translate

#: kind -> (one, several) as the prompt lists them, in this order (QT_TRANSLATE_NOOP: the texts).
KIND_TEXT: dict[str, tuple[Any, Any]] = {"keyframe": (QT_TRANSLATE_NOOP("unsaved", "1 keyframe change"),
                          QT_TRANSLATE_NOOP("unsaved", "{n} keyframe changes")),
             "fill": (QT_TRANSLATE_NOOP("unsaved", "1 fill"), QT_TRANSLATE_NOOP("unsaved", "{n} fills")),
             "stroke": (QT_TRANSLATE_NOOP("unsaved", "1 brush or lasso stroke"),
                        QT_TRANSLATE_NOOP("unsaved", "{n} brush or lasso strokes")),
             "palette": (QT_TRANSLATE_NOOP("unsaved", "1 palette edit"),
                         QT_TRANSLATE_NOOP("unsaved", "{n} palette edits")),
             "other": (QT_TRANSLATE_NOOP("unsaved", "1 other change"),
                       QT_TRANSLATE_NOOP("unsaved", "{n} other changes"))}


def unsaved_counts(stack: QUndoStack) -> dict[str, int]:
    """How many changes of each kind lie between the saved state and the current one (done
    since the save, or undone past it)."""
    clean, index = stack.cleanIndex(), stack.index()
    lo, hi = (0, index) if clean < 0 else (min(clean, index), max(clean, index))
    out: dict[str, int] = {}
    for i in range(lo, hi):
        kind = getattr(stack.command(i), "kind", "other")
        kind = kind if kind in KIND_TEXT else "other"
        out[kind] = out.get(kind, 0) + 1
    return out


def unsaved_question(stack: QUndoStack, cut: str) -> str:
    """The save prompt's question: "Save the changes to {cut} (2 fills, 1 palette edit)?"."""
    counts = unsaved_counts(stack)
    parts = [translate("unsaved", one) if counts[k] == 1 else translate("unsaved", many).format(n=counts[k])
             for k, (one, many) in KIND_TEXT.items() if k in counts]
    if not parts:
        return translate("unsaved", "Save the changes to {cut}?").format(cut=cut)
    return translate("unsaved", "Save the changes to {cut} ({changes})?").format(cut=cut, changes=", ".join(parts))
