"""Starts the studio: QApplication, the chosen theme, qasync loop, plugins, models, engine, window;
once the window is painted the engine warms up in the background (app.ui.engine_warm_up).

With ATELIER_STARTUP_PROBE=1 in the environment the app prints one line when the window is
first painted and one when the model picker is filled (the first model scan is in; the
line ends with the chosen model), then quits: bench/engine_overhead.py times a launch from
outside with it. With ATELIER_STARTUP_PROBE=generate it also clicks Generate as soon as
both are there and prints a third line when the first picture is on the canvas (the line
ends with what the panel said), then quits: bench/first_image.py times that.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from app.ui.engine_warm_up import EngineWarmUp
from app.ui.main_window import MainWindow
from app.ui.pyside_import_scan import scan_on_gui_thread_only
from app.ui.theme import apply_theme, theme_name
from engine.home import load_settings
from engine.model_store import ModelStore
from engine.worker import Engine
from plugins.registry import discover

log = logging.getLogger(__name__)

STARTUP_PROBE = "ATELIER_STARTUP_PROBE"
WINDOW_SHOWN = "atelier startup: window shown"
MODELS_SHOWN = "atelier startup: model picker ready"
FIRST_PICTURE = "atelier startup: first picture shown"
GENERATE_PROBE = "generate"  # the value of STARTUP_PROBE that also clicks Generate


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
    scan_on_gui_thread_only()  # before the engine thread imports torch
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    registry = discover()
    store = ModelStore()
    engine = Engine.from_registry(
        registry, store=store, device_overrides=load_settings().get("device")
    )
    window = MainWindow(registry, store, engine)
    EngineWarmUp(window)  # the window owns it
    if probe := os.environ.get(STARTUP_PROBE):
        StartupProbe(window, generate=probe == GENERATE_PROBE)  # the window owns it
    window.show()
    files = [Path(a) for a in argv if not a.startswith("-") and Path(a).is_file()]
    if files:
        window.open_file(files[0])
    try:
        with loop:
            code = loop.run_forever()
    finally:
        window.shutdown_engine()
    if window.engine.busy:  # a cancelled job's step still runs on an engine's daemon thread
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
    model) when its model picker fills; with `generate`, then clicks Generate and prints
    FIRST_PICTURE when the canvas first paints its result (or the job's end, if it failed).
    Then it closes the window (which quits the app)."""

    def __init__(self, window: MainWindow, generate: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.generate = generate
        self.pending = {WINDOW_SHOWN, MODELS_SHOWN} | ({FIRST_PICTURE} if generate else set())
        self.picture_due = False
        window.installEventFilter(self)
        window.models_shown.connect(self._models_shown)
        window.generation.finished.connect(self._picture_made)
        window.generation.failed.connect(lambda kind, message: self._job_ended(message))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Paint:
            if watched is self.window and WINDOW_SHOWN in self.pending:
                self._reached(WINDOW_SHOWN)
            elif watched is self.window.canvas.viewport() and self.picture_due:
                self.picture_due = False
                self._job_ended(self.window.prompt_panel.stage.text())
        return False

    def _models_shown(self) -> None:
        self._reached(MODELS_SHOWN, f": {self.window.prompt_panel.model_name() or 'none'}")

    def _picture_made(self) -> None:
        """The result is on the canvas: the probe's line comes with the canvas's next paint."""
        self.picture_due = True
        self.window.canvas.viewport().installEventFilter(self)

    def _job_ended(self, detail: str) -> None:
        self._reached(FIRST_PICTURE, f": {detail}")

    def _reached(self, milestone: str, detail: str = "") -> None:
        if milestone not in self.pending:
            return
        self.pending.discard(milestone)
        print(milestone + detail, flush=True)
        if not self.pending:
            self.window.close()
        elif self.pending == {FIRST_PICTURE}:
            QTimer.singleShot(0, self.window.prompt_panel.generate_button.click)
