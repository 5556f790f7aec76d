"""Where the window's jobs run: the local engine, or the servers chosen in "Run on".

`EngineRouter` has the engine protocol the window and the bridge use (submit, cancel, stop,
subscribe, warm_up, shutdown, busy). It holds the local engine and, made when first needed,
one engine per chosen set of a backend's targets (`Backend.engine`, e.g. ComfyUI servers).
A job goes to the chosen backend when that backend lists its task, else to the local
engine; job ids are unique across engines, so cancel and stop go to whichever has the job.
Qt-free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from engine.devices import DevicePolicy
from engine.protocol import Event, JobHandle
from plugins.api import Backend, resolve
from plugins.registry import Registry


class EngineRouter:
    """The local engine and the backend engines behind one engine protocol."""

    def __init__(self, registry: Registry, local: Any) -> None:
        self.registry = registry
        self.local = local
        self.backend: Backend | None = None  # None: run on the local engine
        self.targets: tuple[str, ...] = ()
        self._engines: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._retired: list[Any] = []  # engines of an older configuration, still running jobs
        # each subscription: its sink, and how to unsubscribe it from each engine
        self._subscriptions: dict[int, tuple[Callable[[Event], None], list[Callable[[], None]]]]
        self._subscriptions = {}
        self._lock = threading.Lock()

    # -- where jobs go ----------------------------------------------------------------------

    def set_target(self, backend: Backend | None, targets: Sequence[str] = ()) -> None:
        """Run the jobs of `backend`'s tasks on `targets` from now on (None: locally)."""
        self.backend = backend if backend is not None and targets else None
        self.targets = tuple(targets) if self.backend is not None else ()

    @property
    def remote(self) -> bool:
        """Jobs of the chosen backend's tasks run away from this machine."""
        return self.backend is not None

    def runs_remotely(self, task_id: str) -> bool:
        """A job of `task_id` submitted now would go to the chosen backend."""
        return self.backend is not None and task_id in self.backend.tasks

    def engine_for(self, task_id: str) -> Any:
        """The engine a job of `task_id` goes to now (a backend's is made on first use)."""
        if self.backend is None or task_id not in self.backend.tasks:
            return self.local
        key = (self.backend.id, self.targets)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                make = resolve(self.backend.engine)
                engine = make(self.registry, list(self.targets), self.local.preview_interval_s)
                self._engines[key] = engine
                for sink, undos in self._subscriptions.values():
                    undos.append(engine.subscribe(sink))
            return engine

    def renew(self) -> None:
        """The backends' configuration changed (a token, a server's address): the next job
        gets an engine made anew. Idle engines are shut down; busy ones finish their jobs
        (which can still be cancelled) and are shut down with the rest."""
        with self._lock:
            made = [*self._retired, *self._engines.values()]
            self._engines = {}
            self._retired = [engine for engine in made if engine.busy]
        for engine in made:
            if engine not in self._retired:
                engine.shutdown(wait=False)

    def _all(self) -> list[Any]:
        with self._lock:
            return [self.local, *self._engines.values(), *self._retired]

    # -- the engine protocol ----------------------------------------------------------------

    def submit(self, task: str, params: Any) -> JobHandle:
        return self.engine_for(task).submit(task, params)

    def cancel(self, job_id: int) -> bool:
        """Cancel the job on the engine that has it; False if none has."""
        return any(engine.cancel(job_id) for engine in self._all())

    def stop(self, job_id: int) -> bool:
        """Stop the job, keeping what it made, on the engine that has it."""
        return any(engine.stop(job_id) for engine in self._all())

    def subscribe(self, sink: Callable[[Event], None]) -> Callable[[], None]:
        """Events of every engine, the backend engines made later included."""
        with self._lock:
            token = max(self._subscriptions, default=0) + 1
            engines = [self.local, *self._engines.values(), *self._retired]
            undos = [engine.subscribe(sink) for engine in engines]
            self._subscriptions[token] = (sink, undos)

        def unsubscribe() -> None:
            with self._lock:
                _sink, undos = self._subscriptions.pop(token, (sink, []))
            for undo in undos:
                undo()

        return unsubscribe

    def warm_up(self, task_id: str | None = None, params: Any = None) -> None:
        """Prepare the local engine for the job expected next; nothing while jobs run on a
        server (the local engine would load a model no job of it needs)."""
        if not self.remote:
            self.local.warm_up(task_id, params)

    def shutdown(self, wait: bool = True, timeout: float | None = 30.0) -> None:
        """Shut every engine down (each waits up to `timeout` for its step under way)."""
        for engine in self._all():
            engine.shutdown(wait=wait, timeout=timeout)

    @property
    def busy(self) -> bool:
        """Some engine has a job (or warm-up) queued or running."""
        return any(engine.busy for engine in self._all())

    @property
    def known_device_policy(self) -> DevicePolicy | None:
        """The local engine's device, once it has chosen one."""
        return self.local.known_device_policy
