"""Reuse settings in the window makes a file's controls again: a picture generated with a
scribble control, exported and opened, gets an empty control layer with the control's
settings (one undo step, not made twice); an A1111 picture's ControlNet units become control
layers, a model that is not installed named."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.control_layers import SetControl
from app.model.image_files import encode_png, read_generation_info
from app.model.layers import ControlLayer, ControlSettings
from plugins.diffusion import TXT2IMG
from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)
from tests.test_gui_canvas_generate import choose_mode, click_and_wait
from tests.test_gui_control_layers import scribble_circle, steered_window  # noqa: F401
from tests.test_gui_main_window import fill


def control_layers(win) -> list[ControlLayer]:
    return [lay for lay in win.session.doc.walk() if isinstance(lay, ControlLayer)]


def reuse(win, path) -> None:
    """Open the picture (its settings offered) and click Reuse settings."""
    win.session.history.mark_clean()
    assert win.open_file(path)
    assert "Reuse settings" in win.messages.action_button.text()
    QTest.mouseClick(win.messages.action_button, Qt.MouseButton.LeftButton)


def test_reuse_of_a_picture_made_with_a_control_makes_its_control_layer(
    steered_window,  # noqa: F811
    qtbot,
    tmp_path,
):
    win = steered_window
    choose_mode(win, TXT2IMG.id)
    fill(win, qtbot, "a red circle")
    layer = scribble_circle(win)
    win.session.push(
        SetControl(layer.id, model="tiny-sd15-scribble", strength=0.7, start=0.1, end=0.8)
    )
    click_and_wait(win, qtbot)
    made = win.apply_candidate()
    (recorded,) = made.recipe["params"]["controls"]
    assert recorded["model"] == "tiny-sd15-scribble"
    path = win.files.export(tmp_path / "steered.png", layer_id=made.id)
    assert "ControlNet 0" in read_generation_info(path).extras

    reuse(win, path)  # the picture opens as a document of its own, with no control layer
    (control,) = control_layers(win)
    assert control.name == "Scribble control (from settings)"
    assert control.control == ControlSettings("scribble", "tiny-sd15-scribble", 0.7, 0.1, 0.8)
    assert not control.pixels.tiles  # empty: the map is not in the file
    assert win.session.active is control
    assert win.control_properties.model.currentText() == "tiny-sd15-scribble"
    text = win.messages.text
    assert "Added a control layer (Scribble), empty" in text and "draw or fill" in text
    assert win.messages.kind == "info"
    assert win.session.history.undo_label == "Add control layers from settings"

    win.reuse_recipe(read_generation_info(path).recipe)  # Reuse settings again
    assert len(control_layers(win)) == 1  # the same control is not made twice
    assert "1 recorded control is in the document already" in win.messages.text

    win.undo_action.trigger()
    assert control_layers(win) == []


A1111 = (
    "a lighthouse at dusk\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 12, Size: 64x64, Model: tiny-sd15, "
    'ControlNet 0: "Module: scribble_pidinet, Model: control_v11p_sd15_scribble [d4e3a1f2], '
    'Weight: 0.6, Resize Mode: Crop and Resize, Guidance Start: 0, Guidance End: 0.7", '
    'ControlNet 1: "Module: depth_midas, Model: control_v11f1p_sd15_depth [cfd03158], '
    'Weight: 1, Guidance Start: 0.2, Guidance End: 1", '
    'ControlNet 2: "Module: reference_only, Model: None, Weight: 1, Guidance Start: 0, '
    'Guidance End: 1", Version: v1.10.1'
)


def test_reuse_of_an_a1111_picture_makes_its_controlnet_units_control_layers(
    canvas_window, tmp_path
):
    win = canvas_window
    path = tmp_path / "a1111.png"
    path.write_bytes(encode_png(np.zeros((64, 64, 4), np.uint8), {"parameters": A1111}))
    reuse(win, path)
    assert win.prompt_panel.form.values()["prompt"] == "a lighthouse at dusk"
    scribble, depth = control_layers(win)
    assert scribble.control == ControlSettings(
        "scribble", "control_v11p_sd15_scribble", 0.6, 0.0, 0.7
    )
    assert depth.control == ControlSettings("depth", "control_v11f1p_sd15_depth", 1.0, 0.2, 1.0)
    assert depth.name == "Depth control (from settings)"
    text = win.messages.text
    assert "Added 2 control layers (Scribble, Depth), empty" in text
    assert "not installed: control_v11p_sd15_scribble, control_v11f1p_sd15_depth" in text
    assert "Skipped (no control kind in Atelier fits): reference_only." in text
    assert "ControlNet 0" not in text  # not listed as left out
    assert win.messages.kind == "warning"
    win.undo_action.trigger()
    assert control_layers(win) == []
