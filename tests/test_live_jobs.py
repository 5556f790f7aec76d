"""Live painting's scheduler (app.model.live_jobs) on the real engine thread: rapid changes run
one job, the newest; a change during a running job cancels it and the newer one runs; a
queued live job is dropped before it starts; superseded results never pass."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import pytest

from app.model.candidates import Candidate
from app.model.live_jobs import DELAY_S, LiveScheduler, request_key
from app.model.requests import Request, images
from app.model.tiles import Rect
from engine.context import JobContext
from engine.model_store import ModelStore
from engine.protocol import (
    TERMINAL_EVENTS,
    ImageData,
    JobFinished,
    JobHandle,
    JobStarted,
    TaskResult,
)
from engine.worker import Engine
from plugins.api import Task

RAN: list[int] = []  # the value of every job whose runner was called, in order
GATE = threading.Event()  # a job with `wait` holds its step until this is set


@dataclass(frozen=True)
class PaintParams:
    value: int = 0
    wait: bool = False
    picture: np.ndarray | None = None


def paint(params: PaintParams, ctx: JobContext) -> TaskResult:
    RAN.append(params.value)
    while params.wait and not GATE.wait(0.01):
        ctx.check_cancelled()
    ctx.check_cancelled()
    pixels = np.full((8, 8, 4), params.value, np.uint8)
    return TaskResult((ImageData(pixels, {"value": params.value}),))


PAINT = Task("test.live_paint", 1, "Live paint", PaintParams, "tests.test_live_jobs:paint")


def request(value: int, wait: bool = False, picture: np.ndarray | None = None) -> Request:
    params = PaintParams(value, wait, picture)
    return Request(PAINT, params, Rect(0, 0, 8, 8), images(lambda o: Candidate(o)))


class Events:
    """The engine's events, read on the test's thread after `submit` returned (as the
    window reads them on its loop)."""

    def __init__(self, engine: Engine) -> None:
        self.queue: queue.Queue = queue.Queue()
        engine.subscribe(self.queue.put)

    def pump(self, scheduler: LiveScheduler, until, timeout: float = 20.0) -> list:
        """Feed events to the scheduler until `until(event)`; the events it accepted."""
        accepted = []
        while True:
            event = self.queue.get(timeout=timeout)
            if scheduler.accept(event) is not None:
                accepted.append(event)
            if until(event):
                return accepted


@pytest.fixture
def engine(tmp_path):
    RAN.clear()
    GATE.clear()
    eng = Engine({PAINT.id: PAINT}, store=ModelStore(home=tmp_path), preview_interval_s=None)
    yield eng
    GATE.set()
    eng.shutdown(timeout=5)


def finished_values(events: list) -> list[int]:
    return [e.outputs[0].meta["value"] for e in events if isinstance(e, JobFinished)]


def test_rapid_changes_run_only_the_newest_job(engine):
    events = Events(engine)
    scheduler = LiveScheduler(engine)
    for stroke in range(10):  # 50 ms apart: each restarts the quiet time
        now = stroke * 0.05
        scheduler.changed(now)
        assert scheduler.run_due(now, lambda stroke=stroke: request(stroke)) is None
    last = 9 * 0.05
    assert scheduler.wait_s(last) == pytest.approx(DELAY_S)
    job = scheduler.run_due(last + DELAY_S, lambda: request(9))
    assert job is not None and scheduler.wait_s(last + DELAY_S) is None
    accepted = events.pump(scheduler, lambda e: isinstance(e, TERMINAL_EVENTS))
    assert RAN == [9] and scheduler.submitted == 1
    assert finished_values(accepted) == [9]
    assert scheduler.running is None and scheduler.shown is job


def test_a_change_during_a_running_job_cancels_it_and_the_newer_one_runs(engine):
    events = Events(engine)
    scheduler = LiveScheduler(engine, delay_s=0)
    scheduler.changed(0)
    old = scheduler.run_due(0, lambda: request(1, wait=True))
    events.pump(scheduler, lambda e: isinstance(e, JobStarted) and e.job_id == old.id)
    scheduler.changed(1)
    new = scheduler.run_due(1, lambda: request(2))
    assert new is not None and scheduler.running is new
    GATE.set()  # the old job's step ends; its result is dropped by the engine and by us
    accepted = events.pump(
        scheduler, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == new.id
    )
    assert RAN == [1, 2]
    assert finished_values(accepted) == [2]
    assert all(e.job_id == new.id for e in accepted)


def test_a_queued_live_job_is_dropped_before_it_starts(engine):
    events = Events(engine)
    ahead = engine.submit(PAINT.id, PaintParams(100, wait=True))  # a Generate holding the engine
    scheduler = LiveScheduler(engine, delay_s=0)
    scheduler.changed(0)
    first = scheduler.run_due(0, lambda: request(1))
    scheduler.changed(1)
    newest = scheduler.run_due(1, lambda: request(2))
    GATE.set()
    accepted = events.pump(
        scheduler, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == newest.id
    )
    assert ahead.future.result(timeout=10).job_id == ahead.id
    assert first.id != newest.id and 1 not in RAN
    assert RAN == [100, 2] and finished_values(accepted) == [2]


class FakeJobs:
    """Records what is submitted and cancelled; runs nothing."""

    def __init__(self) -> None:
        self.submitted: list[int] = []  # the params' values
        self.cancelled: list[int] = []  # job ids

    def submit(self, task: str, params: PaintParams) -> JobHandle:
        self.submitted.append(params.value)
        return JobHandle(len(self.submitted), Future())

    def cancel(self, job_id: int) -> bool:
        self.cancelled.append(job_id)
        return True


def test_results_of_superseded_jobs_never_pass():
    jobs = FakeJobs()
    scheduler = LiveScheduler(jobs, delay_s=0)
    scheduler.changed(0)
    old = scheduler.run_due(0, lambda: request(1))
    scheduler.changed(1)
    new = scheduler.run_due(1, lambda: request(2))
    assert jobs.cancelled == [old.id]
    late = JobFinished(old.id, (ImageData(np.zeros((8, 8, 4), np.uint8), {}),), ())
    assert scheduler.accept(late) is None  # posted before the cancel reached the engine
    assert scheduler.accept(JobFinished(new.id, (), ())) is new
    assert scheduler.accept(JobFinished(new.id, (), ())) is None  # it has ended


def test_the_same_request_again_is_not_run_twice_and_undo_to_the_shown_one_stops():
    jobs = FakeJobs()
    scheduler = LiveScheduler(jobs, delay_s=0)
    picture = np.zeros((4, 4, 4), np.uint8)
    scheduler.changed(0)
    shown = scheduler.run_due(0, lambda: request(1, picture=picture))
    scheduler.changed(1)  # e.g. a layer renamed: the request is the same
    assert scheduler.run_due(1, lambda: request(1, picture=picture.copy())) is None
    scheduler.accept(JobFinished(shown.id, (), ()))
    scheduler.changed(2)  # a stroke
    stroke = picture.copy()
    stroke[0, 0] = 255
    newer = scheduler.run_due(2, lambda: request(2, picture=stroke))
    assert newer is not None
    scheduler.changed(3)  # undone: back to the shown picture; the stroke's job stops
    assert scheduler.run_due(3, lambda: request(1, picture=picture)) is None
    assert scheduler.running is None
    assert jobs.submitted == [1, 2] and jobs.cancelled == [newer.id]


def test_request_keys_follow_pictures_and_settings():
    picture = np.zeros((4, 4, 4), np.uint8)
    changed = picture.copy()
    changed[1, 2, 0] = 1
    assert request_key(request(1, picture=picture)) == request_key(request(1, picture=picture))
    assert request_key(request(1, picture=picture)) != request_key(request(1, picture=changed))
    assert request_key(request(1)) != request_key(request(2))


def test_a_request_that_cannot_be_built_cancels_the_running_job():
    def empty_canvas() -> Request:
        raise ValueError("The canvas is empty")

    jobs = FakeJobs()
    scheduler = LiveScheduler(jobs, delay_s=0)
    scheduler.changed(0)
    running = scheduler.run_due(0, lambda: request(1))
    scheduler.changed(1)
    with pytest.raises(ValueError, match="empty"):
        scheduler.run_due(1, empty_canvas)
    assert jobs.cancelled == [running.id] and scheduler.running is None
