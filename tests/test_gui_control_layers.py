"""Control layers in the window: Layer > New control layer and Convert to control layer, the
brush drawing a scribble that the canvas previews but no composite holds, the properties
under the Layers panel changing the settings through undoable commands, Generate sending
the control (and a tiny ControlNet steering a real job), and Use as reference."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu

from app.model.control_layers import SetControl, control_map_of
from app.model.layers import ControlLayer, RasterLayer, ReferenceLayer
from app.ui.control_previews import LINE_TINT
from plugins.diffusion import TXT2IMG
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    close_window,
    diffusion_registry,
    drag,
    layer_named,
    make_store,
    make_window,
    qt_loop,
    small_document,
)
from tests.test_gui_canvas_generate import choose_mode, click_and_wait
from tests.test_gui_main_window import fill
from tests.test_gui_mode_region import region


def menu_action(win, *path: str):
    """The action at a menu path of the menu bar, e.g. ("Layer", "New control layer",
    "Scribble"); accelerators (&) are ignored."""
    actions = win.menuBar().actions()
    for step in path:
        action = next(a for a in actions if a.text().replace("&", "") == step)
        menu = action.menu()
        actions = menu.actions() if isinstance(menu, QMenu) else []
    return action


def settled(win, qtbot) -> None:
    """Wait until the canvas shows every control layer's map as it is now."""
    qtbot.waitUntil(lambda: not win.canvas.cache.controls.pending, timeout=5000)


def scribble_circle(win) -> ControlLayer:
    """A new scribble layer with a black ring drawn on it by the brush."""
    menu_action(win, "Layer", "New control layer", "Scribble").trigger()
    layer = win.session.active
    assert isinstance(layer, ControlLayer) and layer.name == "Scribble control"
    win.toolbox.choose("brush")
    win.canvas.settings.color, win.canvas.settings.control_size = (0, 0, 0), 4
    ring = [(32 + 12 * np.cos(t), 32 + 12 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)]
    drag(win, ring)
    return layer


def test_a_scribble_drawn_with_the_brush_is_previewed_but_never_composited(canvas_window, qtbot):
    win = canvas_window
    before = win.session.doc.composite()
    layer = scribble_circle(win)
    settled(win, qtbot)
    assert win.session.history.undo_label == "Paint stroke"
    lines = control_map_of(layer)
    assert lines[32, 44].all() and not lines[32, 32].any()  # on the ring, not its middle
    assert np.array_equal(win.session.doc.composite(), before)  # white, as before
    shown = win.canvas.rendered_pixels()
    ring = shown[32, 44, :3].astype(int)
    assert ring[0] < 120 and ring[2] > 200, ring  # cyan over white: red taken away
    assert tuple(shown[32, 32]) == (255, 255, 255, 255)
    assert abs(int(LINE_TINT[1]) - int(ring[1])) < 40
    assert "steered by 1 control" in region(win)

    win.layers_panel.toggle_visibility(layer.id)  # hidden: neither shown nor sent
    assert tuple(win.canvas.rendered_pixels()[32, 44]) == (255, 255, 255, 255)
    assert "control" not in region(win)
    win.undo_action.trigger()
    win.toolbox.choose("eraser")
    win.canvas.settings.eraser_size = 40
    drag(win, [(20, 32), (44, 32)])
    settled(win, qtbot)
    assert not control_map_of(layer).any()
    assert tuple(win.canvas.rendered_pixels()[32, 44]) == (255, 255, 255, 255)


def test_convert_makes_a_control_layer_from_the_active_layer(canvas_window):
    win = canvas_window
    win.session.set_active(layer_named(win, "Background").id)
    menu_action(win, "Layer", "Convert to control layer", "Canny").trigger()
    layer = win.session.active
    assert isinstance(layer, ControlLayer) and layer.name == "Canny of Background"
    assert layer.control.kind == "canny"
    assert win.session.history.undo_label == "Convert layer to control layer"
    convert = menu_action(win, "Layer", "Convert to control layer", "Depth")
    assert not convert.isEnabled()  # a control layer is not converted again
    assert not win.layer_actions.merge.isEnabled()
    item = win.layers_panel.item_of(layer.id)
    assert item.toolTip(0).startswith("Canny control")
    win.undo_action.trigger()
    assert not any(isinstance(lay, ControlLayer) for lay in win.session.doc.walk())


def test_the_properties_change_the_settings_as_undoable_steps(canvas_window):
    win = canvas_window
    props = win.control_properties
    assert not props.isVisibleTo(win.layers_panel)
    layer = scribble_circle(win)
    assert props.isVisibleTo(win.layers_panel)
    assert props.model.itemText(0) == "Automatic" and props.model.currentData() == ""

    props.kind.setCurrentIndex(props.kind.findData("depth"))
    props.kind.activated.emit(props.kind.currentIndex())
    assert layer.control.kind == "depth"
    assert win.session.history.undo_label == "Change control kind"
    assert "used as it is" in props.note.text()

    steps = len(win.session.history.entries())
    props.strength.sliderPressed.emit()
    for value in (120, 80, 40):
        props.strength.setValue(value)
    props.strength.sliderReleased.emit()
    assert layer.control.strength == 0.4 and props.strength_label.text() == "40%"
    assert len(win.session.history.entries()) == steps + 1

    props.end.setValue(50)
    props.start.setValue(70)  # past the end: the end follows
    assert (layer.control.start, layer.control.end) == (0.7, 0.7)
    assert props.end.value() == 70
    assert win.session.history.undo_label == "Change control step range"

    win.undo_action.trigger()
    win.undo_action.trigger()
    assert (layer.control.start, layer.control.end) == (0.0, 1.0) and props.end.value() == 100
    win.undo_action.trigger()
    assert layer.control.strength == 1.0 and props.strength.value() == 100
    win.undo_action.trigger()
    assert layer.control.kind == "scribble" and props.kind.currentData() == "scribble"

    win.session.set_active(layer_named(win, "Paint").id)
    assert not props.isVisibleTo(win.layers_panel)


