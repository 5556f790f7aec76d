"""The brush's own, thin size on control layers: strokes, the tool options' size field and
the [ and ] keys use and change the size for the active layer; the eraser keeps its own."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from app.model.layers import ControlLayer
from app.ui.tool_base import ToolSettings
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    drag,
    key,
    layer_named,
    qt_loop,
)
from tests.test_gui_control_layers import menu_action


def new_scribble_layer(win) -> ControlLayer:
    menu_action(win, "Layer", "New control layer", "Scribble").trigger()
    layer = win.session.active
    assert isinstance(layer, ControlLayer)
    return layer


def painted_rows(layer, x: int) -> int:
    """How many rows of column `x` the brush touched."""
    return int((layer.pixels.to_array()[:, x, 3] > 0).sum())


def test_the_default_control_size_is_thin():
    settings = ToolSettings()
    assert settings.control_size < settings.size / 4
    assert settings.control_size < settings.eraser_size


def outline_width(win) -> float:
    """The brush outline's width after the pointer hovers over the canvas."""
    win.toolbox.current.hover(QPointF(32, 32))
    return win.canvas.brush_outline.rect().width()


def test_a_stroke_on_a_control_layer_is_thin_and_on_a_picture_layer_normal(canvas_window):
    win = canvas_window
    win.canvas.settings.size, win.canvas.settings.control_size = 20, 4
    win.toolbox.choose("brush")
    line = [(8, 32), (20, 32), (32, 32), (44, 32), (56, 32)]

    control = new_scribble_layer(win)
    drag(win, line)
    assert outline_width(win) == 4
    win.session.set_active(layer_named(win, "Paint").id)
    drag(win, line)
    assert outline_width(win) == 20

    thin, normal = painted_rows(control, 32), painted_rows(layer_named(win, "Paint"), 32)
    assert 2 <= thin <= 7 and 16 <= normal <= 24, (thin, normal)


def test_each_layer_kind_has_its_own_size_in_the_tool_options(canvas_window):
    win = canvas_window
    settings, options = win.canvas.settings, win.tool_options
    win.toolbox.choose("brush")
    paint = layer_named(win, "Paint")
    win.session.set_active(paint.id)
    options.size.setValue(30)
    assert settings.size == 30

    control = new_scribble_layer(win)
    assert options.size.value() == round(settings.control_size)
    options.size.setValue(6)
    assert (settings.size, settings.control_size) == (30, 6)
    assert options.size_slider.value() == 6

    win.session.set_active(paint.id)
    assert options.size.value() == 30 and options.size_slider.value() == 30
    options.size_slider.setValue(40)
    assert (settings.size, settings.control_size) == (40, 6)
    win.session.set_active(control.id)
    assert options.size.value() == 6


def test_the_bracket_keys_change_the_size_for_the_active_layer(canvas_window):
    win = canvas_window
    settings = win.canvas.settings
    settings.size, settings.control_size, settings.eraser_size = 20, 4, 48
    win.toolbox.choose("brush")
    control = new_scribble_layer(win)
    key(win, "]")
    key(win, "]")
    assert np.isclose(settings.control_size, 4 * 1.25**2) and settings.size == 20
    assert win.tool_options.size.value() == round(4 * 1.25**2)

    win.session.set_active(layer_named(win, "Paint").id)
    key(win, "[")
    assert np.isclose(settings.size, 20 / 1.25) and np.isclose(settings.control_size, 6.25)

    win.toolbox.choose("eraser")  # on a control layer too, the eraser has one size
    win.session.set_active(control.id)
    assert win.tool_options.size.value() == 48
    key(win, "]")
    assert settings.eraser_size == 60 and np.isclose(settings.control_size, 6.25)
