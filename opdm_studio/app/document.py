"""The open cut as the GUI's widgets see it: the engine's workspace with a Qt signal.

Everything the window keeps about the open cut (current project, results, fixes, settings
mapping, the pictures it shows) lives in :mod:`opdm_studio.engine.workspace`, without Qt and
tested without it. This adapter only turns the workspace's changes into a signal the widgets
connect to, as napari's Qt layer controls wrap its Qt-free layers.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from opdm_studio.engine.project import Project
from opdm_studio.engine.workspace import Workspace


class WorkspaceSignals(QObject):
    """The workspace's changes as Qt signals."""

    frames_changed = Signal(object)   # list[int]: these frames' pictures changed; None: all of them


class Document(Workspace):
    """The open cut (a :class:`~opdm_studio.engine.workspace.Workspace`) telling its widgets
    which frames changed through ``signals.frames_changed``."""

    def __init__(self, project: Project) -> None:
        super().__init__(project)
        self.signals = WorkspaceSignals()
        self.listen(self.signals.frames_changed.emit)
