"""`opdm-studio gui [CUT]` (the default command): start the desktop application."""
from __future__ import annotations

import argparse
import sys

from opdm_studio.cli_args import Parser, float_in


def make_app(argv: list[str] | None = None, language: str | None = None):
    """The QApplication with the app's name, style, icon and interface language (created once).

    ``language`` ("" = the system's, "en", "ja") overrides the stored setting (the screenshot
    tool); the translators are installed before any window is built.
    """
    from PySide6.QtWidgets import QApplication

    from opdm_studio.app import i18n
    from opdm_studio.app.settings import AppSettings
    from opdm_studio.app.theme import apply_dark_theme, icon
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "opdm-studio", *(argv or [])])
    assert isinstance(app, QApplication)      # (a widgets application, never a core one here)
    app.setApplicationName("OPDM Studio")
    app.setOrganizationName("OPDM Studio")
    apply_dark_theme(app)
    app.setWindowIcon(icon("mdi6.palette", "#409cff"))
    i18n.install(app, AppSettings.load().language if language is None else language)
    return app


def main(argv: list[str]) -> int:
    """Open the main window (on CUT if given; on the bundled sample cut at first start; else on
    the last session's cut)."""
    parser = Parser(prog="opdm-studio gui", description="Open the OPDM Studio window.")
    parser.add_argument("cut", nargs="?", help="a cut folder (line-art drawings) or a project folder")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample cut")
    parser.add_argument("--quit-after", type=float_in(0.0, 1e6, "--quit-after"), default=None, metavar="S",
                        help=argparse.SUPPRESS)  # smoke tests: close the window after S seconds
    parser.add_argument("--bench-ready", action="store_true",
                        help=argparse.SUPPRESS)  # gui bench: print a marker once usable, then quit
    args = parser.parse_args(argv)
    from PySide6.QtCore import QTimer

    from opdm_studio.app.errors_ui import install_excepthook, setup_logging
    from opdm_studio.app.main_window import MainWindow
    from opdm_studio.engine.project_home import sample_cut_path
    setup_logging()
    app = make_app()
    win = MainWindow(open_sample=args.cut is None and not args.sample)
    install_excepthook(lambda: win)
    win.show()
    if args.cut:
        win.open_cut(args.cut)
    elif args.sample:
        sample = sample_cut_path()
        if sample is not None:
            win.open_cut(sample)
    elif win.doc is None:          # not the very first start (that opens the sample): the last cut
        from opdm_studio.app.session import reopen_last_cut
        reopen_last_cut(win, win.settings)
    if args.bench_ready:
        def ready() -> None:
            print("OPDM-READY", flush=True)
            win.close()
        # Runs after the first pass of the event loop: the window is painted and takes input.
        QTimer.singleShot(0, ready)
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), win.close)
    return int(app.exec())
