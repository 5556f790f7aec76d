"""The Layers panel's eyes and thumbnails: an eye shows or hides its layer (by mouse, without
making it the active layer, or by Space on the current row), and each thumbnail is large, in
true colours, with a checkerboard where the layer is transparent."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from app.model.document import Document
from app.model.layers import RasterLayer
from app.ui.doc_session import DocumentSession
from app.ui.layer_actions import LayerActions
from app.ui.layer_thumbs import THUMB
from app.ui.layer_tree import EYE_COLUMN
from app.ui.layers_panel import LayersPanel
from tests.test_gui_thumbnails import drawn, solid


@pytest.fixture
def panel(qtbot):
    red = RasterLayer.from_array(solid((255, 0, 0), (64, 64)), name="Red")
    half = solid((0, 96, 255), (64, 64))
    half[:, :32, 3] = 0  # the left half transparent
    blue = RasterLayer.from_array(half, name="Blue")
    session = DocumentSession(Document((64, 64), [red, blue]))
    panel = LayersPanel(session, LayerActions(session))
    qtbot.addWidget(panel)
    panel.resize(320, 300)
    panel.show()
    session.set_active(blue.id)
    return panel


def layer(panel: LayersPanel, name: str) -> RasterLayer:
    return next(lay for lay in panel.session.doc.walk() if lay.name == name)


def click_eye(panel: LayersPanel, name: str, double: bool = False) -> None:
    item = panel.item_of(layer(panel, name).id)
    centre = panel.tree.eye_rect(item).center().toPoint()
    QTest.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    if double:
        QTest.mouseDClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def eye_pixels(panel: LayersPanel, name: str) -> np.ndarray:
    rect = panel.tree.eye_rect(panel.item_of(layer(panel, name).id)).toRect()
    shot = drawn(panel.tree.viewport())
    return shot[rect.top() : rect.bottom() + 1, rect.left() : rect.right() + 1]


def test_clicking_an_eye_hides_that_layer_and_keeps_the_active_one(panel):
    session, open_eye = panel.session, eye_pixels(panel, "Red")
    click_eye(panel, "Red")
    assert not layer(panel, "Red").visible
    assert session.active.name == "Blue"  # the click chose no layer
    assert tuple(session.doc.composite()[10, 10]) == (0, 0, 0, 0)  # red is gone
    assert session.history.undo_label == "Hide layer"
    closed_eye = eye_pixels(panel, "Red")
    assert not np.array_equal(open_eye, closed_eye)  # the eye is drawn closed
    assert panel.item_of(layer(panel, "Red").id).data(
        EYE_COLUMN, Qt.ItemDataRole.AccessibleTextRole
    ) == ("Hidden")

    click_eye(panel, "Red")
    assert layer(panel, "Red").visible and session.history.undo_label == "Show layer"
    assert np.array_equal(eye_pixels(panel, "Red"), open_eye)


def test_a_quick_second_click_on_an_eye_toggles_again_and_renames_nothing(panel):
    click_eye(panel, "Red", double=True)
    assert layer(panel, "Red").visible  # hidden, then shown again
    assert panel.tree.viewport().findChild(QLineEdit) is None


def test_space_shows_and_hides_the_current_layer(panel):
    panel.tree.setFocus()
    QTest.keyClick(panel.tree, Qt.Key.Key_Space)
    assert not layer(panel, "Blue").visible
    QTest.keyClick(panel.tree, Qt.Key.Key_Space)
    assert layer(panel, "Blue").visible
    panel.session.undo()
    assert not layer(panel, "Blue").visible


def test_the_context_menu_says_show_or_hide(panel):
    texts = [a.text() for a in panel.context_menu(layer(panel, "Red")).actions()]
    assert "Hide layer" in texts
    click_eye(panel, "Red")
    texts = [a.text() for a in panel.context_menu(layer(panel, "Red")).actions()]
    assert "Show layer" in texts and "Hide layer" not in texts


def test_thumbnails_are_large_true_coloured_and_checkered_where_transparent(panel):
    assert THUMB >= 48 and panel.tree.iconSize().width() == THUMB
    rect = panel.tree.visualItemRect(panel.item_of(layer(panel, "Blue").id))
    row = drawn(panel.tree.viewport())[rect.top() : rect.bottom() + 1, rect.left() :]
    ys, xs = np.nonzero((row == (0, 96, 255)).all(axis=-1))
    assert xs.max() - xs.min() + 1 >= 20 and ys.max() - ys.min() + 1 >= 44  # the opaque half
    left = row[ys.min() : ys.max() + 1, xs.min() - 20 : xs.min() - 2]
    greys = {tuple(p) for p in left.reshape(-1, 3) if p[0] == p[1] == p[2]}
    assert len(greys) >= 2  # light and dark squares behind the transparent half
