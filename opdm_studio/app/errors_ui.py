"""How the app shows errors: user errors as a plain dialog, the unexpected logged and shown."""
from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QMessageBox, QWidget

from opdm_studio import paths
from opdm_studio.app.i18n import translate
from opdm_studio.errors import OPDMError

log = logging.getLogger("opdm_studio.app")
_handler: logging.Handler | None = None


def setup_logging() -> None:
    """Send the app's log to ``paths.log_file()`` (follows OPDM_STUDIO_HOME if it changes)."""
    global _handler
    path = str(paths.log_file())
    if _handler is not None and getattr(_handler, "baseFilename", None) == path:
        return
    root = logging.getLogger("opdm_studio")
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _handler = logging.FileHandler(path, encoding="utf-8")
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(_handler)
    root.setLevel(logging.INFO)


def show_user_error(parent: QWidget | None, message: str, title: str = "OPDM Studio") -> None:
    """A plain warning dialog for a problem the user can fix (no traceback). ``message`` is in the
    interface language where the app wrote it; an engine error's message stays English."""
    QMessageBox.warning(parent, title, message)


def show_unexpected(parent: QWidget | None, summary: str, details: str) -> None:
    """An error dialog for a bug: short text, the traceback is in the log file."""
    QMessageBox.critical(
        parent, translate("errors_ui", "OPDM Studio: unexpected error"),
        translate("errors_ui", "{summary}\n\nThe app keeps running. Details were written to:\n{log}").format(
            summary=summary, log=paths.log_file()))


def show_exception(parent: QWidget | None, exc: BaseException) -> None:
    """Show any exception the right way: OPDMError plainly, others logged with traceback."""
    setup_logging()
    if isinstance(exc, OPDMError):
        log.info("user error: %s", exc)
        show_user_error(parent, str(exc))
    else:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("unexpected error:\n%s", details)
        if _handler is not None:        # (logging set up: the log file has the traceback now)
            _handler.flush()
        show_unexpected(parent, f"{type(exc).__name__}: {exc}", details)


def install_excepthook(parent_getter=lambda: None) -> None:
    """Route uncaught exceptions from Qt slots to the log and a dialog instead of quitting."""
    setup_logging()

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        try:
            show_exception(parent_getter(), exc.with_traceback(tb))
        except Exception:  # never let the hook itself raise: print as a last resort
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook
