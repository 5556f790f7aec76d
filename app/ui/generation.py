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

PREPARING = "Preparing\N{HORIZONTAL ELLIPSIS}"


class Generation(QObject):
    """Starts jobs, tracks the running one and cancels it on request.

    Cancel frees the panel at once: the job is abandoned (its later events, a result
    included, are ignored) while the engine ends its current step in the background; the
    next job waits behind that step, and its stage text says so.
    """

    running_changed = Signal(bool)
    progress = Signal(float, str)  # fraction, stage text
    preview = Signal(object)  # ImageData at latent size
    finished = Signal(object)  # JobFinished
    failed = Signal(str, str)  # kind, message
    cancelled = Signal()
    job_event = Signal(str, object)  # task id, each event of the current job (for panels)

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.params: Any = None  # the params of the running (or last) job
        self.task_id = ""  # the task of the running (or last) job
        self._task: asyncio.Task | None = None
        self._run_id = 0  # counts runs; a run whose number is not current was abandoned
        self._active = False
        self._job_id: int | None = None
        self._started = False  # the engine has begun the current job
        self._behind_abandoned = False  # the last cancelled job had begun: it may hold on

    @property
    def running(self) -> bool:
        return self._active

    def start(self, params: Any, task_id: str) -> asyncio.Task:
        """Run a job of `task_id` with these params; refuses while one is running."""
        if self.running:
            raise RuntimeError("a generation is already running")
        self.params, self.task_id = params, task_id
        self._run_id += 1
        self._job_id, self._started = None, False
        self._active = True
        self._task = asyncio.ensure_future(self._run(params, task_id, self._run_id))
        self.running_changed.emit(True)
        return self._task

    def cancel(self) -> None:
        """Abandon the running job: the engine is told to stop it, and the panel is free
        now (`cancelled`, then `running_changed(False)`), whatever its step is doing."""
        if not self.running:
            return
        self._run_id += 1  # the run's remaining events are ignored
        self._behind_abandoned = self._started
        if self._job_id is not None:
            self.bridge.cancel(self._job_id)
        self.cancelled.emit()
        self._end()

    def _end(self) -> None:
        self._active = False
        self.running_changed.emit(False)

    async def _run(self, params: Any, task_id: str, run_id: int) -> None:
        try:
            job_id, events = self.bridge.start(task_id, params)
            if run_id == self._run_id:
                self._job_id = job_id
            else:  # cancelled before it was submitted
                self.bridge.cancel(job_id)
            async for event in events:
                if run_id == self._run_id:
                    self._on_event(event)
        except Exception as exc:  # e.g. the engine is shut down; never crash the window
            if run_id == self._run_id:
                self.failed.emit("internal", f"Could not run the job: {exc}")
        finally:
            if run_id == self._run_id:
                self._end()

    def _on_event(self, event: Event) -> None:
        self.job_event.emit(self.task_id, event)
        match event:
            case JobQueued(preparing=True):  # the engine is still warming up (loading)
                self.progress.emit(0.0, PREPARING)
            case JobQueued(position=position) if position > 0:
                self.progress.emit(0.0, self._waiting_text(position))
            case JobStarted():
                self._started, self._behind_abandoned = True, False
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

    def _waiting_text(self, position: int) -> str:
        if self._behind_abandoned:
            return "waiting for the cancelled job to finish its current step"
        return f"queued ({position} ahead)"
