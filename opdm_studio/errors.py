"""Errors a user can cause. Each carries a message a colourist understands.

The GUI shows ``str(error)`` in a dialog; the CLI prints it on one line and exits non-zero.
Never raise these for programming mistakes: those stay ordinary exceptions with tracebacks.
"""
from __future__ import annotations


class OPDMError(Exception):
    """Base class of every error the user can cause and fix."""


class ImageReadError(OPDMError):
    """An image file cannot be read (missing, empty, truncated, not an image, too large...)."""


class CutError(OPDMError):
    """A cut folder cannot be used (empty, unreadable, mixed frame sizes, ...)."""


class CheckpointError(OPDMError):
    """A model checkpoint is missing, corrupt, of another format or does not fit."""


class ModelNotInstalledError(CheckpointError):
    """No model is installed where one is needed."""


class ExportError(OPDMError):
    """Results cannot be written (read-only folder, full disk, file exists, ...)."""


class ProjectError(OPDMError):
    """A project file is corrupt or does not fit its cut."""


class TrainingDataError(OPDMError):
    """A training data folder holds no usable cuts."""


class Cancelled(OPDMError):
    """The user stopped the work; finished results are kept."""
