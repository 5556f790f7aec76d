"""An engine whose jobs run on ComfyUI servers, with the protocol of engine.worker.Engine.

Each job gets a thread. Its local steps (validation, the prompt check, the plugins' hooks,
and last the safety and provenance step that checks and watermarks every picture) are the
engine's own (engine.worker.EngineBase), run one job at a time; only the task's work goes
to the servers. A batch is split into pictures (seeds counted up from the first, as
locally), and each picture goes to the least busy server that can run it (busy = its
queue, other clients' prompts included; at most PER_SERVER of ours on one server). A
server that cannot run the job (a node or a model it lacks) is passed over before anything
is sent to it; a server that drops out mid-picture has the picture sent to another.
Finished jobs are announced in the order they were submitted; a cancel or a failure at
once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.model_store import ModelStore
from engine.protocol import (
    Event,
    ImageData,
    JobCancelled,
    JobCancelledError,
    JobError,
    JobFinished,
    JobHandle,
    JobQueued,
    TaskResult,
    VideoData,
)
from engine.recipes import RESOLVED
from engine.worker import EngineBase
from plugins.api import Task
from plugins.comfyui.client import (
    ComfyUIClient,
    GraphRefused,
    ServerUnreachable,
    running_and_pending,
)
from plugins.comfyui.graphs import LOCALLY, Plan, Unsupported, plan
from plugins.comfyui.model_copies import CopyFinder
from plugins.comfyui.remote_job import Cancelled, ServerFailed, ServerLost, Watch, make_picture
from plugins.comfyui.server_info import ServerInfo, info
from plugins.comfyui.servers import ServerConfig, server_for
from plugins.video.clips import finished_clip

log = logging.getLogger(__name__)
INFO_TTL_S = 60.0  # a server's nodes and models are read again after this long
DOWN_S = 15.0  # a server that did not answer is not asked again for this long
# our pictures on one server at once: one running and the next waiting in its queue, so
# the server does not idle while a finished picture comes back and the next goes up
PER_SERVER = 2


@dataclass
class _Server:
    """One server as the engine schedules it."""

    client: ComfyUIClient
    store: ModelStore  # the local models, whose copies the server may hold under other names
    ours: int = 0  # our pictures on it now (up to PER_SERVER)
    info: ServerInfo | None = None
    info_time: float = 0.0
    down_until: float = 0.0

    @property
    def label(self) -> str:
        return self.client.server.label

    def server_info(self) -> ServerInfo:
        if self.info is None or time.monotonic() - self.info_time > INFO_TTL_S:
            read = info(self.client)
            finder = CopyFinder(self.client, read.models, self.store)
            self.info, self.info_time = replace(read, find_copy=finder.find), time.monotonic()
        return self.info


@dataclass
class _Picture:
    """One picture of a job: its seed, and what each server said about it."""

    index: int
    seed: int
    fraction: float = 0.0
    refused: dict[str, str] = field(default_factory=dict)  # server label -> why not


class ServerEngine(EngineBase):
    """Runs each job on the servers; the engine protocol of engine.worker.Engine."""

    def __init__(
        self, tasks: Mapping[str, Task], servers: Sequence[ServerConfig], **kwargs: Any
    ) -> None:
        super().__init__(tasks, **kwargs)
        if not servers:
            raise ValueError("No server is configured: add one in Settings > Servers.")
        self.servers = [_Server(ComfyUIClient(server), self.store) for server in servers]
        self._local = threading.Lock()  # the engine's own steps: one job at a time
        self._slots = threading.Condition()
        self._order_lock = threading.Lock()
        self._order: list[Any] = []  # jobs not yet announced, in submission order
        self._held: dict[int, Event] = {}  # finished jobs waiting for earlier ones
        self._closed = False
        self._threads: list[threading.Thread] = []

    # ---- the engine protocol

    def submit(self, task: str, params: Any) -> JobHandle:
        job = self._new_job(task, params)
        with self._order_lock:
            if self._closed:
                raise RuntimeError("the engine is shut down")
            position = len(self._order)
            self._order.append(job)
        self._emit(JobQueued(job.id, position, False))
        thread = threading.Thread(target=self._job_thread, args=(job,), daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return JobHandle(job.id, job.future)

    def cancel(self, job_id: int) -> bool:
        """JobCancelled at once; the server's copy is deleted or interrupted meanwhile."""
        job = self._job(job_id)
        if job is None:
            return False
        job.cancel.set()
        self._finish(job, JobCancelled(job.id))
        with self._slots:
            self._slots.notify_all()
        return True

    def stop(self, job_id: int) -> bool:
        """A server's picture cannot be kept half made: the same as cancel."""
        return self.cancel(job_id)

    def warm_up(self, task_id: str | None = None, params: Any = None) -> None:
        """Start the safety step's checkers (what every result passes here)."""
        warm = self._new_warm_up(None, None)
        threading.Thread(target=self._locally, args=(self._warm, warm), daemon=True).start()

    def shutdown(self, wait: bool = True, timeout: float | None = 30.0) -> None:
        """Cancel every job; with `wait`, give their threads up to `timeout` to take their
        prompts off the servers (the threads are daemons: none keeps the process alive)."""
        with self._order_lock:
            self._closed = True
            jobs = list(self._order)
        for job in jobs:
            self.cancel(job.id)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads if wait else ():
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def busy(self) -> bool:
        with self._order_lock:
            return bool(self._order)

    # ---- running a job

    def _job(self, job_id: int) -> Any:
        with self._order_lock:
            return next((job for job in self._order if job.id == job_id), None)

    def _locally(self, work: Any, item: Any) -> None:
        with self._local:
            work(item)

    def _job_thread(self, job: Any) -> None:
        self._locally(self._run, job)

    def _run_task(self, job: Any) -> Any:
        """The job's pictures from the servers, in order (the engine's lock is let go
        while they are made, so other jobs' local steps go on)."""
        first = job.params.seed if job.params.seed >= 0 else random.randrange(2**32)
        count = max(1, int(getattr(job.params, "batch_count", 1)))
        pictures = [_Picture(i, (first + i) % 2**32) for i in range(count)]
        made: list[ImageData | VideoData | None] = [None] * count
        errors: list[BaseException] = []
        self._local.release()
        try:
            threads = [
                threading.Thread(
                    target=self._make, args=(job, picture, pictures, made, errors), daemon=True
                )
                for picture in pictures
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            self._local.acquire()
        failures = [e for e in errors if not isinstance(e, JobCancelledError)]
        if failures:
            raise failures[0]
        job.ctx.check_cancelled()
        return TaskResult(tuple(made))

    def _make(
        self,
        job: Any,
        picture: _Picture,
        pictures: list[_Picture],
        made: list[ImageData | VideoData | None],
        errors: list[BaseException],
    ) -> None:
        try:
            made[picture.index] = self._picture(job, picture, pictures)
        except BaseException as exc:  # handed to the job's thread, which raises it
            errors.append(exc)
            job.cancel.set()  # the other pictures of a failed job are not needed

    def _picture(
        self, job: Any, picture: _Picture, pictures: list[_Picture]
    ) -> ImageData | VideoData:
        """One picture: on the least busy server that can make it, again elsewhere when
        that server drops out."""
        params = replace(job.params, seed=picture.seed)
        if hasattr(params, "batch_count"):
            params = replace(params, batch_count=1)
        while True:
            server, made_plan = self._take_server(job, picture, params)
            try:
                pixels = make_picture(server.client, made_plan, _watch(job, picture, pictures))
            except ServerLost as exc:
                log.warning("%s dropped out: %s; the picture goes elsewhere", server.label, exc)
                server.down_until = time.monotonic() + DOWN_S
                picture.fraction = 0.0
                continue
            except GraphRefused as exc:
                server.info = None  # its models may have changed: read them again
                picture.refused[server.label] = f"{server.label} refused the job: {exc}"
                continue
            except Cancelled:
                raise JobCancelledError() from None
            except ServerFailed as exc:
                raise JobError("internal", str(exc)) from None
            finally:
                self._give_back(server)
            return self._output(job, pixels, made_plan, picture, server)

    def _output(
        self, job: Any, pixels: np.ndarray, made_plan: Plan, picture: _Picture, server: _Server
    ) -> ImageData | VideoData:
        """The job's output of the server's pixels (a clip's frames are post-processed here
        as the local task does), its recipe naming the server."""
        resolved = {
            "seed": picture.seed,
            "width": made_plan.width,
            "height": made_plan.height,
            "model": made_plan.checkpoint,
            "server": server.client.url,
        }
        if made_plan.fps:
            frames = np.ascontiguousarray(pixels[..., :3])
            return finished_clip(job.ctx, frames, made_plan.fps, job.params, resolved)
        h, w = pixels.shape[:2]
        resolved.update(width=w, height=h, batch_count=1)
        return ImageData(pixels, {**made_plan.meta, RESOLVED: resolved})

    def _take_server(self, job: Any, picture: _Picture, params: Any) -> tuple[_Server, Plan]:
        """Wait for a server that can make the picture and has room for it: the least busy
        one (its queue; the first listed of equals). JobError when none can."""
        with self._slots:
            while True:
                job.ctx.check_cancelled()
                chosen = self._least_busy(job, picture, params)
                if chosen is not None:
                    chosen[0].ours += 1
                    return chosen
                if all(s.label in picture.refused for s in self.servers):
                    raise JobError("missing_model", _refusals(picture))
                self._slots.wait(0.5)

    def _least_busy(self, job: Any, picture: _Picture, params: Any) -> tuple[_Server, Plan] | None:
        candidates = []
        now = time.monotonic()
        for order, server in enumerate(self.servers):
            full = server.ours >= PER_SERVER
            if full or server.label in picture.refused or server.down_until > now:
                continue
            try:
                made_plan = plan(
                    job.task.id, params, picture.seed, server.server_info(), server.label
                )
                # its queue, and ours on it (those just handed out are not queued yet)
                load = sum(map(len, running_and_pending(server.client.queue()))) + server.ours
            except Unsupported as exc:
                picture.refused[server.label] = str(exc)
                continue
            except ServerUnreachable as exc:
                log.info("%s", exc)
                server.down_until = now + DOWN_S
                continue
            candidates.append((load, order, server, made_plan))
        if not candidates:
            self._fail_when_all_down(picture)
            return None
        _, _, server, made_plan = min(candidates, key=lambda c: (c[0], c[1]))
        return server, made_plan

    def _fail_when_all_down(self, picture: _Picture) -> None:
        now = time.monotonic()
        usable = [s for s in self.servers if s.label not in picture.refused]
        if usable and all(s.down_until > now and not s.ours for s in usable):
            names = ", ".join(s.label for s in usable)
            raise JobError(
                "internal",
                f"No server answered ({names}): check that they run and are reachable "
                f"in Settings > Servers, or {LOCALLY[0].lower()}{LOCALLY[1:]}",
            )

    def _give_back(self, server: _Server) -> None:
        with self._slots:
            server.ours -= 1
            self._slots.notify_all()

    # ---- results in submission order

    def _finish(self, job: Any, event: Event) -> None:
        """Announce a job's end: a result once every job submitted before it has been
        announced; a cancel or a failure at once (a refusal should not wait for others)."""
        with self._order_lock:
            if job not in self._order:
                return
            self._held[job.id] = event
            if not isinstance(event, JobFinished):
                self._order.remove(job)
                ready = [(job, self._held.pop(job.id))]
            else:
                ready = []
            while self._order and self._order[0].id in self._held:
                head = self._order.pop(0)
                ready.append((head, self._held.pop(head.id)))
        for done, ending in ready:
            self._emit_for(done, ending)


def _watch(job: Any, picture: _Picture, pictures: list[_Picture]) -> Watch:
    """Progress over the job's pictures (made at once on several servers), with the
    server's step previews when one is due; cancelled with the job."""

    def progress(fraction: float | None, preview: np.ndarray | None) -> None:
        if fraction is not None:
            picture.fraction = fraction
        count = len(pictures)
        job.ctx.progress(
            sum(p.fraction for p in pictures) / count,
            f"image {picture.index + 1} of {count}" if count > 1 else "on the server",
            ImageData(preview) if preview is not None and job.ctx.preview_due() else None,
        )

    return Watch(progress, job.cancel.is_set)


def _refusals(picture: _Picture) -> str:
    return " ".join(dict.fromkeys(picture.refused.values()))


def server_engine(
    registry: Any, targets: Sequence[str], preview_interval_s: float | None = None
) -> ServerEngine:
    """The Backend's engine: `registry`'s tasks, hooks and families on the servers at the
    URLs `targets` (with the tokens configured for them)."""
    return ServerEngine.from_registry(
        registry,
        servers=[server_for(url) for url in targets],
        preview_interval_s=preview_interval_s,
    )
