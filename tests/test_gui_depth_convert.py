"""Layer > Convert to control layer > Depth: a photo layer's depth map made by the tiny
DPT through the window's engine, added in one undo step; a copy of the photo, with a note
saying where to put a depth model, when none is installed; Cancel adds nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.model.commands import AddLayer
from app.model.layers import ControlLayer, RasterLayer
from engine.home import models_dir
from engine.model_store import ModelStore
from engine.protocol import JobFinished
from engine.worker import InlineEngine
from plugins.diffusion import DEPTH
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import DepthParams
from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)
from tests.fixtures.tiny_depth import save_tiny_dpt
from tests.test_depth_maps import photo
from tests.test_gui_control_layers import menu_action
from tests.test_gui_main_window import WAIT_MS, rescan

AT = (8, 10)  # where the photo lies on the 64x64 canvas
SIZE = (48, 40)


@pytest.fixture(scope="module")
def tiny_dpt_folder(tmp_path_factory):
    return save_tiny_dpt(tmp_path_factory.mktemp("depth") / "tiny-dpt")


@pytest.fixture
def with_depth_model(canvas_window, qtbot, atelier_home, tiny_dpt_folder):
    """The window, with the tiny DPT installed and found."""
    shutil.copytree(tiny_dpt_folder, models_dir("depth", atelier_home) / "tiny-dpt")
    rescan(canvas_window, qtbot)
    return canvas_window


def add_picture(win, pixels: np.ndarray, name: str) -> RasterLayer:
    """A layer holding `pixels` at AT, made active."""
    layer = RasterLayer.from_array(pixels, win.session.doc.size, *AT, name=name)
    win.session.push(AddLayer(layer))
    win.session.set_active(layer.id)
    return layer


def convert_to_depth(win) -> None:
    menu_action(win, "Layer", "Convert to control layer", "Depth").trigger()


def controls(win) -> list[ControlLayer]:
    return [lay for lay in win.session.doc.walk() if isinstance(lay, ControlLayer)]


def depth_task_output(home, picture: np.ndarray) -> np.ndarray:
    """What the Depth map task makes of `picture` with the installed depth model."""
    engine = InlineEngine({DEPTH.id: DEPTH}, store=ModelStore(home=home), families=BY_ID)
    try:
        event = engine.submit(DEPTH.id, DepthParams(image=picture)).future.result()
    finally:
        engine.shutdown()
    assert isinstance(event, JobFinished)
    return event.outputs[0].pixels


def test_a_photo_becomes_its_depth_map_in_one_undo_step(with_depth_model, qtbot, atelier_home):
    win = with_depth_model
    picture = photo(3, SIZE)
    add_picture(win, picture, "Photo")
    steps = win.session.history.position
    with qtbot.waitSignal(win.layer_actions.depth.done, timeout=WAIT_MS) as made:
        convert_to_depth(win)
        assert win.messages.text.startswith("Making the depth map of \u201cPhoto\u201d")
        assert win.messages.action_button.text() == "Cancel"
        assert not controls(win)  # nothing is added before the map is made
    layer = made.args[0]
    assert controls(win) == [layer] and win.session.active is layer
    assert layer.name == "Depth of Photo" and layer.control.kind == "depth"
    assert win.session.history.position == steps + 1
    assert win.session.history.undo_label == "Convert layer to control layer"
    assert "Making the depth map" not in win.messages.text
    x, y = AT
    pixels = layer.pixels.to_array()
    inside = pixels[y : y + SIZE[1], x : x + SIZE[0]]
    expected = depth_task_output(atelier_home, picture)
    np.testing.assert_array_equal(inside, expected)
    assert (inside[..., 0] == inside[..., 1]).all() and np.ptp(inside[..., 0]) > 200
    inside[...] = 0
    assert not pixels.any()  # nothing outside the photo
    win.undo_action.trigger()
    assert not controls(win)


def test_cancel_adds_nothing(with_depth_model, qtbot):
    win = with_depth_model
    add_picture(win, photo(5, SIZE), "Photo")
    steps = win.session.history.position
    done: list[object] = []
    win.layer_actions.depth.done.connect(done.append)
    convert_to_depth(win)
    win.messages.action_button.click()  # Cancel
    assert done == [None] and not win.layer_actions.depth.running
    assert "Making the depth map" not in win.messages.text
    qtbot.waitUntil(lambda: not win.bridge.active_jobs, timeout=WAIT_MS)  # the job has ended
    qtbot.wait(50)
    assert not controls(win) and done == [None]
    assert win.session.history.position == steps


def test_with_no_depth_model_the_photo_is_copied_saying_where_to_put_one(
    canvas_window, atelier_home
):
    win = canvas_window
    picture = photo(7, SIZE)
    source = add_picture(win, picture, "Photo")
    convert_to_depth(win)
    (layer,) = controls(win)
    assert layer.name == "Depth of Photo" and win.session.active is layer
    np.testing.assert_array_equal(layer.pixels.to_array(), source.pixels.to_array())
    assert "No depth model is installed" in win.messages.text
    assert f"{models_dir('depth', atelier_home)}/<name>/" in win.messages.text
    assert not win.bridge.active_jobs


def test_a_grey_depth_map_is_copied_as_it_is(with_depth_model):
    win = with_depth_model
    ramp = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    ramp[..., :3] = np.linspace(0, 255, SIZE[0], dtype=np.uint8)[None, :, None]
    ramp[..., 3] = 255
    source = add_picture(win, ramp, "Depth picture")
    convert_to_depth(win)
    (layer,) = controls(win)
    np.testing.assert_array_equal(layer.pixels.to_array(), source.pixels.to_array())
    assert not win.bridge.active_jobs and not win.messages.text
