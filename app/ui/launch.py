"""Starts the studio: QApplication, the chosen theme, qasync loop, plugins, models, engine, window.

With ATELIER_STARTUP_PROBE=1 in the environment the app prints one line when the window is
first painted and one when the model picker is filled (the first model scan is in; the
line ends with the chosen model), then quits: bench/engine_overhead.py times a launch from
outside with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow
from app.ui.theme import apply_theme, theme_name
from engine.home import load_settings
from engine.model_store import ModelStore
from engine.worker import Engine
from plugins.registry import discover

log = logging.getLogger(__name__)

STARTUP_PROBE = "ATELIER_STARTUP_PROBE"
WINDOW_SHOWN = "atelier startup: window shown"
MODELS_SHOWN = "atelier startup: model picker ready"


def make_app(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(["atelier", *argv])
    app.setApplicationName("Atelier")
    app.setApplicationDisplayName("Atelier")
    app.setDesktopFileName("atelier")
    apply_theme(app, theme_name(load_settings()))
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
    if os.environ.get(STARTUP_PROBE):
        StartupProbe(window)  # the window owns it
    window.show()
    files = [Path(a) for a in argv if not a.startswith("-") and Path(a).is_file()]
    if files:
        window.open_file(files[0])
    try:
        with loop:
            code = loop.run_forever()
    finally:
        window.shutdown_engine()
    if engine.busy:  # a cancelled job's step still runs on the engine's daemon thread
        exit_now(int(code or 0))
    return int(code or 0)


def exit_now(code: int) -> None:
    """End the process without waiting for the engine thread: a torch call in flight would
    hold up the interpreter's exit, then abort it. Everything is saved by now; flush what
    is buffered and go."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class StartupProbe(QObject):
    """Prints WINDOW_SHOWN at the window's first paint and MODELS_SHOWN (and the chosen
    model) when its model picker fills, then closes the window (which quits the app)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pending = {WINDOW_SHOWN, MODELS_SHOWN}
        window.installEventFilter(self)
        window.models_shown.connect(self._models_shown)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Paint and WINDOW_SHOWN in self.pending:
            self._reached(WINDOW_SHOWN)
        return False

    def _models_shown(self) -> None:
        self._reached(MODELS_SHOWN, f": {self.window.prompt_panel.model_name() or 'none'}")

    def _reached(self, milestone: str, detail: str = "") -> None:
        if milestone in self.pending:
            self.pending.discard(milestone)
            print(milestone + detail, flush=True)
            if not self.pending:
                self.window.close()
