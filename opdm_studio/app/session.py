"""What carries from one session to the next, and between the window and the file manager:
the last cut reopened at start, the export folder remembered per cut, folder drops taken as a
copy or a link (never a move), and a folder opened in the file manager with a word when that
fails.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox, QWidget

from opdm_studio.app.i18n import translate
from opdm_studio.app.settings import AppSettings, qsettings

log = logging.getLogger("opdm_studio.app")


def accept_folder_drop(event: QDragEnterEvent | QDropEvent) -> str | None:
    """Accept a dragged or dropped local folder as a Copy (a Link where the source offers no
    copy), never as a Move: a file manager that honours Move would remove the cut it dragged.
    Returns the folder (None, and the event ignored, for anything else)."""
    urls = event.mimeData().urls()
    path = urls[0].toLocalFile() if urls and urls[0].isLocalFile() else ""
    offered = event.possibleActions()
    action = (Qt.DropAction.CopyAction if offered & Qt.DropAction.CopyAction else
              Qt.DropAction.LinkAction if offered & Qt.DropAction.LinkAction else None)
    if not path or not Path(path).is_dir() or action is None:
        event.ignore()
        return None
    event.setDropAction(action)
    event.accept()
    return path


def reopen_last_cut(win: Any, settings: AppSettings) -> bool:
    """At start: open the cut of the last session (the first of the recent cuts). A cut that
    is no longer there is said in the status bar, not in a dialog. True when one was opened.
    (``win`` is the main window, which imports this module.)"""
    if not settings.recent:
        return False
    last = Path(settings.recent[0])
    if not last.is_dir():
        win.status(translate("session", "The last cut, {folder}, is no longer there: open a cut "
                                        "(Ctrl+O) or drop its folder here.").format(folder=last))
        return False
    return bool(win.open_cut(last))


def _export_key(project_root: Path) -> str:
    digest = hashlib.sha1(str(Path(project_root).resolve()).encode()).hexdigest()[:12]
    return f"export/folder_{digest}"


def remembered_export_folder(project_root: Path, default: Path) -> Path:
    """The folder this cut was last exported to (``default`` the first time)."""
    value = qsettings().value(_export_key(project_root), "")
    return Path(str(value)) if value else default


def remember_export_folder(project_root: Path, folder: Path) -> None:
    """Remember ``folder`` as this cut's export folder for the next export, in this session
    and the next."""
    s = qsettings()
    s.setValue(_export_key(project_root), str(folder))
    s.sync()


def open_folder(parent: QWidget | None, folder: Path) -> bool:
    """Show ``folder`` in the file manager; when the system cannot, say so (with the path, to
    open it by hand) instead of failing without a word."""
    ok = Path(folder).is_dir() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
    if not ok:
        log.warning("could not open the folder %s in the file manager", folder)
        QMessageBox.warning(parent, translate("session", "Folder not opened"),
                            translate("session", "The files were written, but the folder could not be "
                                                 "opened in the file manager:\n{folder}").format(folder=folder))
    return bool(ok)
