"""The engine thread: ordering, cancel (queued and running), failures, shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from engine.model_store import ModelStore
from engine.protocol import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
)
from engine.worker import Engine, InlineEngine
from tests import engine_tasks
from tests.engine_tasks import TASKS, StepParams


class Recorder:
    """Collects events from the engine thread."""

    def __init__(self) -> None:
        self.events: list = []
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, job_id: int) -> list:
        with self.lock:
            return [e for e in self.events if e.job_id == job_id]

    def wait_for(self, predicate, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(predicate(e) for e in self.events):
                    return
            time.sleep(0.005)
        raise AssertionError("event did not arrive")


@pytest.fixture
def engine(tmp_path):
    engine_tasks.RELEASE.clear()
    eng = Engine(TASKS, store=ModelStore(home=tmp_path))
    recorder = Recorder()
    eng.subscribe(recorder)
    eng.recorder = recorder
    yield eng
    engine_tasks.RELEASE.set()
    engine_tasks.UNSTICK.set()
    eng.shutdown()
    engine_tasks.UNSTICK.clear()


def test_jobs_run_in_submission_order_one_at_a_time(engine):
    handles = [engine.submit("test.steps", StepParams(steps=2, value=i)) for i in range(4)]
    results = [h.future.result(10) for h in handles]
    assert [r.outputs[0].meta["value"] for r in results] == [0, 1, 2, 3]
    started = [e.job_id for e in engine.recorder.events if isinstance(e, JobStarted)]
    finished = [e.job_id for e in engine.recorder.events if isinstance(e, JobFinished)]
    assert started == finished == [h.id for h in handles]
    # each job finishes before the next one starts
    kinds = [type(e) for e in engine.recorder.events if isinstance(e, JobStarted | JobFinished)]
    assert kinds == [JobStarted, JobFinished] * 4


def test_events_of_a_job_come_in_protocol_order(engine):
    handle = engine.submit("test.steps", StepParams(steps=3))
    handle.future.result(10)
    events = engine.recorder.of(handle.id)
    assert isinstance(events[0], JobQueued)
    assert isinstance(events[1], JobStarted)
    assert [e.fraction for e in events if isinstance(e, JobProgress)] == pytest.approx(
        [1 / 3, 2 / 3, 1.0]
    )
    assert isinstance(events[-1], JobFinished)


def test_queue_positions_count_the_running_job(engine):
    first = engine.submit("test.steps", StepParams(steps=1, gate=True))
    engine.recorder.wait_for(lambda e: isinstance(e, JobStarted) and e.job_id == first.id)
    second = engine.submit("test.steps", StepParams(steps=1))
    third = engine.submit("test.steps", StepParams(steps=1))
    queued = {e.job_id: e.position for e in engine.recorder.events if isinstance(e, JobQueued)}
    assert queued[second.id] == 1 and queued[third.id] == 2
    engine_tasks.RELEASE.set()
    third.future.result(10)


def test_cancel_queued_job_removes_it_at_once(engine):
    blocker = engine.submit("test.steps", StepParams(steps=1, gate=True))
    queued = engine.submit("test.steps", StepParams(steps=1))
    assert engine.cancel(queued.id)
    assert isinstance(queued.future.result(1), JobCancelled)
    engine_tasks.RELEASE.set()
    assert isinstance(blocker.future.result(10), JobFinished)
    assert not any(isinstance(e, JobStarted) for e in engine.recorder.of(queued.id))


def test_cancel_running_job_stops_within_a_step(engine):
    handle = engine.submit("test.steps", StepParams(steps=100, delay=0.02))
    engine.recorder.wait_for(lambda e: isinstance(e, JobProgress) and e.job_id == handle.id)
    assert engine.cancel(handle.id)
    assert isinstance(handle.future.result(5), JobCancelled)
    steps_done = [e for e in engine.recorder.of(handle.id) if isinstance(e, JobProgress)]
    assert len(steps_done) < 10
    # the engine keeps working after a cancel
    assert isinstance(engine.submit("test.steps", StepParams()).future.result(10), JobFinished)


def test_a_cancelled_long_step_ends_the_job_at_once_and_its_late_result_is_dropped(engine):
    stuck = engine.submit("test.steps", StepParams(steps=2, stuck=True, value=1))
    engine.recorder.wait_for(lambda e: isinstance(e, JobStarted) and e.job_id == stuck.id)
    assert engine.cancel(stuck.id)
    assert isinstance(stuck.future.result(0.5), JobCancelled)  # the step still blocks
    assert engine.busy
    after = engine.submit("test.steps", StepParams(steps=1, value=2))
    queued = [e for e in engine.recorder.of(after.id) if isinstance(e, JobQueued)]
    assert queued[0].position == 1  # behind the abandoned job
    engine_tasks.UNSTICK.set()  # the step ends; the job reports steps and returns a result
    assert after.future.result(10).outputs[0].meta["value"] == 2
    events = engine.recorder.of(stuck.id)
    assert [type(e) for e in events] == [JobQueued, JobStarted, JobCancelled]
    assert isinstance(stuck.future.result(), JobCancelled)


def test_shutdown_does_not_wait_past_its_timeout_for_a_long_step(tmp_path):
    eng = Engine(TASKS, store=ModelStore(home=tmp_path))
    stuck = eng.submit("test.steps", StepParams(steps=1, stuck=True))
    time.sleep(0.05)
    began = time.monotonic()
    try:
        eng.shutdown(timeout=0.3)
        assert time.monotonic() - began < 2
        assert isinstance(stuck.future.result(0), JobCancelled)
        assert eng._thread.is_alive() and eng._thread.daemon  # it cannot keep the app up
    finally:
        engine_tasks.UNSTICK.set()
        eng._thread.join(10)
        engine_tasks.UNSTICK.clear()
    assert not eng._thread.is_alive()


class PausedEngine(Engine):
    """Holds each job after the worker took it and before its context exists."""

    taken = threading.Event()
    go_on = threading.Event()

    def _run(self, job) -> None:
        self.taken.set()
        self.go_on.wait(10)
        super()._run(job)


def test_a_cancel_that_comes_before_the_job_has_started_is_not_lost(tmp_path):
    engine = PausedEngine(TASKS, store=ModelStore(home=tmp_path))
    try:
        handle = engine.submit("test.steps", StepParams(steps=5))
        assert PausedEngine.taken.wait(10)
        assert engine.cancel(handle.id)
        PausedEngine.go_on.set()
        assert isinstance(handle.future.result(10), JobCancelled)
    finally:
        engine.shutdown()


def test_cancel_unknown_job_is_false(engine):
    assert engine.cancel(999_999) is False


@pytest.mark.parametrize(
    ("fail", "kind", "words"),
    [
        ("invalid", "invalid_input", "bad parameter"),
        ("missing", "missing_model", "no such model"),
        ("crash", "internal", "Test steps failed"),
        ("oom", "oom", "Out of memory"),
    ],
)
def test_failures_become_events_and_the_engine_goes_on(engine, fail, kind, words):
    event = engine.submit("test.steps", StepParams(steps=1, fail=fail)).future.result(10)
    assert isinstance(event, JobFailed)
    assert event.kind == kind and words in event.message
    assert isinstance(engine.submit("test.steps", StepParams()).future.result(10), JobFinished)


def test_unknown_task_is_refused_at_submit(engine):
    with pytest.raises(KeyError, match="unknown task"):
        engine.submit("no.such.task", StepParams())


def test_shutdown_with_a_job_running_cancels_it_and_the_queue(tmp_path):
    engine_tasks.RELEASE.clear()
    eng = Engine(TASKS, store=ModelStore(home=tmp_path))
    running = eng.submit("test.steps", StepParams(steps=1, gate=True))
    queued = eng.submit("test.steps", StepParams(steps=1))
    time.sleep(0.05)
    eng.shutdown(timeout=5)
    assert isinstance(running.future.result(1), JobCancelled)
    assert isinstance(queued.future.result(1), JobCancelled)
    assert not eng._thread.is_alive()
    with pytest.raises(RuntimeError, match="shut down"):
        eng.submit("test.steps", StepParams())


def test_a_broken_sink_does_not_break_the_engine(engine):
    def broken(event):
        raise RuntimeError("listener bug")

    engine.subscribe(broken)
    assert isinstance(engine.submit("test.steps", StepParams()).future.result(10), JobFinished)


def test_unsubscribe_stops_delivery(engine):
    seen = []
    unsubscribe = engine.subscribe(seen.append)
    engine.submit("test.steps", StepParams(steps=1)).future.result(10)
    count = len(seen)
    unsubscribe()
    engine.submit("test.steps", StepParams(steps=1)).future.result(10)
    assert count > 0 and len(seen) == count


def test_inline_engine_has_the_same_contract(tmp_path):
    eng = InlineEngine(TASKS, store=ModelStore(home=tmp_path))
    seen = []
    eng.subscribe(seen.append)
    handle = eng.submit("test.steps", StepParams(steps=2, value=7))
    assert handle.future.done()
    event = handle.future.result()
    assert isinstance(event, JobFinished) and event.outputs[0].meta["value"] == 7
    assert [type(e) for e in seen] == [JobQueued, JobStarted, JobProgress, JobProgress, JobFinished]
    failed = eng.submit("test.steps", StepParams(fail="missing")).future.result()
    assert isinstance(failed, JobFailed) and failed.kind == "missing_model"
