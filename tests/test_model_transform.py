"""Move, scale and rotate a layer or the selection's contents; group and ungroup layers:
pixels after the edit, undo restores exactly, deltas keep only the touched tiles."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.document import Document
from app.model.groups import group_layer, ungroup
from app.model.history import History
from app.model.layers import GroupLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import TILE, Rect
from app.model.transform import TransformPixels, scale_rotate, translation

RED = (255, 0, 0, 255)
SQUARE = Rect(20, 20, 40, 40)
SIZE = (4 * TILE, 4 * TILE)


def red_square_doc(rect: Rect = SQUARE) -> tuple[Document, RasterLayer, History]:
    pixels = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    pixels[rect.slices()] = RED
    pixels[300:310, 600:610] = (0, 0, 255, 255)  # far away, in another tile: never touched
    layer = RasterLayer.from_array(pixels, name="Paint")
    doc = Document(SIZE, [layer])
    return doc, layer, History(doc)


def test_moving_the_selection_moves_its_pixels_and_the_selection_and_undo_is_exact():
    doc, layer, history = red_square_doc()
    before = layer.pixels.to_array()
    doc.selection = Selection.rectangle(doc.size, Rect(20, 20, 20, 40))  # the left half
    command = TransformPixels(layer.id, translation(100, 10))
    history.push(command)
    after = layer.pixels.to_array()
    assert tuple(after[30, 25]) == (0, 0, 0, 0)  # lifted from here
    assert tuple(after[30, 50]) == RED  # the right half stayed
    assert tuple(after[40, 125]) == RED  # dropped here
    assert np.array_equal(after[after[..., 3] > 0].sum(0), before[before[..., 3] > 0].sum(0))
    assert doc.selection.bbox() == Rect(120, 30, 20, 40)
    assert set(command.delta.tiles) == {(0, 0)}  # only the touched tile is kept
    history.undo()
    assert np.array_equal(layer.pixels.to_array(), before)
    assert doc.selection.bbox() == Rect(20, 20, 20, 40)
    history.redo()
    assert np.array_equal(layer.pixels.to_array(), after)


def test_a_soft_selection_cuts_with_its_alpha():
    doc, layer, history = red_square_doc()
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    mask[20:60, 20:60] = 128
    doc.selection = Selection(mask)
    history.push(TransformPixels(layer.id, translation(200, 0)))
    out = layer.pixels.to_array()
    assert abs(int(out[30, 30, 3]) - 127) <= 1  # half stays behind
    assert abs(int(out[30, 230, 3]) - 128) <= 1  # half moves
    assert tuple(out[30, 230, :3]) == (255, 0, 0)


def test_moving_across_a_tile_edge_touches_only_those_tiles():
    doc, layer, history = red_square_doc()
    doc.selection = Selection.rectangle(doc.size, Rect(0, 0, 100, 100))
    command = TransformPixels(layer.id, translation(TILE, 0))
    history.push(command)
    assert set(command.delta.tiles) == {(0, 0), (1, 0)}
    assert tuple(layer.pixels.to_array()[30, TILE + 30]) == RED


def test_scaling_the_whole_layer_without_a_selection():
    doc, layer, history = red_square_doc(Rect(100, 100, 40, 40))
    layer.pixels.write(600, 300, np.zeros((10, 10, 4), np.uint8))  # only the square
    before = layer.pixels.to_array()
    command = TransformPixels(layer.id, scale_rotate((120, 120), 2, 2, 0))
    history.push(command)
    out = layer.pixels.to_array()
    assert tuple(out[90, 90]) == RED and tuple(out[139, 150]) == RED
    assert out[78, 120, 3] == 0 and out[161, 120, 3] == 0
    box = layer.pixels.bbox()
    assert box.x in (79, 80) and box.right in (160, 161)  # 80..160, with a soft edge
    assert doc.selection is None
    history.undo()
    assert np.array_equal(layer.pixels.to_array(), before)


def test_downscale_uses_area_averaging_and_keeps_colour():
    pixels = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    pixels[0:64, 0:64] = RED
    pixels[0:64:2, 0:64, :3] = (0, 0, 255)  # blue stripes every other row
    layer = RasterLayer.from_array(pixels)
    doc = Document(SIZE, [layer])
    History(doc).push(TransformPixels(layer.id, scale_rotate((0, 0), 0.5, 0.5, 0)))
    out = layer.pixels.to_array()
    assert layer.pixels.bbox() == Rect(0, 0, 32, 32)
    mean = out[4:28, 4:28, :3].reshape(-1, 3).mean(0)
    assert np.allclose(mean, (127.5, 0, 127.5), atol=3)  # averaged, no aliasing to one stripe


def test_rotating_the_selection_rotates_pixels_and_selection():
    doc, layer, history = red_square_doc(Rect(100, 140, 80, 20))  # a wide bar
    doc.selection = Selection.rectangle(doc.size, Rect(100, 140, 80, 20))
    before = layer.pixels.to_array()
    history.push(TransformPixels(layer.id, scale_rotate((140, 150), 1, 1, 90)))
    out = layer.pixels.to_array()
    assert tuple(out[115, 140]) == RED and tuple(out[185, 140]) == RED  # now tall
    assert out[150, 105, 3] == 0 and out[150, 175, 3] == 0
    box = doc.selection.bbox()
    assert abs(box.w - 20) <= 2 and abs(box.h - 80) <= 2
    assert tuple(out[305, 605]) == (0, 0, 255, 255)
    history.undo()
    assert np.array_equal(layer.pixels.to_array(), before)


def test_transform_refuses_groups_and_empty_sources():
    doc, layer, history = red_square_doc()
    doc.selection = Selection.rectangle(doc.size, Rect(800, 800, 10, 10))  # nothing there
    with pytest.raises(ValueError, match="nothing to transform"):
        history.push(TransformPixels(layer.id, translation(5, 5)))
    history.push(group_layer(doc, layer.id))
    with pytest.raises(ValueError, match="pixel layer"):
        history.push(TransformPixels(doc.layers[0].id, translation(5, 5)))


def test_group_and_ungroup_are_one_undo_step_each():
    a, b, c = (RasterLayer.blank((8, 8), name=n) for n in "abc")
    doc = Document((8, 8), [a, b, c])
    history = History(doc)
    command = group_layer(doc, b.id, "G")
    history.push(command)
    group = command.commands[0].layer
    assert [lay.name for lay in doc.layers] == ["a", "G", "c"]
    assert isinstance(doc.layers[1], GroupLayer) and doc.layers[1].children == [b]
    assert history.undo_label == "Group layer"
    history.push(group_layer(doc, c.id, "H"))
    history.push(group_layer(doc, a.id, "I"))
    assert [lay.name for lay in doc.layers] == ["I", "G", "H"]
    history.undo()
    history.undo()
    history.push(ungroup(doc, group.id))
    assert [lay.name for lay in doc.layers] == ["a", "b", "c"]
    history.undo()
    assert [lay.name for lay in doc.layers] == ["a", "G", "c"]
    history.undo()
    assert [lay.name for lay in doc.layers] == ["a", "b", "c"]


def test_ungroup_keeps_the_childrens_order():
    kids = [RasterLayer.blank((8, 8), name=n) for n in "xyz"]
    group = GroupLayer(name="G", children=list(kids))
    doc = Document((8, 8), [RasterLayer.blank((8, 8), name="bottom"), group])
    History(doc).push(ungroup(doc, group.id))
    assert [lay.name for lay in doc.layers] == ["bottom", "x", "y", "z"]
