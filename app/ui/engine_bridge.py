"""The GUI side of the engine: events hop onto the asyncio (qasync) loop, read with `async for`.

The engine calls its sinks on the engine thread; the bridge's sink only posts each event to
the loop with `loop.call_soon_threadsafe`, so everything else runs on the GUI thread:

    async for event in bridge.run(task_id, params):
        ...  # JobQueued, JobStarted, JobProgress..., then one terminal event

Every event is also emitted as the Qt signal `event_posted`, for widgets that only listen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from engine.protocol import TERMINAL_EVENTS, Event, JobHandle

log = logging.getLogger(__name__)


class EngineLike(Protocol):
    """What the bridge needs from `engine.worker.Engine` (or `InlineEngine`)."""

    def submit(self, task: str, params: Any) -> JobHandle: ...
    def cancel(self, job_id: int) -> bool: ...
    def subscribe(self, sink: Callable[[Event], None]) -> Callable[[], None]: ...


class EngineBridge(QObject):
    """Routes engine events to the job that asked for them, on the GUI thread."""

    event_posted = Signal(object)

    def __init__(
        self,
        engine: EngineLike,
        loop: asyncio.AbstractEventLoop | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self._loop = loop or asyncio.get_event_loop()
        self._queues: dict[int, asyncio.Queue[Event]] = {}
        self._unsubscribe = engine.subscribe(self._post)

    def _post(self, event: Event) -> None:
        """The engine's sink (engine thread): hand the event to the GUI loop, nothing else."""
        try:
            self._loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the loop is closed: the app is quitting
            log.debug("dropped %s after the loop closed", type(event).__name__)

    def _deliver(self, event: Event) -> None:
        queue = self._queues.get(event.job_id)
        if queue is not None:
            queue.put_nowait(event)
        self.event_posted.emit(event)

    def run(self, task: str, params: Any) -> AsyncIterator[Event]:
        """Submit a job now; its events up to and including the terminal one (see `start`)."""
        return self.start(task, params)[1]

    def start(self, task: str, params: Any) -> tuple[int, AsyncIterator[Event]]:
        """Submit a job now: its id, and its events up to and including the terminal one.

        Read them to the end: leaving the loop early (break, an exception, the task being
        cancelled) cancels the job.
        """
        handle = self.engine.submit(task, params)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        # Events are delivered by loop callbacks, which cannot run before this line.
        self._queues[handle.id] = queue
        return handle.id, self._events(handle.id, queue)

    async def _events(self, job_id: int, queue: asyncio.Queue[Event]) -> AsyncIterator[Event]:
        finished = False
        try:
            while not finished:
                event = await queue.get()
                finished = isinstance(event, TERMINAL_EVENTS)
                yield event
        finally:
            del self._queues[job_id]
            if not finished:
                self.engine.cancel(job_id)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job of this bridge, or all of them (queued ones at once)."""
        for active in [job_id] if job_id is not None else list(self._queues):
            self.engine.cancel(active)

    @property
    def active_jobs(self) -> list[int]:
        return list(self._queues)

    def close(self) -> None:
        """Stop listening to the engine."""
        self._unsubscribe()
