"""The Depth map mode of the Generate panel: the canvas's depth map as a new layer, made by
the tiny DPT through the window's engine."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.commands import AddLayer
from app.model.layers import RasterLayer
from plugins.diffusion import DEPTH
from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)
from tests.fixtures.tiny_depth import save_tiny_dpt
from tests.test_gui_canvas_generate import _index, click_and_wait
from tests.test_gui_main_window import rescan


def test_the_depth_map_mode_makes_a_grey_layer_of_the_canvas(canvas_window, qtbot, atelier_home):
    win = canvas_window
    save_tiny_dpt(atelier_home / "models" / "depth" / "tiny-dpt")
    rescan(win, qtbot)
    paint = np.zeros((64, 64, 4), np.uint8)
    paint[16:48, 8:40] = (200, 40, 40, 255)
    win.session.push(AddLayer(RasterLayer.from_array(paint, name="Red block")))
    panel = win.prompt_panel
    QTest.mouseClick(panel.mode_buttons.button(_index(panel, DEPTH.id)), Qt.MouseButton.LeftButton)
    assert panel.mode == DEPTH.id
    click_and_wait(win, qtbot)
    layer = win.apply_candidate()
    assert layer.recipe["task"] == DEPTH.id
    pixels = layer.pixels.to_array()
    assert pixels.shape == (64, 64, 4) and (pixels[..., 3] == 255).all()
    assert (pixels[..., 0] == pixels[..., 2]).all() and np.ptp(pixels[..., 0]) > 200
