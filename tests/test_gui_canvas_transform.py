"""Move the selection's contents with the move tool, free transform (Ctrl+T) and layer
groups from the Layer menu, driven with the mouse and the keyboard; each undoes in one step."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.model.commands import write_pixels
from app.model.layers import GroupLayer
from app.model.tiles import Rect
from app.ui.free_transform import FreeTransformDialog
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    LEFT,
    NO_MODS,
    canvas_window_fixture,
    drag,
    key,
    layer_named,
    qt_loop,
    view_point,
)

RED = (255, 0, 0, 255)
SQUARE = Rect(10, 10, 20, 20)


def red_square(win, rect: Rect = SQUARE) -> np.ndarray:
    """Fill `rect` of the Paint layer with red (one undo step); returns the layer's pixels."""
    paint = layer_named(win, "Paint")
    win.session.set_active(paint.id)
    block = np.zeros((rect.h, rect.w, 4), np.uint8)
    block[:] = RED
    win.session.history.push(write_pixels(win.session.doc, paint.id, rect.x, rect.y, block))
    return paint.pixels.to_array()


def test_the_move_tool_drags_the_selected_pixels_and_the_selection(canvas_window, qtbot):
    win = canvas_window
    before = red_square(win)
    key(win, "M")
    drag(win, [(10, 10), (20, 30)])  # the left half of the square
    steps = len(win.session.history.entries())
    key(win, "V")
    viewport = win.canvas.viewport()
    QTest.mousePress(viewport, LEFT, NO_MODS, view_point(win, 12, 12))
    QTest.mouseMove(viewport, view_point(win, 22, 17))
    paint = layer_named(win, "Paint")
    assert win.canvas.floating.isVisible()
    assert paint.pixels.to_array()[15, 15, 3] == 0  # cut out while it floats
    assert win.canvas.outline.pos().x() == 10  # the outline travels along
    QTest.mouseMove(viewport, view_point(win, 42, 22))
    QTest.mouseRelease(viewport, LEFT, NO_MODS, view_point(win, 42, 22))

    after = paint.pixels.to_array()
    assert np.array_equal(after[20:40, 40:50], before[10:30, 10:20])  # dropped at +30, +10
    assert after[15, 15, 3] == 0 and tuple(after[15, 25]) == RED  # the right half stayed
    assert win.session.doc.selection.bbox() == Rect(40, 20, 10, 20)
    assert not win.canvas.floating.isVisible() and win.canvas.outline.pos().x() == 0
    assert len(win.session.history.entries()) == steps + 1
    assert win.history_panel.labels()[-1] == "Move selection"
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())

    key(win, "Ctrl+Z")
    assert np.array_equal(paint.pixels.to_array(), before)
    assert win.session.doc.selection.bbox() == Rect(10, 10, 10, 20)
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())


def answer_transform(width: float, angle: float, seen: list[str]) -> None:
    """Fill in the next free transform dialog and press Enter."""

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, FreeTransformDialog):
            QTimer.singleShot(20, fill)
            return
        seen.append(dialog.windowTitle())
        dialog.width_spin.setValue(width)
        dialog.angle.setValue(angle)
        QTest.keyClick(dialog, Qt.Key.Key_Return)

    QTimer.singleShot(0, fill)


def transform_keys(win, qtbot) -> None:
    """Ctrl+T, then wait until the window is active again (the dialog gone)."""
    key(win, "Ctrl+T")
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


def test_ctrl_t_scales_the_layer_and_rotates_the_selection(canvas_window, qtbot):
    win = canvas_window
    before = red_square(win, Rect(24, 24, 16, 16))
    paint = layer_named(win, "Paint")
    seen: list[str] = []
    answer_transform(150, 0, seen)
    transform_keys(win, qtbot)
    assert seen == ["Free transform layer"]
    alpha = paint.pixels.to_array()[..., 3]  # 150 % about the centre: 20..44, soft edge
    assert alpha[20:44, 20:44].min() > 100 and alpha[21:43, 21:43].min() == 255
    assert alpha[18].max() == 0 and alpha[:, 45].max() == 0
    assert win.history_panel.labels()[-1] == "Transform layer"
    key(win, "Ctrl+Z")
    assert np.array_equal(paint.pixels.to_array(), before)

    win.selection_edits.select_all()
    key(win, "Ctrl+D")
    key(win, "M")
    drag(win, [(24, 24), (40, 32)])  # the top half of the square
    answer_transform(100, 90, seen)
    transform_keys(win, qtbot)
    assert seen[-1] == "Free transform selection"
    alpha = paint.pixels.to_array()[..., 3]
    assert alpha[20, 32] > 200 and alpha[21, 29] > 200  # the half turned upright
    assert alpha[21, 26] == 0 and alpha[28, 25] == 0  # its left end moved away
    box = win.session.doc.selection.bbox()
    assert abs(box.w - 8) <= 2 and abs(box.h - 16) <= 2
    key(win, "Ctrl+Z")
    assert np.array_equal(paint.pixels.to_array(), before)


def test_esc_cancels_the_free_transform(canvas_window, qtbot):
    win = canvas_window
    before = red_square(win)
    steps = len(win.session.history.entries())

    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, FreeTransformDialog):
            QTimer.singleShot(20, cancel)
            return
        dialog.width_spin.setValue(300)
        QTest.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(0, cancel)
    win.transform_action.trigger()
    assert len(win.session.history.entries()) == steps
    assert np.array_equal(layer_named(win, "Paint").pixels.to_array(), before)


def test_group_and_ungroup_from_the_layer_menu(canvas_window, qtbot):
    win = canvas_window
    red_square(win)
    tree = win.layers_panel.tree
    key(win, "Ctrl+G")
    group = win.session.active
    assert isinstance(group, GroupLayer) and [c.name for c in group.children] == ["Paint"]
    assert [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())] == [
        "Group 1",
        "Background",
    ]
    assert tree.topLevelItem(0).child(0).text(0) == "Paint"  # shown indented under it
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())
    assert tuple(win.session.doc.composite()[15, 15]) == RED

    key(win, "B")
    drag(win, [(40, 40), (50, 50)])  # a group holds no pixels: a clear message, no edit
    assert "groups hold no pixels" in win.statusBar().currentMessage()
    assert win.history_panel.labels()[-1] == "Group layer"

    key(win, "Ctrl+Shift+G")
    assert [lay.name for lay in win.session.doc.layers] == ["Background", "Paint"]
    assert win.session.active.name == "Paint"
    key(win, "Ctrl+Z")
    assert [lay.name for lay in win.session.doc.layers] == ["Background", "Group 1"]
    key(win, "Ctrl+Z")
    assert [lay.name for lay in win.session.doc.layers] == ["Background", "Paint"]
    assert tree.topLevelItem(0).childCount() == 0
