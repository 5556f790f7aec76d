"""The engine: a worker thread that runs queued jobs one at a time, and an inline twin.

`Engine` owns torch on its own thread; `InlineEngine` runs each job in `submit` for the
CLI and tests. A running job that is cancelled ends at once for its listeners (JobCancelled,
then nothing more of it): a step that takes minutes finishes in the background and its
results are dropped, while the next job waits behind it. Both turn every failure into a
terminal event (never an exception). `warm_up` does ahead of the first job what it would
wait for (torch and the device, the safety checkers, the models of the job expected next);
a job submitted meanwhile waits for it and finds them loaded. Around every task both run
the plugins' job hooks, stamp each output's recipe (after the task, before the hooks) and
run the safety and provenance step themselves (engine.safety_step: the prompt check first,
the output checks and marks last, after every hook).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from engine import safety_step
from engine.context import JobContext
from engine.devices import DevicePolicy, choose_device_policy, use_cpu_threads
from engine.model_cache import ModelCache
from engine.model_families import NO_FAMILIES
from engine.model_store import ModelStore
from engine.preview_pace import PREVIEW_INTERVAL_S, PreviewPace
from engine.protocol import (
    TERMINAL_EVENTS,
    Event,
    JobCancelled,
    JobCancelledError,
    JobError,
    JobFailed,
    JobFinished,
    JobHandle,
    JobProgress,
    JobQueued,
    JobStarted,
    next_job_id,
)
from engine.recipes import stamp_recipes
from plugins.api import JobHook, ModelFamily, Task, resolve

log = logging.getLogger("atelier.engine")
Sink = Callable[[Event], None]


@dataclass
class _Job:
    id: int
    task: Task
    params: Any
    future: Future = field(default_factory=Future)
    ctx: JobContext | None = None
    # made with the job, so a cancel that comes before its context exists is not lost
    cancel: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)  # Engine.stop: keep what is made
    ended: bool = False  # its terminal event is out: anything it emits later is dropped
    lock: threading.RLock = field(default_factory=threading.RLock)


@dataclass
class _WarmUp:
    """Work done ahead of the next job (see `EngineBase._warm`); not a job: no events."""

    task: Task | None
    params: Any
    cancel: threading.Event = field(default_factory=threading.Event)


class EngineBase:
    """Task lookup, event fan-out and the run-one-job logic shared by both engines."""

    def __init__(
        self,
        tasks: Mapping[str, Task],
        store: ModelStore | None = None,
        device_overrides: dict[str, Any] | None = None,
        cache_budget_bytes: int | None = None,
        hooks: Sequence[JobHook] = (),
        families: Mapping[str, ModelFamily] = NO_FAMILIES,
        preview_interval_s: float | None = PREVIEW_INTERVAL_S,
    ) -> None:
        """`preview_interval_s`: how often the listeners show a job's previews (None: they
        show none, so none is made or checked; engine.preview_pace)."""
        self.tasks = dict(tasks)
        self.preview_interval_s = preview_interval_s
        self.hooks = tuple(hooks)
        self.store = store or ModelStore()
        cache_kwargs = {} if cache_budget_bytes is None else {"budget_bytes": cache_budget_bytes}
        self.models = ModelCache(self.store, dict(families), **cache_kwargs)
        self._device_overrides = device_overrides
        self._policy: DevicePolicy | None = None
        self._sinks: list[Sink] = []
        self._sinks_lock = threading.Lock()

    @classmethod
    def from_registry(cls, registry: Any, **kwargs: Any) -> Any:
        """An engine for a plugin registry's tasks, running its job hooks and loading its
        model families."""
        return cls(registry.tasks, hooks=registry.hooks, families=registry.families, **kwargs)

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Call `sink(event)` for every event (from the engine thread); returns unsubscribe."""
        with self._sinks_lock:
            self._sinks.append(sink)

        def unsubscribe() -> None:
            with self._sinks_lock:
                if sink in self._sinks:
                    self._sinks.remove(sink)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        with self._sinks_lock:
            sinks = list(self._sinks)
        for sink in sinks:
            try:
                sink(event)
            except Exception:  # a broken listener must not break the engine
                log.exception("event sink failed on %s", type(event).__name__)

    @property
    def known_device_policy(self) -> DevicePolicy | None:
        """The device policy once a job has chosen it (reading it imports no torch)."""
        return self._policy

    def _device_policy(self) -> DevicePolicy:
        if self._policy is None:
            policy = choose_device_policy(self._device_overrides)
            use_cpu_threads(policy)
            self._policy = policy
        return self._policy

    def _task(self, task_id: str) -> Task:
        """A registered task; an unknown task id is a programming error."""
        if task_id not in self.tasks:
            raise KeyError(f"unknown task {task_id!r}; registered: {sorted(self.tasks)}")
        return self.tasks[task_id]

    def _new_job(self, task_id: str, params: Any) -> _Job:
        return _Job(next_job_id(), self._task(task_id), params)

    def _new_warm_up(self, task_id: str | None, params: Any) -> _WarmUp:
        return _WarmUp(self._task(task_id) if task_id else None, params)

    def _warm(self, warm: _WarmUp) -> None:
        """Import torch and choose the device, start the safety step's checkers, then load
        the models a job of `warm.task` with `warm.params` will use (its `prepare`). Stops
        between stages when cancelled. A failure is only logged: the job that needs what
        failed says so in its own words."""
        stages = [("the device", self._device_policy), ("the safety step", safety_step.prepare)]
        if warm.task is not None and warm.task.prepare:
            stages.append((warm.task.title, lambda: self._prepare_task(warm)))
        for name, stage in stages:
            if warm.cancel.is_set():
                return
            try:
                stage()
            except JobCancelledError:
                return
            except Exception:
                log.warning("warming up %s failed", name, exc_info=True)

    def _prepare_task(self, warm: _WarmUp) -> None:
        ctx = JobContext(
            0,
            lambda event: None,  # a warm-up has no listeners
            self.store,
            self.models,
            self._device_policy,
            _cancel=warm.cancel,
            preview_pace=PreviewPace(None),
        )
        resolve(warm.task.prepare)(warm.params, ctx)

    def _run(self, job: _Job) -> None:
        emit = self._preview_filter(job)
        job.ctx = JobContext(
            job.id,
            emit,
            self.store,
            self.models,
            self._device_policy,
            _cancel=job.cancel,
            _stop=job.stop,
            preview_pace=PreviewPace(self.preview_interval_s),
        )
        if self._emit_for(job, JobStarted(job.id)):
            self._finish(job, self._outcome(job))

    def _emit_for(self, job: _Job, event: Event) -> bool:
        """Emit one of `job`'s events unless the job has ended (cancelled while running);
        a terminal event ends it and resolves its future. False if it was dropped."""
        with job.lock:
            if job.ended:
                log.debug("dropped %s of job %s, which has ended", type(event).__name__, job.id)
                return False
            terminal = isinstance(event, TERMINAL_EVENTS)
            job.ended = terminal
            self._emit(event)
            if terminal:  # (a sink that cancels the job ends it inside `_emit`, not here)
                job.future.set_result(event)
            return True

    def _preview_filter(self, job: _Job) -> Sink:
        """An emit that passes each progress preview through the plugins' preview hooks,
        then the safety step's preview check. The job's context sends a preview only when
        one is due (JobContext.progress), so only previews that are shown are checked."""

        def emit(event: Event) -> None:
            if isinstance(event, JobProgress) and event.preview is not None:
                preview = event.preview
                for hook in self.hooks:
                    if hook.preview and preview is not None:
                        preview = resolve(hook.preview)(job.task.id, job.params, preview)
                if preview is not None:
                    preview = safety_step.check_preview(job.task.id, job.params, preview)
                event = dataclasses.replace(event, preview=preview)
            self._emit_for(job, event)

        return emit

    def _outcome(self, job: _Job) -> Event:
        try:
            if job.task.validate is not None:
                job.task.validate(job.params)
            safety_step.check_request(job.task.id, job.params)
            for hook in self.hooks:
                if hook.before:
                    resolve(hook.before)(job.task.id, job.params)
            job.ctx.check_cancelled()
            result = self._run_task(job)
            outputs = stamp_recipes(job.task, job.params, result.outputs, job.ctx.models_used)
            warnings = tuple(result.warnings)
            for hook in self.hooks:
                if hook.after:
                    job.ctx.check_cancelled()
                    outputs, extra = resolve(hook.after)(job.task.id, job.params, outputs, job.ctx)
                    outputs, warnings = tuple(outputs), warnings + tuple(extra)
            job.ctx.check_cancelled()
            outputs, extra = safety_step.check_outputs(job.task.id, job.params, outputs, job.ctx)
            return JobFinished(job.id, outputs, warnings + extra)
        except JobCancelledError:
            return JobCancelled(job.id)
        except JobError as exc:
            return JobFailed(job.id, exc.kind, exc.message)
        except ValueError as exc:
            return JobFailed(job.id, "invalid_input", str(exc))
        except (MemoryError, RuntimeError) as exc:
            if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
                self.models.clear()
                return JobFailed(job.id, "oom", _OOM_MESSAGE)
            return self._internal_failure(job, exc)
        except Exception as exc:
            return self._internal_failure(job, exc)

    def _run_task(self, job: _Job) -> Any:
        """The task's own work: its runner here (an engine of servers sends it there)."""
        return resolve(job.task.runner)(job.params, job.ctx)

    def _internal_failure(self, job: _Job, exc: Exception) -> Event:
        log.error("job %s (%s) failed:\n%s", job.id, job.task.id, traceback.format_exc())
        return JobFailed(job.id, "internal", f"{job.task.title} failed: {exc}")

    def _finish(self, job: _Job, event: Event) -> None:
        assert isinstance(event, TERMINAL_EVENTS)
        self._emit_for(job, event)


