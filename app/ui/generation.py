"""One generation at a time: runs a task through the bridge and re-emits its events as signals.

The job is read linearly with `async for` on the qasync loop; widgets (prompt panel, canvas,
results strip, status bar) only connect to the signals, so none of them knows about asyncio.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.ui.engine_bridge import EngineBridge
from engine.protocol import (
    Event,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
)


class Generation(QObject):
    """Starts jobs, tracks the running one and cancels it on request."""

    running_changed = Signal(bool)
    progress = Signal(float, str)  # fraction, stage text
    preview = Signal(object)  # ImageData at latent size
    finished = Signal(object)  # JobFinished
    failed = Signal(str, str)  # kind, message
    cancelled = Signal()

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.params: Any = None  # the params of the running (or last) job
        self._task: asyncio.Task | None = None
        self._active = False
        self._job_id: int | None = None
        self._cancel_requested = False

    @property
    def running(self) -> bool:
        return self._active

    def start(self, params: Any, task_id: str) -> asyncio.Task:
        """Run a job of `task_id` with these params; refuses while one is running."""
        if self.running:
            raise RuntimeError("a generation is already running")
        self.params = params
        self._job_id, self._cancel_requested = None, False
        self._active = True
        self._task = asyncio.ensure_future(self._run(params, task_id))
        self.running_changed.emit(True)
        return self._task

    def cancel(self) -> None:
        """Ask the engine to stop the running job; JobCancelled follows within a step."""
        if not self.running:
            return
        self._cancel_requested = True
        if self._job_id is not None:
            self.bridge.cancel(self._job_id)

    async def _run(self, params: Any, task_id: str) -> None:
        try:
            async for event in self.bridge.run(task_id, params):
                self._on_event(event)
        except Exception as exc:  # e.g. the engine is shut down; never crash the window
            self.failed.emit("internal", f"Could not run the job: {exc}")
        finally:
            self._active = False
            self.running_changed.emit(False)

    def _on_event(self, event: Event) -> None:
        if self._job_id is None:
            self._job_id = event.job_id
            if self._cancel_requested:
                self.bridge.cancel(event.job_id)
        match event:
            case JobQueued(position=position) if position > 0:
                self.progress.emit(0.0, f"queued ({position} ahead)")
            case JobStarted():
                self.progress.emit(0.0, "starting")
            case JobProgress(fraction=fraction, stage=stage, preview=image):
                self.progress.emit(fraction, stage)
                if image is not None:
                    self.preview.emit(image)
            case JobFinished():
                self.finished.emit(event)
            case JobFailed(kind=kind, message=message):
                self.failed.emit(kind, message)
            case JobCancelled():
                self.cancelled.emit()
