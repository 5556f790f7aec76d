"""Plugin panels as dock widgets: each factory is called with the main window as its context."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from plugins.api import Panel, resolve

log = logging.getLogger(__name__)


def build_panel(panel: Panel, window: QMainWindow) -> QDockWidget:
    """A dock holding the widget that `panel.factory(window)` returns."""
    widget = resolve(panel.factory)(window)
    if not isinstance(widget, QWidget):
        raise TypeError(f"{panel.factory} returned {type(widget).__name__}, not a QWidget")
    dock = QDockWidget(panel.title, window)
    dock.setObjectName(f"panel:{panel.id}")
    dock.setWidget(widget)
    return dock


def add_plugin_panels(window: QMainWindow) -> list[str]:
    """Dock every registered panel on the right; returns the problems of those that failed."""
    errors = []
    for panel in window.registry.panels:
        try:
            dock = build_panel(panel, window)
        except Exception as exc:  # a broken plugin panel must not take the window down
            log.warning("panel %s failed: %s", panel.id, exc, exc_info=True)
            errors.append(f"panel {panel.title}: {exc}")
            continue
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        window.plugin_docks[panel.id] = dock
        window.view_menu.addAction(dock.toggleViewAction())
    return errors
