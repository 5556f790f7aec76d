"""The window warms the engine up once it has painted (app.ui.engine_warm_up): the Generate
panel's model loads in the background; a Generate clicked meanwhile says "Preparing..." and
waits for it without loading the model again; choosing another model warms that one up;
closing the window during the warm-up does not wait for it."""

from __future__ import annotations

import pytest

from app.ui.engine_warm_up import EngineWarmUp
from app.ui.generation import PREPARING
from app.ui.main_window import MainWindow
from engine.worker import Engine
from tests.test_engine_warm_up import counted_loads  # noqa: F401 (a fixture)
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    click_generate,
    close_window,
    diffusion_registry,
    fill,
    make_store,
    qt_loop,
    wait_for_models,
    wait_idle,
)


@pytest.fixture
def warming(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path, counted_loads):  # noqa: F811
    """A window that warms its engine up, as `atelier` opens it, shown with its models; and
    the models its engine loads (see counted_loads)."""
    registry = diffusion_registry()
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    window = MainWindow(registry, store, Engine.from_registry(registry, store=store))
    EngineWarmUp(window)
    assert not window.engine.busy  # nothing before the window is painted
    window.show()
    wait_for_models(window, qtbot)
    yield window, *counted_loads
    counted_loads[2].set()
    close_window(window)


def test_a_generate_during_the_warm_up_prepares_then_runs_with_the_model_loaded_once(
    warming, qtbot
):
    window, loads, began, release = warming
    qtbot.waitUntil(began.is_set, timeout=WAIT_MS)
    assert loads == ["tiny-sd15"]  # the default model, loading in the background
    fill(window, qtbot)
    click_generate(window, qtbot)
    qtbot.waitUntil(lambda: window.prompt_panel.stage.text() == PREPARING, timeout=WAIT_MS)
    assert window.generation.running and window.prompt_panel.cancel_button.isEnabled()
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS):
        release.set()
    wait_idle(window, qtbot)
    assert window.canvas.candidate is not None
    assert loads == ["tiny-sd15"]

    picker = window.prompt_panel.model_picker
    picker.setCurrentIndex(picker.findData("tiny-sdxl"))
    qtbot.waitUntil(lambda: loads == ["tiny-sd15", "tiny-sdxl"], timeout=WAIT_MS)


def test_closing_during_the_warm_up_does_not_wait_for_it(warming, qtbot):
    window, _loads, began, release = warming
    qtbot.waitUntil(began.is_set, timeout=WAIT_MS)
    close_window(window)  # the model is still loading
    assert not window.isVisible()
    assert window.engine.busy  # left to the engine's daemon thread; the app quits anyway
    release.set()
