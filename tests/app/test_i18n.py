"""The Japanese interface: every text of the app goes through Qt's translation, the Japanese
``.ts`` translates all of them and its ``.qm`` is compiled from it, and switching to Japanese
shows Japanese menus, toolbar tooltips, keyframe panel, wizard pages, Qt's own buttons and the
app's error dialogs."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from opdm_studio.app.i18n import system_language as REAL_SYSTEM_LANGUAGE  # (conftest fixes it to English)

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "opdm_studio" / "app"
TS = ROOT / "resources" / "translations" / "opdm_studio_ja.ts"
QM = TS.with_suffix(".qm")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e]")
#: Command-line tools: what they print stays English, like every command-line message.
COMMAND_LINE = {"screenshot.py", "gui_bench.py"}
#: How the texts are updated (the failure messages say it).
UPDATE = ("pyside6-lupdate opdm_studio/app/*.py -ts resources/translations/opdm_studio_ja.ts -no-obsolete "
          "-locations none -source-language en -target-language ja, translate (Qt Linguist or the .ts), then "
          "pyside6-lrelease resources/translations/opdm_studio_ja.ts")


# ------------------------------------------------------------------------------------------
# the sources and the .ts
# ------------------------------------------------------------------------------------------
def ts_messages(path: Path = TS) -> dict[tuple[str, str], tuple[str, str]]:
    """(context, source) -> (translation type, translation) of every message of a .ts file."""
    out = {}
    for ctx in ET.parse(path).getroot().iter("context"):
        name = ctx.findtext("name") or ""
        for msg in ctx.iter("message"):
            tr = msg.find("translation")
            assert tr is not None
            out[(name, msg.findtext("source") or "")] = (tr.get("type", ""), tr.text or "")
    return out


def app_modules() -> list[Path]:
    return sorted(p for p in APP.glob("*.py") if p.name not in COMMAND_LINE)


def _is_tr(call: ast.Call) -> bool:
    f = call.func
    return isinstance(f, ast.Attribute) and f.attr == "tr" and isinstance(f.value, ast.Name) \
        and f.value.id == "self"


def _is_translate(call: ast.Call) -> bool:
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return name in ("translate", "QT_TRANSLATE_NOOP")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Extractor(ast.NodeVisitor):
    """Every (context, text) the module hands to Qt's translation, read as Python reads it
    (escapes, implicit concatenation), and the calls lupdate cannot read."""

    def __init__(self, rel: str) -> None:
        self.rel, self.classes = rel, []
        self.found: set[tuple[str, str]] = set()
        self.problems: list[str] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:  # noqa: N802
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # noqa: N802
        if node.name != "translate":        # (i18n.translate itself passes its arguments on)
            self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        where = f"{self.rel}:{node.lineno}"
        if _is_tr(node):
            text = _literal(node.args[0]) if node.args else None
            if not self.classes:
                self.problems.append(f"{where}: self.tr outside a class")
            elif text is not None:
                self.found.add((self.classes[-1], text))
            elif not isinstance(node.args[0], (ast.Name, ast.Subscript)):   # a table marked NOOP
                self.problems.append(f"{where}: tr() of a built string (lupdate cannot read it)")
        elif _is_translate(node) and len(node.args) >= 2:
            ctx, text = _literal(node.args[0]), _literal(node.args[1])
            if ctx is None:
                self.problems.append(f"{where}: translate() without a literal context")
            elif text is not None:
                self.found.add((ctx, text))
            elif not isinstance(node.args[1], (ast.Name, ast.Subscript)):
                self.problems.append(f"{where}: translate() of a built string (lupdate cannot read it)")
        self.generic_visit(node)


def source_strings() -> tuple[set[tuple[str, str]], list[str]]:
    found: set[tuple[str, str]] = set()
    problems: list[str] = []
    for path in app_modules():
        ex = _Extractor(str(path.relative_to(ROOT)))
        ex.visit(ast.parse(path.read_text(encoding="utf-8")))
        found |= ex.found
        problems += ex.problems
    return found, problems


def test_translated_texts_are_literals_lupdate_reads():
    _found, problems = source_strings()
    assert not problems, "\n".join(problems)


def test_no_untranslated_string_in_the_ts():
    """Lists the source strings of the .ts without a finished Japanese translation."""
    bad = [f"[{ctx}] {src!r}" for (ctx, src), (kind, text) in ts_messages().items()
           if kind in ("unfinished", "vanished", "obsolete") or not text.strip()]
    assert not bad, f"{len(bad)} untranslated string(s) in {TS.name}:\n" + "\n".join(bad)


def test_every_text_of_the_app_is_in_the_ts():
    """The .ts holds exactly the texts the sources translate, in the contexts Qt looks them up in
    (a class for self.tr, the literal context of translate)."""
    found, _ = source_strings()
    ts = set(ts_messages())
    missing = sorted(found - ts)
    stale = sorted(ts - found)
    assert not missing and not stale, (
        "the .ts is out of date with the sources; run " + UPDATE
        + "".join(f"\n  not in the .ts: [{c}] {s!r}" for c, s in missing)
        + "".join(f"\n  no longer in the sources: [{c}] {s!r}" for c, s in stale))


def _qt_tool(name: str) -> str | None:
    here = Path(sys.executable).parent / f"pyside6-{name}"
    return str(here) if here.exists() else shutil.which(f"pyside6-{name}")


def test_lupdate_finds_nothing_new(tmp_path):
    """pyside6-lupdate itself agrees: run on the sources, it adds nothing to the shipped .ts."""
    lupdate = _qt_tool("lupdate")
    if lupdate is None:
        pytest.skip("pyside6-lupdate is not installed (PySide6-Essentials carries it)")
    ts = tmp_path / TS.name
    shutil.copy(TS, ts)
    out = subprocess.run([lupdate, *map(str, app_modules()), "-ts", str(ts), "-no-obsolete", "-locations",
                          "none", "-source-language", "en", "-target-language", "ja"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ts_messages(ts) == ts_messages(), "lupdate changes the .ts; run " + UPDATE


def test_the_qm_is_compiled_from_the_ts(qapp):
    """The shipped .qm gives every translation of the .ts (run pyside6-lrelease after editing it)."""
    from PySide6.QtCore import QTranslator
    translator = QTranslator()
    assert translator.load(str(QM)), f"{QM} does not load"
    stale = [f"[{ctx}] {src!r}: {translator.translate(ctx, src)!r} != {text!r}"
             for (ctx, src), (_kind, text) in ts_messages().items() if translator.translate(ctx, src) != text]
    assert not stale, "the .qm is older than the .ts; run pyside6-lrelease " + str(TS.relative_to(ROOT)) \
        + "\n" + "\n".join(stale)


def test_translations_keep_placeholders_markup_and_line_breaks():
    def shape(text: str) -> tuple:
        return (sorted(re.findall(r"\{[^{}]*\}", text)), sorted(re.findall(r"%[pn]", text)),
                sorted(re.findall(r"</?\w+>", text)), text.count("\n"), text.count(";;"))
    bad = [f"[{ctx}] {src!r} -> {text!r}" for (ctx, src), (_k, text) in ts_messages().items()
           if shape(src) != shape(text)]
    bad += [f"[{ctx}] {src!r} -> {text!r}: the menu mnemonic is lost" for (ctx, src), (_k, text)
            in ts_messages().items() if re.search(r"&\w", src.replace("&&", "")) and "&" not in text]
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------------------------------
# no user-visible literal escapes translation
# ------------------------------------------------------------------------------------------
#: Calls whose text arguments the user sees: Qt setters and constructors, static dialogs, and
#: the app's own helpers that pass their text on (status line, error dialogs, undo commands).
SINK_METHODS = {
    "setText", "setWindowTitle", "setToolTip", "setStatusTip", "setWhatsThis", "setTitle", "setSubTitle",
    "setPlaceholderText", "setFormat", "setSuffix", "setPrefix", "setItemText", "addMenu", "addRow", "addItem",
    "addButton", "setHorizontalHeaderLabels", "setVerticalHeaderLabels", "setPlainText", "appendPlainText",
    "showMessage", "setLabelText", "setTabText", "drawText", "insertItem", "setButtonText", "setIconText",
    "setSpecialValueText", "setHtml", "createUndoAction", "createRedoAction", "setWindowIconText",
    "warning", "critical", "information", "question", "about", "getExistingDirectory", "getOpenFileName",
    "getSaveFileName", "getText", "getItem", "getInt", "getDouble", "getColor",
    "status", "say", "show_user_error", "show_unexpected", "_act", "_edit", "edit", "_decided"}
#: Which positional arguments of a call are shown (default: all); others are data or a path.
SHOWN_ARGS = {"addItem": (0,), "insertItem": (1,), "getOpenFileName": (1, 3), "getSaveFileName": (1, 3),
              "getExistingDirectory": (1,), "_act": (0, 4), "addButton": (0,), "getText": (1, 2)}
SINK_CLASSES = {
    "QAction", "QLabel", "QPushButton", "QCheckBox", "QRadioButton", "QDockWidget", "QToolBar", "QMenu",
    "QGroupBox", "QListWidgetItem", "QTableWidgetItem", "QTreeWidgetItem", "QMessageBox", "QToolButton",
    "QUndoCommand", "KeySlot", "FixesCommand", "KeyEditCommand", "apply_key_edit"}
#: Words that stay as they are in every language: names, units, key names, metrics.
KEEP = re.compile(r"OPDM Studio|OPDM|Ctrl|Shift|Alt|Esc|Home|End|Return|Enter|RGB|PSNR|SSIM|dB|px|PSD|PNG|DDIM")


def _leaks(node: ast.AST) -> list[str]:
    """English a node puts on screen without translation."""
    def words(text: str) -> bool:
        return bool(re.search(r"[A-Za-z]{2,}", KEEP.sub("", text)))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if words(node.value) else []
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        return [text] if words(text) else []
    if isinstance(node, ast.BinOp):
        return _leaks(node.left) + _leaks(node.right)
    if isinstance(node, ast.IfExp):
        return _leaks(node.body) + _leaks(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [x for e in node.elts for x in _leaks(e)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _leaks(node.func.value)      # "Frame {n}".format(...) is untranslated too
    return []


def test_no_user_visible_literal_escapes_translation():
    """An AST scan of the app's Qt modules: no English literal reaches a widget, a dialog, the
    status line or an error the window shows without tr() / translate(). (The Qt-free modules,
    document.py and network.py, say nothing to the user; the window builds their sentences.)"""
    from opdm_studio import errors
    user_errors = {n for n, c in vars(errors).items() if isinstance(c, type) and issubclass(c, errors.OPDMError)}
    bad = []
    for path in app_modules():
        text = path.read_text(encoding="utf-8")
        if "PySide6" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "log":
                continue                                    # the log file stays English
            if name in SINK_METHODS or name in SINK_CLASSES or name in user_errors:
                shown = SHOWN_ARGS.get(name, range(len(node.args)))
                args = [a for n, a in enumerate(node.args) if n in shown]
                args += [k.value for k in node.keywords if k.arg in ("tip", "title", "label", "caption", "filter")]
                for arg in args:
                    bad += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}({t!r})" for t in _leaks(arg)]
    assert not bad, "user-visible text without tr()/translate():\n" + "\n".join(bad)


# ------------------------------------------------------------------------------------------
# the Japanese interface
# ------------------------------------------------------------------------------------------
def japanese(text: str) -> bool:
    return bool(JAPANESE.search(text))


@pytest.fixture
def ja_window(qtbot, dialogs):
    """The main window of an app started with the language setting 日本語."""
    from opdm_studio.app import i18n
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.app.settings import AppSettings
    s = AppSettings.load()
    s.language = "ja"
    s.save()
    app = make_app()
    assert i18n.current_language() == "ja"
    win = MainWindow(open_sample=False, open_dialogs_on_finish=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.undo.setClean()
    win.close()
    i18n.install(app, "en")


def test_japanese_menus_toolbar_and_keyframe_panel(ja_window, cut_dir):
    win = ja_window
    menus = [a for a in win.menuBar().actions() if a.menu() is not None]
    assert [a.text() for a in menus][:2] == ["ファイル(&F)", "編集(&E)"]
    assert all(japanese(m.text()) for m in menus), [m.text() for m in menus]
    # Every command and view mode (the folders listed in File > Open recent are a submenu's).
    english = [a.text() for m in menus for a in m.menu().actions() if not a.isSeparator() and not japanese(a.text())]
    assert not english, english
    tips = [(a.text(), a.toolTip()) for a in win.acts.toolbar.actions() if not a.isSeparator()]
    assert tips and all(japanese(tip) for _, tip in tips), tips
    labels = [a.iconText() for a in win.acts.toolbar.actions() if not a.isSeparator()]
    assert not [t for t in labels if re.search(r"\(&?[A-Z]\)", t)], labels   # no "(O)" beside the icons
    panel = win.panel
    assert panel.header.text() == "カットが開かれていません"
    assert japanese(panel.prev_slot.title.text()) and japanese(panel.next_slot.title.text())
    assert japanese(panel.mark_button.text()) and japanese(panel.promote_button.toolTip())
    assert win.open_cut(cut_dir)
    win.go_to(3)
    assert "フレーム" in panel.header.text() and japanese(panel.prev_slot.caption.text())
    assert win.status_bar.message.text().startswith("フレーム 4")
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget
    assert sorted(d.windowTitle() for d in win.findChildren(QDockWidget)) == ["キーフレーム", "パレット"]
    assert japanese(win.frames.data(win.frames.index(0), Qt.ItemDataRole.ToolTipRole))


def test_japanese_wizard_pages_and_qt_buttons(ja_window, qtbot):
    from PySide6.QtWidgets import QDialogButtonBox, QWizard

    from opdm_studio.app.finetune_wizard import FineTuneWizard
    wiz = FineTuneWizard()
    qtbot.addWidget(wiz)
    assert japanese(wiz.windowTitle())
    for page_id in wiz.pageIds():
        page = wiz.page(page_id)
        assert japanese(page.title()), page.title()
        assert not page.subTitle() or japanese(page.subTitle()), page.subTitle()
    # Qt's own texts come from qtbase_ja.qm.
    assert japanese(wiz.buttonText(QWizard.WizardButton.NextButton))
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, wiz)
    assert box.button(QDialogButtonBox.StandardButton.Cancel).text() == "キャンセル"


def test_japanese_error_dialogs_and_settings(ja_window, cut_dir, dialogs):
    from opdm_studio.app.errors_ui import show_exception
    from opdm_studio.app.settings import SettingsDialog
    from opdm_studio.app.status_bar import network_text
    from opdm_studio.errors import CutError
    win = ja_window
    assert win.open_cut(cut_dir)
    for k in list(win.doc.keys()):
        win.doc.unmark_key(k)
    win.colorize(range(win.doc.n_frames))
    kind, title, text = dialogs.seen[-1]
    assert kind == "warning" and title == "OPDM Studio" and text.startswith("キーフレームがまだありません")
    show_exception(win, RuntimeError("boom"))                       # a bug: title and wording translated
    kind, title, text = dialogs.seen[-1]
    assert kind == "critical" and japanese(title) and "RuntimeError: boom" in text and japanese(text)
    show_exception(win, CutError("frame 0003.png is empty"))        # an engine message stays English
    assert dialogs.seen[-1][2] == "frame 0003.png is empty"
    dlg = SettingsDialog(win.settings, network_text(win.network), [], win)
    win.settings_dlg = dlg
    assert dlg.windowTitle() == "設定" and japanese(dlg.model_status.text())
    assert [dlg.language_box.itemText(i) for i in range(dlg.language_box.count())] == \
        ["システムの言語", "English", "日本語"]


def test_language_setting_applies_at_the_next_start(window, qtbot):
    """English / 日本語 in the settings dialog: stored through the settings façade, used by the
    next make_app(); the running window stays as it is."""
    from opdm_studio.app import i18n
    from opdm_studio.app.launch import make_app
    from opdm_studio.app.settings import AppSettings, SettingsDialog, qsettings
    from opdm_studio.app.status_bar import network_text
    dlg = SettingsDialog(window.settings, network_text(window.network), [], window)
    qtbot.addWidget(dlg)
    assert dlg.language_box.currentData() == ""                       # the system's language
    dlg.language_box.setCurrentIndex(dlg.language_box.findData("ja"))
    window.apply_settings(dlg.result_settings())
    assert qsettings().value("ui/language") == "ja" and AppSettings.load().language == "ja"
    assert "next" in window.status_bar.message.text() or "again" in window.status_bar.message.text()
    assert window.menuBar().actions()[0].text() == "&File"           # applies on restart
    app = make_app()                                                  # ... the next start
    try:
        assert i18n.current_language() == "ja"
        from PySide6.QtCore import QCoreApplication
        assert QCoreApplication.translate("WindowActions", "&File") == "ファイル(&F)"
    finally:
        i18n.install(app, "en")
    s = AppSettings.load()
    s.language = "klingon"
    s.save()
    assert AppSettings.load().language == ""                          # unknown: follow the system
    assert i18n.resolve("") == "en" and i18n.resolve("ja") == "ja"       # (the tests' system: English)


def test_system_language_follows_the_locale(monkeypatch):
    """"" (the default) follows the system's locale: Japanese there, English for anything else."""
    from PySide6.QtCore import QLocale

    from opdm_studio.app import i18n
    for locale, lang in ((QLocale(QLocale.Language.Japanese, QLocale.Country.Japan), "ja"),
                         (QLocale(QLocale.Language.French, QLocale.Country.France), "en"),
                         (QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom), "en")):
        monkeypatch.setattr(i18n, "QLocale", type("FakeLocale", (), {"system": staticmethod(lambda loc=locale: loc)}))
        assert REAL_SYSTEM_LANGUAGE() == lang, locale.uiLanguages()