_OOM_MESSAGE = (
    "Out of memory. Try a smaller size or batch, or turn on memory saving in settings; "
    "loaded models were unloaded to free memory."
)


class Engine(EngineBase):
    """Runs jobs on one worker thread, in submission order, one at a time."""

    def __init__(self, tasks: Mapping[str, Task], **kwargs: Any) -> None:
        super().__init__(tasks, **kwargs)
        self._queue: list[_Job | _WarmUp] = []
        self._running: _Job | _WarmUp | None = None
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="atelier-engine", daemon=True)
        self._thread.start()

    def submit(self, task: str, params: Any) -> JobHandle:
        job = self._new_job(task, params)
        with self._wake:
            if self._closed:
                raise RuntimeError("the engine is shut down")
            ahead = [*self._queue, *([self._running] if self._running else [])]
            self._queue.append(job)
            self._wake.notify()
        position = sum(isinstance(item, _Job) for item in ahead)
        preparing = any(isinstance(item, _WarmUp) for item in ahead)
        self._emit(JobQueued(job.id, position, preparing))
        return JobHandle(job.id, job.future)

    def warm_up(self, task_id: str | None = None, params: Any = None) -> None:
        """Prepare on the engine thread for a job of `task_id` with `params` (none: only
        torch, the device and the safety checkers), behind what is queued; a warm-up that
        has not begun is replaced by this one. Jobs submitted meanwhile wait for it (they
        are queued with preparing=True) and find its models loaded: nothing loads twice."""
        warm = self._new_warm_up(task_id, params)
        with self._wake:
            if self._closed:
                return
            self._queue = [item for item in self._queue if not isinstance(item, _WarmUp)]
            self._queue.append(warm)
            self._wake.notify()

    def cancel(self, job_id: int) -> bool:
        """Queued: removed at once. Running: JobCancelled at once, and the job is abandoned:
        it stops at the end of its current step, nothing more of it is emitted and its
        results are dropped; the next job starts after that step. False if unknown."""
        with self._wake:
            queued = next((j for j in self._jobs(self._queue) if j.id == job_id), None)
            if queued is not None:
                self._queue.remove(queued)
            running = next((j for j in self._jobs([self._running]) if j.id == job_id), None)
        if queued is not None:
            self._finish(queued, JobCancelled(job_id))
            return True
        if running is not None:
            self._abandon(running)
            return True
        return False

    def stop(self, job_id: int) -> bool:
        """Ask a running job to stop and keep what it has made: a task that can (music)
        finishes at once with that, saying so in a warning; the others run to the end. A
        queued job has made nothing: it is cancelled. False if unknown."""
        with self._wake:
            running = next((j for j in self._jobs([self._running]) if j.id == job_id), None)
        if running is None:
            return self.cancel(job_id)
        running.stop.set()
        return True

    def _abandon(self, item: _Job | _WarmUp) -> None:
        """End a running job for its listeners now; its step stops when it next checks (a
        warm-up stops after its stage under way)."""
        item.cancel.set()
        if isinstance(item, _Job):
            self._finish(item, JobCancelled(item.id))

    @staticmethod
    def _jobs(items: Sequence[_Job | _WarmUp | None]) -> list[_Job]:
        return [item for item in items if isinstance(item, _Job)]

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed and not self._queue:
                    break
                self._running = self._queue.pop(0)
            try:
                if isinstance(self._running, _WarmUp):
                    self._warm(self._running)
                else:
                    self._run(self._running)
            finally:
                with self._wake:
                    self._running = None
        self.models.clear()  # here, so no model is dropped under a job still running

    def shutdown(self, wait: bool = True, timeout: float | None = 30.0) -> None:
        """Cancel everything queued and running (each job ends with JobCancelled at once; a
        warm-up stops after its stage under way), then wait up to `timeout` for the thread
        to end its current step. The thread is a daemon: a step still running after that
        does not keep the process alive."""
        with self._wake:
            self._closed = True
            pending, self._queue = self._queue, []
            running = self._running
            self._wake.notify_all()
        for job in self._jobs(pending):
            self._finish(job, JobCancelled(job.id))
        if running is not None:
            self._abandon(running)
        if wait:
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        """A job or warm-up is queued or running (a cancelled one included, until its step
        ends)."""
        with self._wake:
            return self._running is not None or bool(self._queue)


class InlineEngine(EngineBase):
    """The same contract, run synchronously inside `submit` (CLI, tests)."""

    def submit(self, task: str, params: Any) -> JobHandle:
        job = self._new_job(task, params)
        self._emit(JobQueued(job.id, 0))
        self._run(job)
        return JobHandle(job.id, job.future)

    def warm_up(self, task_id: str | None = None, params: Any = None) -> None:
        """Prepare for a job now, inside this call (see Engine.warm_up)."""
        self._warm(self._new_warm_up(task_id, params))

    def cancel(self, job_id: int) -> bool:
        return False  # nothing is ever queued; a sink may raise JobCancelledError instead

    def stop(self, job_id: int) -> bool:
        return False  # the job has ended by the time anyone could ask

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        self.models.clear()
