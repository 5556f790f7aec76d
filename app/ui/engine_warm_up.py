"""Warming the engine up once the window is on screen, for the job a Generate would run.

A first Generate otherwise waits for torch, diffusers and transformers to import, the device
to be chosen and the model to load (seconds on a CPU). Right after the window's first paint
the engine is asked to do all that on its own thread (Engine.warm_up: the GUI thread never
imports torch), for the Generate panel's mode and model, and again when either changes. A
Generate clicked meanwhile waits for it and shows "Preparing...", with nothing loaded twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QTimer

from app.model.requests import RequestError, make_params

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class EngineWarmUp(QObject):
    """Asks `window.engine` to warm up after the window's first paint, and whenever the
    Generate panel's mode or model changes after that."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.started = False
        panel = window.prompt_panel
        window.installEventFilter(self)
        window.models_shown.connect(self._panel_changed)
        panel.mode_changed.connect(self._panel_changed)
        panel.model_picker.currentIndexChanged.connect(self._panel_changed)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Paint and not self.started:
            self.started = True
            self.window.removeEventFilter(self)
            QTimer.singleShot(0, self.request)  # once this first paint is done
        return False

    def _panel_changed(self, *_: Any) -> None:
        if self.started:
            self.request()

    def request(self) -> None:
        """Warm the engine up for the job a Generate would run now."""
        self.window.engine.warm_up(*self.expected_job())

    def expected_job(self) -> tuple[str | None, Any]:
        """The task id and params of the job a Generate would run now, as far as they
        matter for loading (no pixels); (None, None) while there is no model to load or the
        form has a value out of range (the engine then warms up torch and the device only)."""
        panel = self.window.prompt_panel
        if self.window.scanning_models or not panel.models or not panel.modes:
            return None, None
        task = panel.tasks[panel.mode]
        if not task.prepare:
            return None, None
        try:
            return task.id, make_params(task, panel.mode_values())
        except (RequestError, TypeError, ValueError):
            return None, None
