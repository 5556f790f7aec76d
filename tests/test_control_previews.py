"""The canvas's control previews (app.ui.control_previews, no widgets needed): a map drawn
over the picture in the layer's place, what to redraw when a map changes, and the rests
that keep a large canvas's strokes smooth while its map is remade."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.model.control_layers import add_control_layer, control_map_of
from app.model.document import Document
from app.model.tiles import Rect
from app.ui.control_previews import LINE_TINT, PREVIEW_STRENGTH, ControlPreviews

SIZE = (96, 64)
BLACK = np.full((8, 8, 4), (0, 0, 0, 255), np.uint8)


def scribble_doc():
    doc = Document(SIZE)
    command = add_control_layer(doc, "scribble")
    command.do(doc)
    command.layer.pixels.write(10, 10, BLACK)
    return doc, command.layer


@pytest.fixture
def unhurried(monkeypatch):
    """Time between calls far longer than any map takes: the previews never rest."""
    ticks = itertools.count(step=60.0)
    monkeypatch.setattr("app.ui.control_previews.time.monotonic", lambda: next(ticks))


def test_a_line_map_is_tinted_over_the_picture_and_its_changes_are_found(unhurried):
    doc, layer = scribble_doc()
    previews = ControlPreviews()
    area = previews.stale_area(doc)
    assert area is not None and area.x <= 10 and area.right >= 18  # the new layer's lines
    white = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
    shown = previews.paint(white, doc, doc.rect).astype(int)
    expected = LINE_TINT * PREVIEW_STRENGTH + 255 * (1 - PREVIEW_STRENGTH)
    assert np.abs(shown[14, 14, :3] - expected).max() <= 1
    assert tuple(shown[40, 60]) == (255, 255, 255, 255)
    assert previews.stale_area(doc) is None  # nothing changed
    layer.pixels.write(70, 40, BLACK)
    moved = previews.stale_area(doc)
    assert moved is not None and moved.x >= 60 and moved.y >= 30  # only the new lines
    layer.visible = False
    gone = previews.stale_area(doc)
    assert gone is not None and gone.x <= 10 and gone.right >= 78
    assert np.array_equal(previews.paint(white, doc, doc.rect), white)


def test_while_resting_the_last_map_stays_and_a_redraw_is_asked_for(monkeypatch):
    doc, layer = scribble_doc()
    previews = ControlPreviews()
    previews.stale_area(doc)
    first = control_map_of(layer)
    clock = [1000.0]
    monkeypatch.setattr("app.ui.control_previews.time.monotonic", lambda: clock[0])
    previews._rest_until = 1000.5  # as after a map that took half a second
    layer.pixels.write(70, 40, BLACK)
    assert previews.stale_area(doc) is None and previews.pending
    assert previews.shown[layer.id] is first
    clock[0] = 1001.0
    area = previews.stale_area(doc)
    assert not previews.pending and area is not None and area.x >= 60
    part = Rect(70, 40, 8, 8)
    assert previews.paint(np.zeros((8, 8, 4), np.uint8), doc, part).any()
