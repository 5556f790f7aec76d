"""Live painting's job scheduler (Qt-free): the newest change of the canvas always wins.

Each change (a stroke ended, an undo, a layer edit, a setting) arms a short quiet time; once
it has passed, the newest request is built and submitted, unless it is the one already
running or shown. The job it supersedes is cancelled first: a queued job the engine drops at
once, a running one ends at once for its listeners (engine.protocol). Only the events of the
newest job pass `accept`, so a result of an older job never replaces a newer one's. The clock
is the caller's (the window's timer, a test's numbers), and so are the events: the window
reads them on its loop, after `submit` returned.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from app.model.requests import Request
from engine.protocol import TERMINAL_EVENTS, Event, JobFinished, JobHandle

DELAY_S = 0.3  # the quiet time after a change before its job is submitted


class Jobs(Protocol):
    """What the scheduler needs from the engine (engine.worker.Engine has it)."""

    def submit(self, task: str, params: Any) -> JobHandle: ...
    def cancel(self, job_id: int) -> bool: ...


@dataclass(frozen=True)
class LiveJob:
    """A submitted live job: its engine id, its request and that request's key."""

    id: int
    request: Request
    key: str


class LiveScheduler:
    """Debounces changes, submits the newest request and cancels what it supersedes."""

    def __init__(self, jobs: Jobs, delay_s: float = DELAY_S) -> None:
        self.jobs = jobs
        self.delay_s = delay_s
        self.running: LiveJob | None = None  # submitted, its terminal event not yet accepted
        self.shown: LiveJob | None = None  # the job whose result is shown
        self.submitted = 0  # jobs submitted so far
        self._due: float | None = None  # when the newest change's job is due

    def changed(self, now: float) -> None:
        """Something the live picture depends on changed at `now`: (re)start the quiet time."""
        self._due = now + self.delay_s

    def wait_s(self, now: float) -> float | None:
        """Seconds until a job is due (0: now); None when no change waits."""
        return None if self._due is None else max(0.0, self._due - now)

    def run_due(self, now: float, build: Callable[[], Request]) -> LiveJob | None:
        """When the quiet time has passed, build the newest request and submit it, cancelling
        the job it supersedes; the new job, or None (not due, or nothing new to make). An
        error of `build` (e.g. a RequestError) cancels the running job and propagates."""
        if self._due is None or now < self._due:
            return None
        self._due = None
        try:
            request = build()
        except Exception:
            self.stop()
            raise
        key = request_key(request)
        if self.running is not None and key == self.running.key:
            return None
        self.stop()
        if self.shown is not None and key == self.shown.key:  # back to it (an undo, say)
            return None
        handle = self.jobs.submit(request.task_id, request.params)
        self.running = LiveJob(handle.id, request, key)
        self.submitted += 1
        return self.running

    def accept(self, event: Event) -> LiveJob | None:
        """The newest job when `event` is one of its events (to show); None for any other
        job's event, a superseded live job's included."""
        job = self.running
        if job is None or event.job_id != job.id:
            return None
        if isinstance(event, TERMINAL_EVENTS):
            self.running = None
            if isinstance(event, JobFinished):
                self.shown = job
        return job

    def stop(self) -> None:
        """Cancel the running job, if any (a queued one is dropped at once)."""
        job, self.running = self.running, None
        if job is not None:
            self.jobs.cancel(job.id)

    def reset(self) -> None:
        """Forget everything: the running job is cancelled and no change waits."""
        self.stop()
        self._due, self.shown = None, None


def request_key(request: Request) -> str:
    """A digest of what a request would make: its task and every params value, pictures
    included by their bytes."""
    digest = hashlib.blake2b(request.task_id.encode(), digest_size=16)
    _feed(digest, request.params)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"{value.shape}{value.dtype}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(type(value).__name__.encode())
        for f in dataclasses.fields(value):
            digest.update(f.name.encode())
            _feed(digest, getattr(value, f.name))
    elif isinstance(value, tuple | list):
        digest.update(f"[{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())
