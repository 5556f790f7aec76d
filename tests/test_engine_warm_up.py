"""The engine warms up before the first job (Engine.warm_up): torch and the device, the safety
checkers and the models of the job expected next. A job submitted meanwhile waits for it,
says so (JobQueued.preparing) and loads nothing twice; cancel and shutdown still work while
it runs; a newer warm-up replaces one not yet begun; a failing one only logs. Choosing the
device gives torch the policy's CPU threads."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from engine import safety_step
from engine.devices import choose_device_policy, default_cpu_threads
from engine.model_store import ModelStore
from engine.protocol import JobCancelled, JobFinished, JobQueued, JobStarted
from engine.worker import Engine, InlineEngine
from plugins.api import Task
from plugins.diffusion import TXT2IMG
from plugins.diffusion.params import Txt2ImgParams
from plugins.registry import Registry
from tests import engine_tasks
from tests.engine_tasks import StepParams
from tests.test_engine import Recorder
from tests.test_gui_main_window import diffusion_registry, make_store

WAIT_S = 60
GATE = threading.Event()  # a gated warm-up stage waits for it, never looking at cancel
PREPARED: list[int] = []  # the `value` of each warm-up's params, in the order prepared


def prepare_steps(params: StepParams, ctx) -> None:
    """The test task's `prepare`: waits at the gate when told to (as a model load that
    cannot be interrupted does), then records itself."""
    if params.gate:
        GATE.wait(WAIT_S)
    if params.fail == "missing":
        raise RuntimeError("the model file is gone")
    PREPARED.append(params.value)


STEPS = Task(
    "test.steps",
    1,
    "Test steps",
    StepParams,
    "tests.engine_tasks:run_steps",
    prepare="tests.test_engine_warm_up:prepare_steps",
)


@pytest.fixture
def engine(tmp_path):
    GATE.clear()
    engine_tasks.RELEASE.clear()
    PREPARED.clear()
    eng = Engine({STEPS.id: STEPS}, store=ModelStore(home=tmp_path))
    eng.recorder = Recorder()
    eng.subscribe(eng.recorder)
    yield eng
    GATE.set()
    engine_tasks.RELEASE.set()
    eng.shutdown(timeout=WAIT_S)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def gated_warm_up(engine: Engine, value: int = 0) -> None:
    """A warm-up that is running and waits at the gate in its task's `prepare`."""
    engine.warm_up(STEPS.id, StepParams(gate=True, value=value))
    wait_until(lambda: engine.busy and engine.known_device_policy is not None, "the warm-up")


# ---- the real model: one load for the warm-up and the job that waited for it


@pytest.fixture
def counted_loads(monkeypatch):
    """The names of the models the engine loads; the first load waits for `release`."""
    import engine.model_cache as model_cache

    loads: list[str] = []
    began, release = threading.Event(), threading.Event()
    original = model_cache.load_model

    def load_model(entry, *args, **kwargs):
        loads.append(entry.name)
        began.set()
        release.wait(WAIT_S)
        return original(entry, *args, **kwargs)

    monkeypatch.setattr(model_cache, "load_model", load_model)
    yield loads, began, release
    release.set()


def test_a_job_during_the_warm_up_waits_for_it_and_the_model_loads_once(
    atelier_home, tiny_config_root, tmp_path, counted_loads
):
    loads, began, release = counted_loads
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    engine = Engine.from_registry(diffusion_registry(), store=store)
    recorder = Recorder()
    engine.subscribe(recorder)
    try:
        engine.warm_up(TXT2IMG.id, Txt2ImgParams(model="tiny-sd15"))  # no prompt yet
        assert began.wait(WAIT_S), "the warm-up did not load the model"
        assert engine.known_device_policy is not None  # chosen before the model loads
        params = Txt2ImgParams("a red circle", steps=2, width=64, height=64, model="tiny-sd15")
        handle = engine.submit(TXT2IMG.id, params)
        assert recorder.of(handle.id)[0] == JobQueued(handle.id, 0, preparing=True)
        assert not any(isinstance(e, JobStarted) for e in recorder.of(handle.id))
        release.set()
        event = handle.future.result(WAIT_S)
        assert isinstance(event, JobFinished), event
        assert event.outputs[0].size == (64, 64)
        assert loads == ["tiny-sd15"]  # the job used what the warm-up loaded
    finally:
        release.set()
        engine.shutdown(timeout=WAIT_S)


