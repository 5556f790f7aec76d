"""Brush, eraser, fill and selections: pixels change only where they should, undo is exact."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.brush import Brush, Stroke, dab_mask, flood_fill, paint_stroke, pick_color
from app.model.document import Document
from app.model.history import History
from app.model.layers import MaskLayer, RasterLayer
from app.model.selection import Combine, Selection
from app.model.tiles import TILE, Rect, union_rects

SIZE = (700, 600)


def noise_doc() -> Document:
    pixels = np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0], 4), dtype=np.uint8)
    return Document(SIZE, [RasterLayer.from_array(pixels, name="paint")])


def test_dab_is_full_in_the_middle_and_empty_outside():
    rect, cover = dab_mask(50.0, 40.0, 20.0, 0.5)
    assert rect == Rect(40, 30, 20, 20) and cover.shape == (20, 20)
    assert cover[10, 10] == pytest.approx(1.0, abs=1e-3)
    assert cover[0, 0] == 0 and cover[10, 0] < 0.1
    assert np.allclose(cover, cover[::-1, ::-1], atol=1e-5)  # round and centred


def test_stroke_changes_only_its_dirty_rect_and_undoes_exactly():
    doc = noise_doc()
    layer = doc.layers[0]
    before = layer.pixels.to_array()
    history = History(doc)
    stroke = Stroke(layer, Brush(size=24, color=(255, 0, 0)))
    dirty = [stroke.add_point(x, 300.0 + x / 10) for x in range(100, 420, 7)]
    command = stroke.finish()
    history.push(command)
    rect = union_rects(dirty)
    after = layer.pixels.to_array()
    changed = np.argwhere((after != before).any(axis=2))
    assert changed.size
    ys, xs = changed[:, 0], changed[:, 1]
    assert xs.min() >= rect.x and xs.max() < rect.right
    assert ys.min() >= rect.y and ys.max() < rect.bottom
    # the delta holds the touched tiles only
    assert set(command.delta.tiles) == {(0, 1), (1, 1)}
    assert len(history.entries()) == 1 and history.undo_label == "Paint stroke"
    history.undo()
    assert np.array_equal(layer.pixels.to_array(), before)
    history.redo()
    assert np.array_equal(layer.pixels.to_array(), after)


def test_spacing_places_dabs_along_the_path():
    layer = RasterLayer.blank(SIZE)
    stroke = Stroke(layer, Brush(size=20, spacing=0.25))
    stroke.add_point(10, 10)
    for x in range(20, 211, 10):  # 200 px in small moves
        stroke.add_point(x, 10)
    assert stroke.dabs == 1 + 200 // 5


def test_overlapping_dabs_do_not_build_up_past_the_brush_opacity():
    layer = RasterLayer.blank(SIZE)
    brush = Brush(size=30, hardness=1.0, opacity=0.5, color=(0, 0, 255))
    stroke = Stroke(layer, brush)
    for x in range(200, 260):
        stroke.add_point(float(x), 200.0)
    stroke.finish()
    alpha = layer.pixels.read(Rect(200, 200, 60, 1))[0, :, 3]
    assert alpha.max() == 128 and alpha.min() == 128
    assert layer.pixels.read(Rect(230, 200, 1, 1))[0, 0].tolist() == [0, 0, 255, 128]
    paint_stroke(layer, brush, [(230, 200, 1)])  # a second stroke does build on the first
    assert layer.pixels.read(Rect(230, 200, 1, 1))[0, 0, 3] == 192  # 128 + 0.5 * 127


def test_pressure_scales_size_and_opacity():
    light = RasterLayer.blank(SIZE)
    paint_stroke(light, Brush(size=40, pressure_opacity=True), [(100, 100, 0.25)])
    pixels = light.pixels.read(Rect(60, 60, 80, 80))
    assert pixels[40, 40, 3] == 64  # a quarter of the opacity
    assert (pixels[..., 3] > 0).any(axis=0).sum() <= 11  # a quarter of the size (10 px)


def test_eraser_lowers_alpha_and_keeps_colour():
    doc = Document(SIZE, [RasterLayer.from_array(np.full((SIZE[1], SIZE[0], 4), 200, np.uint8))])
    layer = doc.layers[0]
    paint_stroke(layer, Brush(size=10, hardness=1.0, eraser=True, opacity=0.5), [(50, 50, 1)])
    assert layer.pixels.read(Rect(50, 50, 1, 1))[0, 0].tolist() == [200, 200, 200, 100]


def test_selection_limits_the_brush():
    layer = RasterLayer.blank(SIZE)
    selection = Selection.rectangle(SIZE, Rect(0, 0, 100, 600))
    paint_stroke(layer, Brush(size=50), [(90, 50, 1), (130, 50, 1)], selection)
    assert layer.pixels.bbox().right == 100


def test_painting_a_mask_layer():
    mask = MaskLayer.blank(SIZE)
    command, rect = paint_stroke(mask, Brush(size=10, hardness=1.0), [(20, 20, 1)])
    assert mask.pixels.read(Rect(20, 20, 1, 1))[0, 0, 0] == 255
    assert rect == Rect(15, 15, 10, 10)
    paint_stroke(mask, Brush(size=10, hardness=1.0, eraser=True), [(20, 20, 1)])
    assert mask.pixels.read(Rect(20, 20, 1, 1))[0, 0, 0] == 0
    assert command is not None


def test_flood_fill_fills_the_enclosed_region_only():
    pixels = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    pixels[..., 3] = 255
    pixels[100:300, 100:300] = (250, 250, 250, 255)  # a white square with a dark hole
    pixels[150:160, 150:160] = (0, 0, 0, 255)
    pixels[120:130, 400:410] = (250, 250, 250, 255)  # same colour elsewhere, not connected
    doc = Document(SIZE, [RasterLayer.from_array(pixels)])
    layer = doc.layers[0]
    history = History(doc)
    command, rect = flood_fill(layer, 120, 120, (255, 0, 0), tolerance=10)
    history.push(command)
    out = layer.pixels.to_array()
    assert rect == Rect(100, 100, 200, 200)
    assert out[200, 200].tolist() == [255, 0, 0, 255]
    assert out[155, 155].tolist() == [0, 0, 0, 255]
    assert out[125, 405].tolist() == [250, 250, 250, 255]
    assert set(command.delta.tiles) == {(0, 0), (1, 0), (0, 1), (1, 1)}
    history.undo()
    assert np.array_equal(layer.pixels.to_array(), pixels)


def test_pick_color_reads_the_visible_image():
    doc = noise_doc()
    top = RasterLayer.blank(SIZE)
    top.pixels.write(5, 5, np.array([[[10, 20, 30, 255]]], np.uint8))
    doc.root.children.append(top)
    assert pick_color(doc, 5, 5) == (10, 20, 30, 255)


# ---- selections ------------------------------------------------------------------------------


def test_rectangle_selection_and_its_bbox():
    sel = Selection.rectangle(SIZE, Rect(-10, 20, 100, 30))
    assert sel.bbox() == Rect(0, 20, 90, 30)
    assert Selection.empty(SIZE).bbox() is None and Selection.empty(SIZE).is_empty
    inverted = sel.invert()
    assert inverted.mask[0, 0] == 255 and inverted.mask[25, 5] == 0


def test_ellipse_selection_is_round_and_soft_edged():
    sel = Selection.ellipse(SIZE, Rect(100, 100, 200, 200))
    area = sel.mask.astype(float).sum() / 255
    assert area == pytest.approx(np.pi * 100**2, rel=0.01)
    assert sel.mask[200, 200] == 255 and sel.mask[100, 100] == 0
    assert 0 < len(np.unique(sel.mask)) > 2  # anti-aliased
    assert sel.bbox() == Rect(100, 100, 200, 200)


def test_lasso_selection_is_the_polygon():
    sel = Selection.lasso(SIZE, [(100, 100), (300, 100), (100, 300)])
    area = sel.mask.astype(float).sum() / 255
    assert area == pytest.approx(200 * 200 / 2, rel=0.01)
    assert sel.mask[120, 120] == 255 and sel.mask[290, 290] == 0


def test_grow_shrink_and_feather():
    sel = Selection.rectangle(SIZE, Rect(200, 200, 100, 100))
    assert sel.grow(10).bbox() == Rect(190, 190, 120, 120)
    assert sel.shrink(10).bbox() == Rect(210, 210, 80, 80)
    feathered = sel.feather(20)
    row = feathered.mask[250, 170:231].astype(int)
    assert row[0] == 0 and row[-1] == 255 and (np.diff(row) >= 0).all()
    edge = feathered.mask[250, 199:201].astype(int)  # the edge lies between these pixels
    assert edge.mean() == pytest.approx(127.5, abs=2)
    assert sel.grow(0) is sel and sel.feather(0) is sel


def test_combining_selections():
    a = Selection.rectangle(SIZE, Rect(0, 0, 100, 100))
    b = Selection.rectangle(SIZE, Rect(50, 50, 100, 100))
    assert a.combine(b, Combine.ADD).bbox() == Rect(0, 0, 150, 150)
    assert a.combine(b, "intersect").bbox() == Rect(50, 50, 50, 50)
    assert a.combine(b, Combine.SUBTRACT).mask[75, 75] == 0
    assert a.combine(b, Combine.REPLACE) is b
    assert b.crop(Rect(140, 140, 20, 20))[:10, :10].all()
    with pytest.raises(ValueError):
        a.mask[0, 0] = 1  # a selection is a value


def test_painting_across_many_tiles_only_copies_the_touched_ones():
    layer = RasterLayer.from_array(np.full((2048, 2048, 4), 7, np.uint8))
    command, _ = paint_stroke(layer, Brush(size=8), [(TILE * 3 + 10, TILE * 5 + 10, 1)])
    assert set(command.delta.tiles) == {(3, 5)}
