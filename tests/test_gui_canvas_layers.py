"""The Layers panel: its buttons, visibility eyes, opacity slider, blend modes and names
change the picture through undoable commands."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from app.model.layers import BlendMode
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    drag,
    layer_named,
    qt_loop,
)


def names_top_first(win) -> list[str]:
    tree = win.layers_panel.tree
    return [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]


def paint_red_square(win) -> None:
    win.session.set_active(layer_named(win, "Paint").id)
    win.toolbox.choose("brush")
    win.canvas.settings.color, win.canvas.settings.size = (255, 0, 0), 12
    drag(win, [(20, 20), (40, 20), (40, 40), (20, 40)])


def test_add_duplicate_reorder_and_hide_change_the_composite(canvas_window, qtbot):
    win = canvas_window
    actions = win.layer_actions
    assert names_top_first(win) == ["Paint", "Background"]
    paint_red_square(win)
    red = win.session.doc.composite()
    assert tuple(red[20, 30][:3]) == (255, 0, 0)

    actions.new.trigger()
    assert names_top_first(win) == ["Layer 3", "Paint", "Background"]
    assert win.session.active.name == "Layer 3"  # the new layer is the paint target

    win.session.set_active(layer_named(win, "Paint").id)
    actions.duplicate.trigger()
    assert names_top_first(win) == ["Layer 3", "Paint copy", "Paint", "Background"]

    win.session.set_active(layer_named(win, "Background").id)
    actions.raise_.trigger()
    actions.raise_.trigger()
    actions.raise_.trigger()
    assert names_top_first(win) == ["Background", "Layer 3", "Paint copy", "Paint"]
    assert tuple(win.session.doc.composite()[30, 40]) == (255, 255, 255, 255)  # covers red

    win.layers_panel.toggle_visibility(layer_named(win, "Background").id)  # its eye
    assert not layer_named(win, "Background").visible
    assert np.array_equal(win.session.doc.composite()[30, 40], red[30, 40])
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())

    for _ in range(6):  # hide, raise x3, duplicate, add
        win.undo_action.trigger()
    assert names_top_first(win) == ["Paint", "Background"]
    assert np.array_equal(win.session.doc.composite(), red)


def test_opacity_drag_is_one_undo_step_and_blend_and_rename_work(canvas_window, qtbot):
    win = canvas_window
    paint_red_square(win)
    panel = win.layers_panel
    steps = len(win.session.history.entries())
    panel.opacity.sliderPressed.emit()
    for value in (90, 70, 50):
        panel.opacity.setValue(value)
    panel.opacity.sliderReleased.emit()
    assert layer_named(win, "Paint").opacity == 0.5
    assert len(win.session.history.entries()) == steps + 1
    pixel = win.session.doc.composite()[30, 40]
    assert 120 <= pixel[1] <= 135  # half red over white
    win.undo_action.trigger()
    assert layer_named(win, "Paint").opacity == 1.0

    panel.blend.setCurrentIndex(list(BlendMode).index(BlendMode.MULTIPLY))
    panel.blend.activated.emit(list(BlendMode).index(BlendMode.MULTIPLY))
    assert layer_named(win, "Paint").blend is BlendMode.MULTIPLY

    panel.tree.setFocus()
    QTest.keyClick(panel.tree, Qt.Key.Key_F2)  # edit the name, as a double-click does
    qtbot.waitUntil(lambda: panel.tree.viewport().findChild(QLineEdit) is not None)
    editor = panel.tree.viewport().findChild(QLineEdit)
    editor.selectAll()
    QTest.keyClicks(editor, "Sky")
    QTest.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next loop turn
    qtbot.waitUntil(lambda: win.session.active.name == "Sky")
    assert win.session.active.name == "Sky"
    assert win.history_panel.labels()[-2:] == ["Change blend mode", "Rename layer"]


def test_merge_down_delete_and_flatten(canvas_window, qtbot):
    win = canvas_window
    paint_red_square(win)
    before = win.session.doc.composite()
    win.layer_actions.merge.trigger()
    assert names_top_first(win) == ["Background"]
    assert np.array_equal(win.session.doc.composite(), before)
    win.undo_action.trigger()
    win.layer_actions.new.trigger()
    win.layer_actions.flatten.trigger()
    assert names_top_first(win) == ["Background"]
    assert np.array_equal(win.session.doc.composite(), before)
    win.layer_actions.delete.trigger()
    assert names_top_first(win) == []
    assert not win.session.doc.composite()[..., 3].any()
    win.undo_action.trigger()
    assert names_top_first(win) == ["Background"]


def test_context_menu_offers_settings_only_for_generated_layers(canvas_window, qtbot):
    win = canvas_window
    menu = win.layers_panel.context_menu(layer_named(win, "Paint"))
    texts = {a.text(): a for a in menu.actions()}
    assert not texts["Reuse settings"].isEnabled() and not texts["Regenerate"].isEnabled()
    assert "Export layer\N{HORIZONTAL ELLIPSIS}" in texts