def test_an_inline_warm_up_loads_the_model_for_the_jobs_after_it(
    atelier_home, tiny_config_root, tmp_path, counted_loads
):
    loads, _began, release = counted_loads
    release.set()
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    engine = InlineEngine.from_registry(diffusion_registry(), store=store)
    engine.warm_up(TXT2IMG.id, Txt2ImgParams(model="tiny-sd15"))
    assert loads == ["tiny-sd15"] and len(engine.models) == 1
    params = Txt2ImgParams("a red circle", steps=1, width=64, height=64, model="tiny-sd15")
    assert isinstance(engine.submit(TXT2IMG.id, params).future.result(), JobFinished)
    assert loads == ["tiny-sd15"]


def test_a_warm_up_without_a_task_chooses_the_device_only(tmp_path):
    engine = InlineEngine.from_registry(Registry(), store=ModelStore(home=tmp_path))
    assert engine.known_device_policy is None
    engine.warm_up()
    assert engine.known_device_policy is not None and len(engine.models) == 0


# ---- cancel and quit during the warm-up, newer warm-ups, failures


def test_cancel_frees_a_job_waiting_for_the_warm_up_at_once(engine):
    gated_warm_up(engine)
    handle = engine.submit(STEPS.id, StepParams())
    assert engine.recorder.of(handle.id) == [JobQueued(handle.id, 0, preparing=True)]
    assert engine.cancel(handle.id)
    assert handle.future.result(0) == JobCancelled(handle.id)  # not after the warm-up
    GATE.set()
    wait_until(lambda: not engine.busy, "the warm-up to end")
    assert PREPARED == [0]
    assert not any(isinstance(e, JobStarted) for e in engine.recorder.of(handle.id))


def test_shutdown_during_the_warm_up_cancels_the_jobs_and_skips_what_is_left(engine, monkeypatch):
    monkeypatch.setattr(safety_step, "prepare", lambda: GATE.wait(WAIT_S))
    engine.warm_up(STEPS.id, StepParams(value=1))
    wait_until(lambda: engine.known_device_policy is not None, "the device stage")
    handle = engine.submit(STEPS.id, StepParams())
    engine.shutdown(timeout=0.05)
    assert engine.busy  # it did not wait for the warm-up's stage to end
    assert handle.future.result(0) == JobCancelled(handle.id)
    GATE.set()
    wait_until(lambda: not engine.busy, "the engine thread to end")
    assert PREPARED == []  # the task's models were not loaded after the quit


def test_a_newer_warm_up_replaces_one_that_has_not_begun(engine):
    gated_warm_up(engine, value=1)
    engine.warm_up(STEPS.id, StepParams(value=2))
    engine.warm_up(STEPS.id, StepParams(value=3))
    GATE.set()
    wait_until(lambda: not engine.busy, "the warm-ups")
    assert PREPARED == [1, 3]


def test_jobs_queued_behind_a_job_say_so_and_not_that_the_engine_prepares(engine):
    first = engine.submit(STEPS.id, StepParams(gate=True))
    engine.recorder.wait_for(lambda e: e == JobStarted(first.id))
    second = engine.submit(STEPS.id, StepParams())
    assert engine.recorder.of(second.id) == [JobQueued(second.id, 1, preparing=False)]


def test_a_failing_warm_up_is_logged_and_the_engine_goes_on(engine, caplog):
    with caplog.at_level(logging.WARNING, logger="atelier.engine"):
        engine.warm_up(STEPS.id, StepParams(fail="missing"))
        event = engine.submit(STEPS.id, StepParams(value=5)).future.result(WAIT_S)
    assert isinstance(event, JobFinished) and event.outputs[0].meta["value"] == 5
    assert "warming up Test steps failed" in caplog.text
    assert "the model file is gone" in caplog.text


# ---- torch's CPU threads


@pytest.fixture
def torch_threads(monkeypatch):
    """torch's thread count, restored after the test; OMP_NUM_THREADS unset for it."""
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_the_warm_up_gives_torch_the_policy_s_cpu_threads(tmp_path, torch_threads):
    wanted = 3 if torch_threads.get_num_threads() != 3 else 2
    engine = InlineEngine(
        {}, store=ModelStore(home=tmp_path), device_overrides={"cpu_threads": wanted}
    )
    engine.warm_up()
    assert engine.known_device_policy.cpu_threads == wanted
    assert torch_threads.get_num_threads() == wanted


@pytest.mark.parametrize("setting", [0, True, "4", 2.5])
def test_cpu_threads_settings_of_the_wrong_kind_are_ignored(setting):
    assert choose_device_policy({"cpu_threads": setting}).cpu_threads == default_cpu_threads()
