"""Plugin panels as dock widgets: each factory is called with the window's AppContext."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from app.ui.app_context import WindowContext
from plugins.api import Panel, resolve

log = logging.getLogger(__name__)
AREAS = {
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}


def build_panel(panel: Panel, context: WindowContext, window: QMainWindow) -> QDockWidget:
    """A dock of `window` holding the widget that `panel.factory(context)` returns."""
    widget = resolve(panel.factory)(context)
    if not isinstance(widget, QWidget):
        raise TypeError(f"{panel.factory} returned {type(widget).__name__}, not a QWidget")
    dock = QDockWidget(panel.title, window)
    dock.setObjectName(f"panel:{panel.id}")
    dock.setWidget(widget)
    return dock


def add_plugin_panels(window: QMainWindow, context: WindowContext) -> list[str]:
    """Dock every registered panel in its area (right by default); returns the problems
    of those that failed."""
    errors = []
    for panel in window.registry.panels:
        try:
            dock = build_panel(panel, context, window)
        except Exception as exc:  # a broken plugin panel must not take the window down
            log.warning("panel %s failed: %s", panel.id, exc, exc_info=True)
            errors.append(f"panel {panel.title}: {exc}")
            continue
        window.addDockWidget(AREAS[panel.area], dock)
        window.plugin_docks[panel.id] = dock
        window.view_menu.addAction(dock.toggleViewAction())
    return errors
