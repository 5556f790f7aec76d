"""Layers and compositing: blend-mode formulas on known pixels, opacity, masks, groups."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.compositing import bake, composite
from app.model.document import Document, LayerNotFound
from app.model.layers import BlendMode, GroupLayer, MaskLayer, RasterLayer
from app.model.tiles import Rect
from app.model.timeline import Timeline

SIZE = (300, 280)  # not a multiple of the tile size


def solid(rgba: tuple[int, int, int, int], size=SIZE, **props) -> RasterLayer:
    pixels = np.empty((size[1], size[0], 4), np.uint8)
    pixels[:] = rgba
    return RasterLayer.from_array(pixels, **props)


def reference(backdrop, source, mode: str) -> np.ndarray:
    """W3C compositing of one straight-alpha pixel over another, in floats (0..255)."""
    cb, ab = np.array(backdrop[:3]) / 255, backdrop[3] / 255
    cs, as_ = np.array(source[:3]) / 255, source[3] / 255
    b = {
        "normal": cs,
        "multiply": cb * cs,
        "screen": cb + cs - cb * cs,
        "overlay": np.where(cb <= 0.5, 2 * cb * cs, 1 - 2 * (1 - cb) * (1 - cs)),
        "darken": np.minimum(cb, cs),
        "lighten": np.maximum(cb, cs),
    }[mode]
    ao = as_ + ab * (1 - as_)
    co = as_ * (1 - ab) * cs + as_ * ab * b + (1 - as_) * ab * cb
    return np.append(co / ao * 255, ao * 255)


@pytest.mark.parametrize("mode", [m.value for m in BlendMode])
@pytest.mark.parametrize(
    ("backdrop", "source"),
    [
        ((200, 100, 50, 255), (100, 200, 250, 255)),
        ((40, 220, 128, 255), (230, 10, 128, 160)),
        ((90, 180, 30, 100), (250, 60, 120, 200)),
    ],
)
def test_blend_modes_match_the_w3c_formulas(mode, backdrop, source):
    layers = [solid(backdrop), solid(source, blend=mode)]
    got = composite(layers, Rect(10, 10, 4, 4))
    expected = reference(backdrop, source, mode)
    assert np.abs(got.astype(float) - expected).max() <= 1.0, (got[0, 0], expected)


def test_known_values_for_multiply_and_screen():
    bottom, top = (200, 100, 50, 255), (100, 200, 250, 255)
    mul = composite([solid(bottom), solid(top, blend="multiply")], Rect(0, 0, 1, 1))[0, 0]
    scr = composite([solid(bottom), solid(top, blend="screen")], Rect(0, 0, 1, 1))[0, 0]
    assert mul.tolist() == [78, 78, 49, 255]  # 200*100/255, 100*200/255, 50*250/255
    assert scr.tolist() == [222, 222, 251, 255]


def test_one_layer_composites_to_its_exact_pixels():
    pixels = np.random.default_rng(1).integers(0, 256, (SIZE[1], SIZE[0], 4), dtype=np.uint8)
    got = composite([RasterLayer.from_array(pixels)], Rect(0, 0, *SIZE))
    visible = pixels[..., 3] > 0
    assert np.array_equal(got[visible], pixels[visible])
    assert not got[~visible].any()  # fully transparent pixels come out as 0, 0, 0, 0


def test_opacity_hidden_layers_and_standalone_masks():
    white, red = solid((255, 255, 255, 255)), solid((255, 0, 0, 255), opacity=0.5)
    assert composite([white, red], Rect(0, 0, 1, 1))[0, 0].tolist() == [255, 128, 128, 255]
    red.visible = False
    assert composite([white, red], Rect(0, 0, 1, 1))[0, 0].tolist() == [255, 255, 255, 255]
    mask = MaskLayer.blank(SIZE, fill=255)
    assert composite([white, mask], Rect(0, 0, 1, 1))[0, 0].tolist() == [255, 255, 255, 255]


def test_layer_mask_hides_and_reveals():
    mask = MaskLayer.from_array(np.zeros((SIZE[1], SIZE[0]), np.uint8))
    mask.pixels.write(0, 0, np.full((1, 2), 255, np.uint8))
    layer = solid((10, 20, 30, 255), mask=mask)
    row = composite([layer], Rect(0, 0, 4, 1))[0]
    assert row[:2, 3].tolist() == [255, 255] and row[2:, 3].tolist() == [0, 0]
    mask.visible = False  # a disabled mask hides nothing
    assert composite([layer], Rect(0, 0, 4, 1))[0, :, 3].tolist() == [255] * 4


def test_groups_are_isolated_and_apply_their_opacity():
    white = solid((255, 255, 255, 255))
    multiply = solid((100, 100, 100, 255), blend="multiply")
    # Inside a group the multiply layer has nothing below it, so the group shows it plainly.
    group = GroupLayer(children=[multiply], opacity=0.5)
    got = composite([white, group], Rect(0, 0, 1, 1))[0, 0]
    assert got.tolist() == [178, 178, 178, 255]  # 100 * 0.5 + 255 * 0.5
    flat = composite([white, multiply], Rect(0, 0, 1, 1))[0, 0]
    assert flat.tolist() == [100, 100, 100, 255]  # 255 * 100 / 255


def test_a_region_equals_the_same_crop_of_the_whole_image():
    rng = np.random.default_rng(2)
    layers = [
        RasterLayer.from_array(rng.integers(0, 256, (SIZE[1], SIZE[0], 4), dtype=np.uint8))
        for _ in range(3)
    ]
    layers[1].blend, layers[2].blend, layers[2].opacity = BlendMode.OVERLAY, "screen", 0.7
    layers[2].blend = BlendMode(layers[2].blend)
    whole = composite(layers, Rect(0, 0, *SIZE))
    region = Rect(250, 200, 40, 70)  # crosses tile boundaries
    assert np.array_equal(composite(layers, region), whole[region.slices()])


def test_premultiplied_output():
    got = composite([solid((200, 100, 0, 128))], Rect(0, 0, 1, 1), premultiplied=True)
    assert got[0, 0].tolist() == [100, 50, 0, 128]


def test_bake_gives_the_composite_as_a_sparse_raster():
    layer = RasterLayer.blank(SIZE)
    layer.pixels.write(5, 5, np.full((3, 3, 4), 200, np.uint8))
    baked = bake([layer, RasterLayer.blank(SIZE)], SIZE)
    assert np.array_equal(baked.to_array(), composite([layer], Rect(0, 0, *SIZE)))
    assert set(baked.tiles) == {(0, 0)}


def test_duplicate_has_new_ids_and_shares_tiles():
    mask = MaskLayer.blank(SIZE, fill=255)
    layer = solid((1, 2, 3, 255), name="Sky", recipe={"seed": 3}, mask=mask)
    twin = layer.duplicate()
    assert twin.id != layer.id and twin.mask.id != mask.id and twin.name == "Sky copy"
    assert twin.pixels.tiles[(0, 0)] is layer.pixels.tiles[(0, 0)]
    twin.recipe["seed"] = 4
    assert layer.recipe == {"seed": 3}


def test_layer_properties_are_checked():
    with pytest.raises(ValueError):
        RasterLayer(opacity=1.5)
    with pytest.raises(ValueError):
        RasterLayer(blend="sparkle")


def test_document_finds_layers_and_their_place():
    inner = solid((0, 0, 0, 255), name="inner")
    mask = MaskLayer.blank(SIZE)
    group = GroupLayer(children=[inner], mask=mask)
    doc = Document(SIZE, [solid((9, 9, 9, 255)), group])
    assert doc.find(inner.id) is inner and doc.find(mask.id) is mask
    assert doc.position(inner.id) == (group, 0) and doc.position(group.id) == (doc.root, 1)
    assert doc.owner_of_mask(mask.id) is group
    with pytest.raises(LayerNotFound):
        doc.find("nope")
    assert doc.timeline == Timeline() and doc.size == SIZE
    copy = doc.snapshot()
    assert copy.find(inner.id) is not inner and copy.id == doc.id