def test_a_missing_model_is_named_and_automatic_can_be_chosen(canvas_window):
    win = canvas_window
    props = win.control_properties
    layer = scribble_circle(win)
    win.session.push(SetControl(layer.id, model="control_sd15_scribble"))
    assert props.model.currentText() == "control_sd15_scribble (not available)"
    props.model.setCurrentIndex(0)
    props.model.activated.emit(0)
    assert layer.control.model == ""
    assert win.session.history.undo_label == "Change control model"


def test_generate_sends_the_scribble_as_a_control(canvas_window, qtbot, monkeypatch):
    win = canvas_window
    layer = scribble_circle(win)
    sent = []
    monkeypatch.setattr(win.gen, "run", sent.append)
    choose_mode(win, TXT2IMG.id)
    fill(win, qtbot, "a red circle on a blue background")
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    (request,) = sent
    (spec,) = request.params.controls
    assert spec.kind == "scribble" and spec.strength == 1.0
    assert spec.image.shape == (64, 64, 3)
    assert np.array_equal(spec.image, control_map_of(layer))


@pytest.fixture
def steered_window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):  # noqa: F811
    """The canvas window with a tiny SD 1.x scribble ControlNet installed."""
    from tests.fixtures.tiny_controls import save_tiny_controlnet

    save_tiny_controlnet("sd15", atelier_home / "models" / "controlnet" / "tiny-sd15-scribble")
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    win.files.new(small_document())
    win.canvas.actions_by_name["fit"].trigger()
    yield win
    close_window(win)


@pytest.mark.usefixtures("unmarked_pixels")
def test_a_scribble_steers_a_real_generation(steered_window, qtbot):
    win = steered_window
    choose_mode(win, TXT2IMG.id)
    fill(win, qtbot, "a red circle")
    layer = scribble_circle(win)
    props = win.control_properties
    assert [props.model.itemText(i) for i in range(props.model.count())] == [
        "Automatic",
        "tiny-sd15-scribble",
    ]
    props.model.setCurrentIndex(1)
    props.model.activated.emit(1)
    click_and_wait(win, qtbot)
    steered = win.results.current
    (control,) = steered.recipe["params"]["controls"]
    assert control["kind"] == "scribble" and control["model"] == "tiny-sd15-scribble"

    # a server's name for it (chosen while jobs ran on a server) is the installed one here
    win.session.push(SetControl(layer.id, model="sd15/tiny-sd15-scribble.safetensors"))
    assert props.model.currentText() == "tiny-sd15-scribble"
    click_and_wait(win, qtbot)
    assert np.array_equal(win.results.current.image.pixels, steered.image.pixels)

    win.layers_panel.toggle_visibility(layer.id)
    click_and_wait(win, qtbot)
    plain = win.results.current
    assert not plain.recipe["params"].get("controls")
    difference = np.abs(steered.image.pixels.astype(int) - plain.image.pixels.astype(int))
    assert difference.max() > 2  # the same seed, steered or not


def test_use_as_reference_toggles_the_layer_and_its_weight_is_one_step_per_drag(canvas_window):
    win = canvas_window
    paint = layer_named(win, "Paint")
    win.session.set_active(paint.id)
    use = menu_action(win, "Layer", "Use as reference")
    assert use.isEnabled() and not use.isChecked()
    use.trigger()
    reference = win.session.active
    assert isinstance(reference, ReferenceLayer) and reference.id == paint.id
    assert use.isChecked() and win.session.history.undo_label == "Convert layer to reference"
    assert "steered by" not in region(win)  # an empty layer steers nothing
    props = win.reference_properties
    assert props.isVisibleTo(win.layers_panel) and props.weight.value() == 60
    assert not win.control_properties.isVisibleTo(win.layers_panel)
    steps = len(win.session.history.entries())
    props.weight.sliderPressed.emit()
    for value in (80, 100, 120):
        props.weight.setValue(value)
    props.weight.sliderReleased.emit()
    assert reference.weight == 1.2 and props.weight_label.text() == "1.20"
    assert len(win.session.history.entries()) == steps + 1
    assert "Reference picture (weight 1.20)" in win.layers_panel.item_of(paint.id).toolTip(0)
    menu = win.layers_panel.context_menu(reference)
    assert use in menu.actions()
    use.trigger()  # back to a pixel layer
    assert type(win.session.active) is RasterLayer and not use.isChecked()
    assert not props.isVisibleTo(win.layers_panel)
    for _ in range(3):
        win.undo_action.trigger()
    assert type(win.session.doc.find(paint.id)) is RasterLayer
