"""Cut, copy and paste in the model: what a copy takes, what a cut clears (one undo step),
where a paste lands, and the origin kept beside the image on the clipboard."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import history_names as names
from app.model.clip import (
    NOT_COPYABLE,
    NOT_CUTTABLE,
    Clip,
    clip_document,
    copy_layer,
    copy_merged,
    cut_layer,
    cut_off,
    origin_text,
    parse_origin,
    paste_position,
    pasted_layer,
)
from app.model.document import MAX_CANVAS_SIDE, Document
from app.model.history import History
from app.model.layers import GroupLayer, MaskLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import Rect

SIZE = (300, 200)
RED = (255, 0, 0, 255)


def painted_doc() -> tuple[Document, RasterLayer]:
    """A white background under a layer with a red 40x30 block at (100, 50)."""
    white = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
    block = np.zeros((30, 40, 4), np.uint8)
    block[:] = RED
    paint = RasterLayer.from_array(block, SIZE, 100, 50, name="Paint")
    return Document(SIZE, [RasterLayer.from_array(white), paint]), paint


def test_copy_without_a_selection_takes_the_layer_content_where_it_is():
    doc, paint = painted_doc()
    clip = copy_layer(doc, paint.id)
    assert clip.origin == (100, 50) and clip.size == (40, 30)
    assert (clip.pixels == RED).all()


def test_copy_takes_the_selected_rectangle_and_soft_edges_go_into_alpha():
    doc, paint = painted_doc()
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    mask[40:60, 90:110] = 255
    mask[40:60, 90] = 64  # a soft left edge, over empty pixels
    mask[40:60, 109] = 128  # a soft right edge, over red
    doc.selection = Selection(mask)
    clip = copy_layer(doc, paint.id)
    assert clip.origin == (90, 40) and clip.size == (20, 20)
    assert tuple(clip.pixels[15, 19]) == (255, 0, 0, 128)
    assert tuple(clip.pixels[0, 0]) == (0, 0, 0, 0)  # empty stays empty, selected or not
    assert tuple(clip.pixels[15, 15]) == RED


def test_copy_of_nothing_says_so():
    doc, paint = painted_doc()
    doc.selection = Selection.rectangle(SIZE, Rect(0, 0, 20, 20))
    with pytest.raises(ValueError, match="nothing to copy: the layer is empty where the sel"):
        copy_layer(doc, paint.id)
    doc.selection = None
    empty = RasterLayer.blank(SIZE)
    doc.insert(empty)
    with pytest.raises(ValueError, match="nothing to copy: the layer is empty.$"):
        copy_layer(doc, empty.id)


def test_masks_are_not_copied_and_only_pixel_layers_are_cut():
    doc, paint = painted_doc()
    mask = MaskLayer.blank(SIZE)
    group = GroupLayer(children=[])
    doc.insert(mask)
    doc.insert(group)
    with pytest.raises(ValueError, match=NOT_COPYABLE):
        copy_layer(doc, mask.id)
    with pytest.raises(ValueError, match=NOT_CUTTABLE):
        cut_layer(doc, group.id)


def test_copying_a_group_takes_its_layers_merged():
    doc, paint = painted_doc()
    doc.detach(paint.id)
    blue = np.zeros((10, 10, 4), np.uint8)
    blue[:] = (0, 0, 255, 255)
    over = RasterLayer.from_array(blue, SIZE, 130, 70)
    group = GroupLayer(children=[paint, over])
    doc.insert(group)
    clip = copy_layer(doc, group.id)
    assert clip.origin == (100, 50) and clip.size == (40, 30)
    assert tuple(clip.pixels[0, 0]) == RED and tuple(clip.pixels[25, 35]) == (0, 0, 255, 255)


def test_copy_merged_takes_the_visible_image():
    doc, _ = painted_doc()
    doc.selection = Selection.rectangle(SIZE, Rect(95, 45, 10, 10))
    clip = copy_merged(doc)
    assert clip.origin == (95, 45)
    assert tuple(clip.pixels[0, 0]) == (255, 255, 255, 255) and tuple(clip.pixels[9, 9]) == RED


def test_cut_clears_what_it_copies_in_one_undo_step():
    doc, paint = painted_doc()
    before = paint.pixels.to_array()
    doc.selection = Selection.rectangle(SIZE, Rect(100, 50, 20, 30))  # the left half
    clip, edit = cut_layer(doc, paint.id)
    history = History(doc)
    history.push(edit)
    after = paint.pixels.to_array()
    assert (clip.pixels == RED).all() and clip.origin == (100, 50)
    assert not after[50:80, 100:120].any()
    assert (after[50:80, 120:140] == RED).all()
    assert [e.label for e in history.entries()] == [names.CUT_SELECTION]
    history.undo()
    assert np.array_equal(paint.pixels.to_array(), before)


def test_a_paste_lands_where_the_copy_came_from_else_in_the_middle_of_the_view():
    clip = Clip(np.zeros((20, 40, 4), np.uint8), (100, 50))
    assert paste_position(clip, SIZE, (10, 10)) == (100, 50)
    assert paste_position(clip, (90, 40), (30, 20)) == (10, 10)  # its place is off this canvas
    outside = Clip(clip.pixels)
    assert paste_position(outside, SIZE, (150.4, 100)) == (130, 90)
    assert paste_position(outside, SIZE, (-500, 900)) == (-20, 190)  # view centre kept on canvas


def test_the_pasted_layer_has_the_canvas_size_and_is_cut_off_at_the_edges():
    pixels = np.zeros((20, 40, 4), np.uint8)
    pixels[:] = RED
    clip = Clip(pixels)
    layer = pasted_layer(clip, SIZE, (280, -5))
    assert layer.pixels.size == SIZE and layer.name == "Pasted"
    assert layer.pixels.bbox() == Rect(280, 0, 20, 15)
    assert cut_off(clip, SIZE, (280, -5)) and not cut_off(clip, SIZE, (0, 0))


def test_paste_as_new_image_makes_a_document_of_the_clip():
    pixels = np.full((20, 40, 4), 200, np.uint8)
    doc = clip_document(Clip(pixels, (5, 5)))
    assert doc.size == (40, 20) and np.array_equal(doc.layers[0].pixels.to_array(), pixels)
    huge = Clip(np.zeros((1, MAX_CANVAS_SIDE + 1, 4), np.uint8))
    with pytest.raises(ValueError, match="too large"):
        clip_document(huge)


def test_the_origin_round_trips_as_text_and_foreign_text_is_ignored():
    clip = Clip(np.zeros((1, 1, 4), np.uint8), (-7, 12))
    assert parse_origin(origin_text(clip)) == (-7, 12)
    assert parse_origin(origin_text(Clip(clip.pixels))) is None
    for text in ("", "not json", "[1, 2]", '{"x": 1.5, "y": 2}', '{"x": true, "y": 2}', b"\xff"):
        assert parse_origin(text) is None, text
