"""The interface's language: Qt translators for the app's own texts and for Qt's dialogs.

The choice is stored with the settings (``AppSettings.language``: ``""`` follows the system,
``"en"``, ``"ja"``) and applied once, when the application starts (:func:`install`, called by
``launch.make_app``): a change in the settings dialog applies at the next start. The app's
texts are translated by ``resources/translations/opdm_studio_<lang>.qm`` (compiled from the
``.ts`` beside it with ``pyside6-lrelease``); Qt's own buttons and dialogs by ``qtbase_<lang>.qm``
from the PySide6 install. English is the source language and needs no file.

Every text the app shows goes through ``self.tr(...)`` (QObject subclasses) or
:func:`translate` with a literal context and text, so that ``pyside6-lupdate`` finds it;
texts kept in module tables are marked with ``QT_TRANSLATE_NOOP`` and translated where shown.
Command-line output and the engine's error messages stay English.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger("opdm_studio.app")

#: (code, name in its own language) of the interface languages; the settings' "" follows the system.
LANGUAGES = (("en", "English"), ("ja", "日本語"))
CATALOG = "opdm_studio"          # resources/translations/opdm_studio_<lang>.qm

_installed: list[QTranslator] = []
_current = "en"


def translate(context: str, text: object) -> str:
    """``text`` in the interface language (``context``: the class or module it belongs to).

    ``text`` is a string, often one marked with ``QT_TRANSLATE_NOOP`` (which PySide6's stubs type
    as ``object``)."""
    return QCoreApplication.translate(context, str(text))


def translations_dir() -> Path | None:
    """The folder of the app's translations (``resources/translations``), None if absent."""
    try:
        from opdm_studio.resources import resource_path
        path = Path(str(resource_path("translations")))
    except Exception:
        return None
    return path if path.is_dir() else None


def qt_translations_dir() -> Path:
    """The folder of Qt's own translations in the PySide6 install."""
    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))


def system_language() -> str:
    """The interface language the system's locale asks for: the first supported one, else "en"."""
    codes = [code for code, _ in LANGUAGES]
    for tag in QLocale.system().uiLanguages():
        code = tag.replace("_", "-").split("-")[0].lower()
        if code in codes:
            return code
    return "en"


def resolve(choice: str) -> str:
    """The language a stored choice means ("" or an unknown code: the system's)."""
    return choice if choice in dict(LANGUAGES) else system_language()


def install(app: QCoreApplication, choice: str = "") -> str:
    """Install the translators of ``choice`` on ``app`` (replacing earlier ones); returns the
    language now shown. A missing translation file leaves English, with a line in the log."""
    global _current
    lang = resolve(choice)
    if lang == _current and (_installed or lang == "en"):
        return lang
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    if lang != "en":
        for name, folder in ((f"{CATALOG}_{lang}", translations_dir()), (f"qtbase_{lang}", qt_translations_dir())):
            translator = QTranslator(app)
            if folder is not None and translator.load(name, str(folder)):
                app.installTranslator(translator)
                _installed.append(translator)
            else:
                log.warning("no %s.qm in %s: those texts stay English", name, folder)
    _current = lang
    return lang


def current_language() -> str:
    """The language installed by the last :func:`install` ("en" before any)."""
    return _current
