"""Long jobs in the window. Cancel and Quit while one step runs for minutes (a "stuck" test
step that never looks at cancel): the panel is free at once, the next job waits behind the
abandoned step and says so, the abandoned job's late result is dropped, and the window
closes at once. A size out of reach for the device asks before it starts."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QMessageBox

from app.ui.engine_bridge import EngineBridge
from app.ui.generation import Generation
from app.ui.main_window import MainWindow
from engine import job_cost
from engine.model_store import ModelStore
from engine.worker import Engine
from tests import engine_tasks
from tests.canvas_helpers import answer_next_dialog
from tests.engine_tasks import TASKS, StepParams
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop and window are fixtures)
    WAIT_MS,
    click_generate,
    close_window,
    diffusion_registry,
    fill,
    make_store,
    qt_loop,
    wait_for_models,
    wait_idle,
    window,
)

Button = QMessageBox.StandardButton


@pytest.fixture
def unstick():
    engine_tasks.UNSTICK.clear()
    yield engine_tasks.UNSTICK
    engine_tasks.UNSTICK.set()


@pytest.fixture
def generation(qt_loop, qtbot, tmp_path, unstick):  # noqa: F811
    engine = Engine(TASKS, store=ModelStore(home=tmp_path))
    gen = Generation(EngineBridge(engine, qt_loop))
    yield gen
    unstick.set()
    engine.shutdown(timeout=10)


def start_stuck(gen: Generation, qtbot, value: int = 1) -> None:
    stages: list[str] = []
    gen.progress.connect(lambda _fraction, stage: stages.append(stage))
    gen.start(StepParams(steps=1, stuck=True, value=value), "test.steps")
    qtbot.waitUntil(lambda: "starting" in stages, timeout=WAIT_MS)


def test_cancel_frees_the_panel_at_once_and_drops_the_late_result(generation, qtbot, unstick):
    finished, cancelled, stages = [], [], []
    generation.finished.connect(finished.append)
    generation.cancelled.connect(lambda: cancelled.append(generation.running))
    start_stuck(generation, qtbot, value=1)
    generation.cancel()
    assert not generation.running and len(cancelled) == 1  # now, not after the step
    generation.progress.connect(lambda _fraction, stage: stages.append(stage))
    generation.start(StepParams(steps=1, value=2), "test.steps")
    qtbot.waitUntil(lambda: bool(stages), timeout=WAIT_MS)
    assert stages[0] == "waiting for the cancelled job to finish its current step"
    assert generation.running
    unstick.set()
    qtbot.waitUntil(lambda: not generation.running, timeout=WAIT_MS)
    assert [event.outputs[0].meta["value"] for event in finished] == [2]
    assert len(cancelled) == 1


def test_a_job_cancelled_before_it_is_submitted_never_reports(generation, qtbot):
    finished = []
    generation.finished.connect(finished.append)
    generation.start(StepParams(steps=1, value=3), "test.steps")
    generation.cancel()  # before the loop ran the job's coroutine
    assert not generation.running
    generation.start(StepParams(steps=1, value=4), "test.steps")
    qtbot.waitUntil(lambda: not generation.running, timeout=WAIT_MS)
    assert [event.outputs[0].meta["value"] for event in finished] == [4]


def test_the_window_closes_within_two_seconds_while_a_step_blocks(
    qtbot,
    qt_loop,  # noqa: F811
    atelier_home,
    tmp_path,
    unstick,
):
    registry = diffusion_registry()
    store = make_store(atelier_home, tmp_path)
    engine = Engine({**registry.tasks, **TASKS}, store=store)
    win = MainWindow(registry, store, engine)
    win.show()
    wait_for_models(win, qtbot)
    start_stuck(win.generation, qtbot)
    began = time.monotonic()
    close_window(win)
    assert time.monotonic() - began < 2.0
    assert not win.isVisible() and not win.generation.running
    with pytest.raises(RuntimeError, match="shut down"):
        engine.submit("test.steps", StepParams())


def test_a_size_out_of_reach_asks_first_and_cancel_starts_nothing(window, qtbot):  # noqa: F811
    fill(window, qtbot, width=4096, height=4096, steps=25)
    seen: list[str] = []
    answer_next_dialog(Button.Cancel, seen)
    click_generate(window, qtbot)
    assert len(seen) == 1 and "hours on the CPU" in seen[0]
    assert not window.generation.running and not window.engine.busy


def test_the_designer_may_go_on_anyway(window, qtbot, monkeypatch):  # noqa: F811
    monkeypatch.setattr(job_cost, "TOO_LONG_S", 0)  # every size is "out of reach"
    fill(window, qtbot)
    seen: list[str] = []
    answer_next_dialog(Button.Yes, seen)
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS):
        click_generate(window, qtbot)
    wait_idle(window, qtbot)
    assert len(seen) == 1 and "64 \N{MULTIPLICATION SIGN} 64 pixels" in seen[0]
