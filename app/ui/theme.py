"""The studio's themes: a Fusion palette plus a short stylesheet for the studio's own widgets.

Every theme is dark enough for the light tool icons and for images to read true: "dark"
(the default), "darker" (near black, for a dim room) and "grey" (lighter panels in a
neutral grey, with no blue cast). The choice is kept in settings.json ("theme") and can be
changed while the app runs (Edit > Preferences).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#4c8dff"
ERROR = "#ff6b6b"
SELECTED_ROW = "#35507f"  # a selected row: calm enough for the frame on its thumbnail to show
SELECTION_FRAME = ACCENT  # around a selected thumbnail (app.ui.thumb_icons), never a tint
THEME_SETTING = "theme"
DEFAULT_THEME = "dark"


@dataclass(frozen=True)
class Theme:
    """The colours of one theme."""

    title: str
    window: str
    base: str  # text fields, lists
    panel: str  # buttons, dock titles, tooltips
    border: str
    text: str
    muted: str


THEMES = {
    "dark": Theme("Dark", "#1f2125", "#16181b", "#26292e", "#3a3e44", "#e6e6e6", "#9aa0a6"),
    "darker": Theme("Darker", "#121315", "#0b0c0d", "#1a1c1f", "#2c2f34", "#dcdcdc", "#8c9196"),
    "grey": Theme("Neutral grey", "#3c3c3c", "#2f2f2f", "#474747", "#5a5a5a", "#ededed", "#b4b4b4"),
}


def theme_name(settings: Mapping[str, Any]) -> str:
    """The theme the settings choose; the default for a missing or unknown one."""
    name = settings.get(THEME_SETTING)
    return name if isinstance(name, str) and name in THEMES else DEFAULT_THEME


def stylesheet(theme: Theme) -> str:
    t = theme
    return f"""
QToolTip {{ color: {t.text}; background: {t.panel}; border: 1px solid {t.border}; }}
QDockWidget::title {{ background: {t.panel}; padding: 4px 8px; }}
QPushButton {{ padding: 5px 12px; border: 1px solid {t.border}; border-radius: 4px;
    background: {t.panel}; }}
QPushButton:hover {{ border-color: #5a5f66; }}
QPushButton:disabled {{ color: #61666d; }}
QPushButton#primary {{ background: {ACCENT}; border-color: {ACCENT}; color: white;
    font-weight: bold; }}
QPushButton#primary:disabled {{ background: #2b3442; border-color: #3a4456; color: #7c8696; }}
QPushButton:checked {{ background: {SELECTED_ROW}; border-color: {ACCENT}; }}
QProgressBar {{ border: 1px solid {t.border}; border-radius: 3px; text-align: center;
    background: {t.base}; min-height: 16px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QLabel#muted {{ color: {t.muted}; }}
QLabel#title {{ font-size: 18px; font-weight: bold; }}
QLabel#error {{ color: {ERROR}; }}
QFrame#messageBar {{ border-radius: 4px; padding: 2px; }}
QFrame#messageBar[kind="info"] {{ background: #23364f; border: 1px solid {SELECTED_ROW}; }}
QFrame#messageBar[kind="error"] {{ background: #4a2024; border: 1px solid #7a3036; }}
QFrame#messageBar[kind="warning"] {{ background: #463a1c; border: 1px solid #7a6330; }}
QListWidget#results {{ background: {t.base}; border: none; }}
QListWidget#results::item:selected {{ background: transparent; }}
"""


def palette(theme: Theme) -> QPalette:
    """The theme's palette: dark surfaces so images read true."""
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.panel,
        QPalette.ColorRole.ToolTipBase: theme.panel,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.PlaceholderText: "#6f757c",
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.panel,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT,
    }
    result = QPalette()
    for role, color in roles.items():
        result.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, role, QColor("#61666d"))
    result.setColor(
        QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(theme.muted)
    )
    return result


def apply_theme(app: QApplication, name: str) -> None:
    """Fusion style, the palette and the stylesheet of theme `name` (one of THEMES); open
    windows take it at once."""
    theme = THEMES[name]
    app.setStyle("Fusion")
    app.setPalette(palette(theme))
    app.setStyleSheet(stylesheet(theme))


def apply_dark_theme(app: QApplication) -> None:
    apply_theme(app, DEFAULT_THEME)
