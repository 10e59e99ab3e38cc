"""The dark, Fusion-based look of the app and the icon helper (qtawesome)."""
from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QLabel

ACCENT = QColor(64, 156, 255)
KEY_COLOR = QColor(255, 196, 0)
DONE_COLOR = QColor(80, 200, 120)
FLAG_COLOR = QColor(255, 110, 64)
LINE_ONLY_COLOR = QColor(120, 124, 130)
OUTDATED_COLOR = QColor(176, 150, 86)   # coloured with other keys or settings: Colorize redoes it
FIX_COLOR = QColor(0, 200, 200)         # a fix made on the frame, or carried to it

STYLESHEET = """
QToolBar { border: none; spacing: 4px; padding: 2px; }
QStatusBar { border-top: 1px solid #2b2d31; }
QDockWidget::title { background: #2b2d31; padding: 4px; }
QListView#timeline { background: #1b1c1f; border: none; }
QGraphicsView#viewer { background: #141517; border: none; }
QLabel#slotTitle { color: #c0c4c9; font-weight: bold; }
QFrame#keySlot { background: #1b1c1f; border: 1px solid #3a3d42; border-radius: 4px; }
QFrame#keySlot[dropHover="true"] { border: 2px solid #409cff; }
QProgressBar { border: 1px solid #3a3d42; border-radius: 3px; text-align: center; height: 14px; }
QProgressBar::chunk { background: #409cff; }
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette, like the compositing tools colourists know."""
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(40, 42, 46), QColor(220, 222, 225)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(50, 52, 56))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    p.setColor(QPalette.ColorRole.Link, ACCENT)
    p.setColor(QPalette.ColorRole.Highlight, ACCENT)
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor(130, 134, 140))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 112, 116))
    app.setPalette(p)
    app.setStyleSheet(STYLESHEET)


def icon(name: str, color: str = "#dcdee1") -> QIcon:
    """A qtawesome icon (e.g. ``"mdi6.palette"``) tinted for the dark theme; empty icon if missing."""
    try:
        import qtawesome as qta
        return qta.icon(name, color=color, color_disabled="#6e7074")
    except Exception:  # an icon font that fails to load must not stop the app
        return QIcon()


def help_label(text: str, name: str) -> QLabel:
    """A wrapping, muted label that explains a page's figures (``name``: its object name, which
    tests and style sheets find it by)."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("color: #6e7074;")
    return label
