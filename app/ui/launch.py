"""Starts the studio: QApplication, dark theme, qasync loop, plugins, models, engine, window."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow
from app.ui.theme import apply_dark_theme
from engine.home import load_settings
from engine.model_store import ModelStore
from engine.worker import Engine
from plugins.registry import discover

log = logging.getLogger(__name__)


def make_app(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(["atelier", *argv])
    app.setApplicationName("Atelier")
    app.setApplicationDisplayName("Atelier")
    app.setDesktopFileName("atelier")
    apply_dark_theme(app)
    return app


def run_gui(argv: list[str]) -> int:
    """Open the window (and the first project or image named in `argv`); returns the exit
    code."""
    app = make_app(argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    registry = discover()
    store = ModelStore()
    engine = Engine.from_registry(
        registry, store=store, device_overrides=load_settings().get("device")
    )
    window = MainWindow(registry, store, engine)
    window.show()
    files = [Path(a) for a in argv if not a.startswith("-") and Path(a).is_file()]
    if files:
        window.open_file(files[0])
    try:
        with loop:
            code = loop.run_forever()
    finally:
        window.shutdown_engine()
    return int(code or 0)
