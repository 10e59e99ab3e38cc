"""Opening a project whose cut moved: the window asks for the cut's new folder and points the
project at it (the command line's ``colorize NEW_FOLDER --out PROJECT`` / ``export --cut``)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from opdm_studio.app.document import Document
from opdm_studio.app.i18n import translate
from opdm_studio.engine.project import PROJECT_FILENAME, Project
from opdm_studio.engine.project_file import stored_cut_folder


def project_file_of(folder: str | Path) -> Path:
    """The project file a folder (or the file itself) names."""
    path = Path(folder)
    return path / PROJECT_FILENAME if path.is_dir() else path


def moved_cut(folder: str | Path) -> Path | None:
    """Where the cut of the project at ``folder`` was, when it is no longer there (else None)."""
    path = project_file_of(folder)
    if path.name != PROJECT_FILENAME or not path.is_file():
        return None
    stored = stored_cut_folder(path)
    return stored if stored is not None and not stored.exists() else None


def open_document(parent: QWidget, folder: str | Path) -> Document:
    """:meth:`Document.open`, asking first for the cut's new folder when the project's cut is no
    longer where it was (cancelled: opening says what is missing)."""
    was = moved_cut(folder)
    if was is not None:
        new = QFileDialog.getExistingDirectory(
            parent, translate("Relink", "The cut of this project is no longer at {folder}: "
                                        "choose its new folder").format(folder=str(was)),
            str(Path(folder).parent))
        if new:
            return Document(Project.load(project_file_of(folder), cut_dir=new))
    return Document.open(folder)
