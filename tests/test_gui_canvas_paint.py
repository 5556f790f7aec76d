"""The canvas, driven with the mouse and the keyboard: strokes, undo/redo, selections, tools,
and redraws that touch only what changed."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.tiles import Rect
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    NO_MODS,
    canvas_window_fixture,
    click,
    drag,
    key,
    layer_named,
    qt_loop,
    view_point,
)

RED = (230, 20, 20)
SHIFT, ALT = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.AltModifier


def test_a_mouse_stroke_paints_the_active_layer_and_the_shortcuts_undo_it(canvas_window, qtbot):
    win = canvas_window
    win.session.set_active(layer_named(win, "Paint").id)
    win.toolbox.choose("brush")
    win.canvas.settings.color, win.canvas.settings.size = RED, 6
    drag(win, [(10, 32), (20, 32), (30, 32), (40, 32), (50, 32)])

    paint = layer_named(win, "Paint").pixels.to_array()
    assert tuple(paint[32, 30]) == (*RED, 255)  # on the line
    assert paint[5, 5, 3] == 0 and paint[32, 60, 3] == 0  # off the line: untouched
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())
    assert win.history_panel.labels() == ["Create document", "Paint stroke"]
    assert win.isWindowModified()

    key(win, "Ctrl+Z")
    assert not layer_named(win, "Paint").pixels.to_array()[..., 3].any()
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())
    assert not win.isWindowModified()
    key(win, "Ctrl+Shift+Z")
    assert np.array_equal(layer_named(win, "Paint").pixels.to_array(), paint)
    key(win, "Ctrl+Z")
    key(win, "Ctrl+Y")
    assert np.array_equal(layer_named(win, "Paint").pixels.to_array(), paint)


def test_tool_shortcuts_eraser_fill_and_picker(canvas_window, qtbot):
    win = canvas_window
    background = layer_named(win, "Background")
    win.session.set_active(background.id)
    key(win, "E")
    assert win.toolbox.current.name == "eraser"
    drag(win, [(5, 5), (5, 20)])
    assert layer_named(win, "Background").pixels.to_array()[10, 5, 3] == 0

    key(win, "G")
    win.canvas.settings.color = (0, 0, 255)
    click(win, 40, 40)
    filled = layer_named(win, "Background").pixels.to_array()
    assert tuple(filled[40, 40]) == (0, 0, 255, 255) and tuple(filled[10, 5][3:]) == (0,)

    key(win, "I")
    win.canvas.settings.color = (1, 2, 3)
    click(win, 50, 50)
    assert win.canvas.settings.color == (0, 0, 255)
    assert win.history_panel.labels()[1:] == ["Erase stroke", "Fill area"]


def test_history_panel_click_goes_back_and_forward(canvas_window, qtbot):
    win = canvas_window
    win.session.set_active(layer_named(win, "Paint").id)
    for y in (10, 30, 50):
        drag(win, [(5, y), (60, y)])
    win.history_panel.list.setCurrentRow(1)  # after the first stroke
    paint = layer_named(win, "Paint").pixels.to_array()
    assert paint[10, 30, 3] and not paint[30, 30, 3] and not paint[50, 30, 3]
    win.history_panel.list.setCurrentRow(3)
    assert layer_named(win, "Paint").pixels.to_array()[50, 30, 3]


def test_rectangle_selection_with_shift_and_alt_and_painting_inside_it(canvas_window, qtbot):
    win = canvas_window
    key(win, "M")
    drag(win, [(8, 8), (24, 24)])
    assert win.session.doc.selection.bbox() == Rect(8, 8, 16, 16)
    drag(win, [(40, 40), (56, 56)], mods=SHIFT)  # add
    assert win.session.doc.selection.bbox() == Rect(8, 8, 48, 48)
    drag(win, [(0, 0), (16, 16)], mods=ALT)  # subtract
    mask = win.session.doc.selection.mask
    assert mask[10, 10] == 0 and mask[20, 20] == 255 and mask[50, 50] == 255
    assert win.canvas.outline.path().elementCount() > 0

    win.session.set_active(layer_named(win, "Paint").id)
    key(win, "B")
    drag(win, [(2, 20), (62, 20)])  # crosses the selection
    alpha = layer_named(win, "Paint").pixels.to_array()[..., 3]
    assert alpha[20, 20] > 0 and alpha[20, 4] == 0 and alpha[20, 30] == 0

    key(win, "M")
    click(win, 32, 32)  # a click deselects
    assert win.session.doc.selection is None
    key(win, "Ctrl+Z")
    assert win.session.doc.selection is not None


def test_ellipse_and_lasso_select_and_the_select_menu(canvas_window, qtbot):
    win = canvas_window
    key(win, "O")
    drag(win, [(10, 10), (50, 50)])
    mask = win.session.doc.selection.mask
    assert mask[30, 30] == 255 and mask[11, 11] == 0
    key(win, "L")
    drag(win, [(5, 5), (30, 5), (30, 30), (5, 30), (5, 6)])
    box = win.session.doc.selection.bbox()  # anti-aliased edge: within a pixel
    assert abs(box.x - 5) <= 1 and abs(box.right - 30) <= 1 and abs(box.bottom - 30) <= 1
    key(win, "Ctrl+Shift+I")
    assert win.session.doc.selection.mask[10, 10] == 0
    key(win, "Ctrl+A")
    assert win.session.doc.selection.mask.all()
    key(win, "Ctrl+D")
    assert win.session.doc.selection is None
    drag(win, [(20, 20), (40, 20), (40, 40), (20, 40)])
    assert win.selection_edits.change("grow", 4)
    assert win.session.doc.selection.bbox() == Rect(16, 16, 28, 28)
    assert win.selection_edits.crop_to_selection()
    assert win.session.doc.size == (28, 28)
    key(win, "Ctrl+Z")
    assert win.session.doc.size == (64, 64)


def test_move_and_crop_tools(canvas_window, qtbot):
    win = canvas_window
    paint = layer_named(win, "Paint")
    win.session.set_active(paint.id)
    drag(win, [(10, 10), (12, 10)])
    before = paint.pixels.to_array()
    key(win, "V")
    drag(win, [(11, 10), (21, 15), (31, 20)])
    after = layer_named(win, "Paint").pixels.to_array()
    assert np.array_equal(after[20:40, 30:52], before[10:30, 10:32])
    assert layer_named(win, "Paint").visible and not win.canvas.floating.isVisible()
    assert win.history_panel.labels()[-1] == "Move layer"

    key(win, "C")
    drag(win, [(16, 8), (48, 40)])
    assert win.session.doc.size == (32, 32)
    assert win.canvas.cache.size == (32, 32)
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())


def test_a_stroke_on_a_big_document_redraws_only_what_it_touched(canvas_window, qtbot):
    """4096 x 4096 with 10 layers: a stroke recomposites small rectangles, never the canvas."""
    win = canvas_window
    size = (4096, 4096)
    layers = [RasterLayer.blank(size, name=f"L{i}") for i in range(10)]
    layers[0].pixels.write(0, 0, np.full((512, 4096, 4), 200, np.uint8))
    win.files.new(Document(size, layers))
    win.canvas.actions_by_name["actual"].trigger()
    win.canvas.centerOn(2048, 2048)
    refreshed: list[Rect] = []
    original = win.canvas.cache.refresh

    def spy(rect):
        part = original(rect)
        refreshed.append(part)
        return part

    win.canvas.cache.refresh = spy
    key(win, "B")
    drag(win, [(2000 + 4 * i, 2040 + i) for i in range(40)])
    assert refreshed and max(r.area for r in refreshed if r) <= 512 * 512
    assert win.session.history.nbytes < 4 * 256 * 256 * 4  # a few tiles of undo, not a copy


def pen_stroke(win, pressure: float, y: float) -> None:
    """A stylus stroke across the canvas at one pressure (QTabletEvents, as a tablet sends)."""
    device = QPointingDevice(
        "pen",
        1,
        QInputDevice.DeviceType.Stylus,
        QPointingDevice.PointerType.Pen,
        QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
        1,
        3,
    )
    kinds = [QEvent.Type.TabletPress] + [QEvent.Type.TabletMove] * 8 + [QEvent.Type.TabletRelease]
    for step, kind in enumerate(kinds):
        pos = QPointF(view_point(win, 8 + 5 * step, y))
        button = Qt.MouseButton.LeftButton
        buttons = button if kind != QEvent.Type.TabletRelease else Qt.MouseButton.NoButton
        event = QTabletEvent(
            kind, device, pos, pos, pressure, 0, 0, 0, 0, 0, NO_MODS, button, buttons
        )
        QApplication.sendEvent(win.canvas.viewport(), event)


def test_pen_pressure_makes_thinner_lines(canvas_window, qtbot):
    win = canvas_window
    win.session.set_active(layer_named(win, "Paint").id)
    win.toolbox.choose("brush")
    win.canvas.settings.size = 16
    pen_stroke(win, 1.0, 16)
    pen_stroke(win, 0.25, 48)
    alpha = layer_named(win, "Paint").pixels.to_array()[..., 3]
    heavy, light = (alpha[:32, 30] > 128).sum(), (alpha[32:, 30] > 128).sum()
    assert heavy >= 14 and 2 <= light <= 6  # 16 px at full pressure, about 4 px at 0.25
    assert win.history_panel.labels()[1:] == ["Paint stroke", "Paint stroke"]


def test_middle_button_and_space_drag_pan_and_the_wheel_zooms(canvas_window, qtbot):
    win = canvas_window
    canvas, viewport = win.canvas, win.canvas.viewport()
    canvas.actions_by_name["actual"].trigger()
    bar = canvas.horizontalScrollBar()
    start = bar.value()
    QTest.mousePress(viewport, Qt.MouseButton.MiddleButton, NO_MODS, QPoint(200, 200))
    QTest.mouseMove(viewport, QPoint(150, 200))
    QTest.mouseRelease(viewport, Qt.MouseButton.MiddleButton, NO_MODS, QPoint(150, 200))
    assert bar.value() == start + 50
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    drag(win, [(10, 10), (20, 10)])  # pans instead of painting
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert bar.value() < start + 50
    assert not layer_named(win, "Paint").pixels.tiles
    before = canvas.zoom
    wheel = QWheelEvent(
        QPointF(100, 100), QPointF(100, 100), QPoint(0, 0), QPoint(0, 120),
        Qt.MouseButton.NoButton, NO_MODS, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(viewport, wheel)
    assert canvas.zoom > before
    touchpad = QWheelEvent(
        QPointF(100, 100), QPointF(100, 100), QPoint(0, -30), QPoint(0, -30),
        Qt.MouseButton.NoButton, NO_MODS, Qt.ScrollPhase.ScrollUpdate, False,
    )  # fmt: skip
    zoom, top = canvas.zoom, canvas.verticalScrollBar().value()
    QApplication.sendEvent(viewport, touchpad)
    assert canvas.zoom == zoom and canvas.verticalScrollBar().value() == top + 30
