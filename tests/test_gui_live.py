"""Live painting in the window with the built-in model (128x128): strokes with Live on make one
live picture of the newest canvas, beside it, without touching the results strip or History;
Apply adds it as a layer in one undo step; turning Live off cancels the running job."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.ui.main_window import MainWindow
from engine.home import RESOURCES
from engine.model_store import ModelStore
from plugins.diffusion import IMG2IMG
from tests.canvas_helpers import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    diffusion_registry,
    drag,
    key,
    make_window,
    qt_loop,
    small_document,
)

DEMO = "atelier-demo"


@pytest.fixture
def live_window(qtbot, qt_loop, home, tmp_path):  # noqa: F811
    store = ModelStore(
        home=home, extra_folders=[], hf_cache=tmp_path / "no-hf", builtin_dir=RESOURCES / "models"
    )
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    assert win.prompt_panel.model_name() == DEMO
    win.files.new(small_document((128, 128)))
    win.canvas.actions_by_name["fit"].trigger()
    yield win
    close_window(win)


def wait_for_live_picture(win: MainWindow, qtbot) -> None:
    live = win.live
    qtbot.waitUntil(
        lambda: (
            live.candidate is not None
            and live.scheduler.running is None
            and not live.timer.isActive()
        ),
        timeout=WAIT_MS,
    )


def paint_strokes(win: MainWindow) -> None:
    key(win, "B")
    for y in (30, 60, 90):
        drag(win, [(20, y), (60, y + 10), (100, y)])


def test_strokes_with_live_on_make_one_picture_of_the_newest_canvas(live_window, qtbot):
    win, live = live_window, live_window.live
    key(win, "Ctrl+Shift+L")
    assert live.on and win.live_dock.isVisible()
    paint_strokes(win)
    wait_for_live_picture(win, qtbot)
    shown = live.scheduler.shown
    assert shown.request.task_id == IMG2IMG.id  # text to image gave way on a painted canvas
    assert np.array_equal(shown.request.params.image, win.session.doc.composite())
    assert live.scheduler.submitted <= 2  # the strokes came within the quiet time
    assert live.view.has_picture and live.view.apply_button.isEnabled()
    recipe = live.candidate.recipe
    assert recipe["params"]["seed"] == live.seed and recipe["params"]["steps"] <= 12
    assert win.results.count() == 0
    labels = [entry.label for entry in win.session.history.entries()]
    assert labels == ["Paint stroke"] * 3

    layers_before = len(list(win.session.doc.raster_layers()))
    qtbot.mouseClick(live.view.apply_button, Qt.MouseButton.LeftButton)
    layers = list(win.session.doc.raster_layers())
    assert len(layers) == layers_before + 1 and win.session.active.recipe == recipe
    assert len(win.session.history.entries()) == 4
    win.session.undo()
    assert len(list(win.session.doc.raster_layers())) == layers_before


def test_turning_live_off_cancels_the_running_job_and_keeps_the_picture(live_window, qtbot):
    win, live = live_window, live_window.live
    live.set_on(True)
    paint_strokes(win)
    wait_for_live_picture(win, qtbot)
    shown = live.candidate
    drag(win, [(100, 100), (120, 120)])
    qtbot.waitUntil(lambda: live.scheduler.running is not None, timeout=WAIT_MS)
    live.set_on(False)
    assert live.scheduler.running is None and not live.timer.isActive()
    qtbot.waitUntil(lambda: not win.engine.busy, timeout=WAIT_MS)
    qtbot.wait(100)  # any late event of the cancelled job has been delivered
    assert live.candidate is shown and live.view.has_picture
    assert live.scheduler.shown is None
