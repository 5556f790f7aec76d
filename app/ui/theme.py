"""The dark theme: a Fusion palette plus a short stylesheet for the studio's own widgets."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

WINDOW = "#1f2125"
BASE = "#16181b"
PANEL = "#26292e"
TEXT = "#e6e6e6"
MUTED = "#9aa0a6"
ACCENT = "#4c8dff"
ERROR = "#ff6b6b"
SELECTED_ROW = "#35507f"  # a selected row: calm enough for the frame on its thumbnail to show
SELECTION_FRAME = ACCENT  # around a selected thumbnail (app.ui.thumb_icons), never a tint

_ROLES = {
    QPalette.ColorRole.Window: WINDOW,
    QPalette.ColorRole.WindowText: TEXT,
    QPalette.ColorRole.Base: BASE,
    QPalette.ColorRole.AlternateBase: PANEL,
    QPalette.ColorRole.ToolTipBase: PANEL,
    QPalette.ColorRole.ToolTipText: TEXT,
    QPalette.ColorRole.PlaceholderText: "#6f757c",
    QPalette.ColorRole.Text: TEXT,
    QPalette.ColorRole.Button: PANEL,
    QPalette.ColorRole.ButtonText: TEXT,
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: ACCENT,
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: ACCENT,
}

STYLESHEET = f"""
QToolTip {{ color: {TEXT}; background: {PANEL}; border: 1px solid #3a3e44; }}
QDockWidget::title {{ background: {PANEL}; padding: 4px 8px; }}
QPushButton {{ padding: 5px 12px; border: 1px solid #3a3e44; border-radius: 4px;
    background: {PANEL}; }}
QPushButton:hover {{ border-color: #5a5f66; }}
QPushButton:disabled {{ color: #61666d; }}
QPushButton#primary {{ background: {ACCENT}; border-color: {ACCENT}; color: white;
    font-weight: bold; }}
QPushButton#primary:disabled {{ background: #2b3442; border-color: #3a4456; color: #7c8696; }}
QPushButton:checked {{ background: #35507f; border-color: {ACCENT}; }}
QProgressBar {{ border: 1px solid #3a3e44; border-radius: 3px; text-align: center;
    background: {BASE}; min-height: 16px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#title {{ font-size: 18px; font-weight: bold; }}
QFrame#messageBar {{ border-radius: 4px; padding: 2px; }}
QFrame#messageBar[kind="info"] {{ background: #23364f; border: 1px solid #35507f; }}
QFrame#messageBar[kind="error"] {{ background: #4a2024; border: 1px solid #7a3036; }}
QFrame#messageBar[kind="warning"] {{ background: #463a1c; border: 1px solid #7a6330; }}
QListWidget#results {{ background: {BASE}; border: none; }}
QListWidget#results::item:selected {{ background: transparent; }}
"""


def dark_palette() -> QPalette:
    """The studio palette: dark surfaces so images read true."""
    palette = QPalette()
    for role, color in _ROLES.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#61666d"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(MUTED))
    return palette


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style, the dark palette and the stylesheet."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(STYLESHEET)
