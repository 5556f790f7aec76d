"""Image > Resize image, Rotate and Flip: every layer, mask and the selection change with the
canvas, exactly for turns and flips, premultiplied for resizing; each undoes exactly."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.document import MAX_CANVAS_SIDE, Document
from app.model.history import History
from app.model.image_geometry import (
    FlipImage,
    ResizeImage,
    RotateImage,
    Turn,
    proportional_side,
    scaled_size,
    turn_raster,
)
from app.model.layers import GroupLayer, MaskLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import TILE, Rect, TiledRaster

SIZE = (600, 300)  # crosses tile edges, and neither side is a multiple of a tile


def noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def make_doc() -> Document:
    """A picture layer with an attached mask, a group with a small layer, a standalone
    mask, and a selection: everything a whole-image edit must carry along."""
    picture = RasterLayer.from_array(noise(1, (SIZE[1], SIZE[0], 4)), name="picture")
    picture.mask = MaskLayer.blank(SIZE, fill=255)
    picture.mask.pixels.write(10, 20, np.zeros((30, 50), np.uint8))
    small = RasterLayer.from_array(noise(2, (40, 70, 4)), SIZE, 500, 250, name="small")
    inpaint = MaskLayer.from_array(noise(3, (SIZE[1], SIZE[0])), name="inpaint mask")
    doc = Document(SIZE, [picture, GroupLayer(children=[small]), inpaint])
    doc.selection = Selection.rectangle(SIZE, Rect(5, 7, 100, 60))
    return doc


def arrays(doc: Document) -> dict[str, np.ndarray]:
    """Every pixel layer's pixels by name (the attached mask as "picture mask")."""
    out = {lay.name: lay.pixels.to_array() for lay in doc.walk() if hasattr(lay, "pixels")}
    out["picture mask"] = doc.layers[0].mask.pixels.to_array()
    out["selection"] = doc.selection.mask.copy()
    out["image"] = doc.composite()
    return out


@pytest.mark.parametrize(
    ("turn", "k", "size"),
    [
        (Turn.CLOCKWISE, -1, (300, 600)),
        (Turn.HALF, 2, SIZE),
        (Turn.COUNTER_CLOCKWISE, 1, (300, 600)),
    ],
)
def test_rotating_turns_every_layer_mask_and_the_selection_and_undo_is_exact(turn, k, size):
    doc = make_doc()
    before = arrays(doc)
    history = History(doc)
    history.push(RotateImage(turn))
    assert doc.size == size
    after = arrays(doc)
    for name, pixels in before.items():
        assert np.array_equal(after[name], np.rot90(pixels, k, axes=(0, 1))), name
    assert history.entries()[-1].label == turn.label
    history.undo()
    assert doc.size == SIZE
    for name, pixels in arrays(doc).items():
        assert np.array_equal(pixels, before[name]), name


def test_four_clockwise_turns_give_the_picture_back():
    doc = make_doc()
    before = arrays(doc)
    history = History(doc)
    for _ in range(4):
        history.push(RotateImage(Turn.CLOCKWISE))
    for name, pixels in arrays(doc).items():
        assert np.array_equal(pixels, before[name]), name


@pytest.mark.parametrize(("horizontal", "axis"), [(True, 1), (False, 0)])
def test_flipping_mirrors_every_layer_mask_and_the_selection(horizontal, axis):
    doc = make_doc()
    before = arrays(doc)
    history = History(doc)
    history.push(FlipImage(horizontal))
    for name, pixels in arrays(doc).items():
        assert np.array_equal(pixels, np.flip(before[name], axis=axis)), name
    word = "horizontally" if horizontal else "vertically"
    assert history.entries()[-1].label == f"Flip image {word}"
    history.undo()
    for name, pixels in arrays(doc).items():
        assert np.array_equal(pixels, before[name]), name


def test_turning_a_sparse_layer_touches_only_where_it_has_pixels():
    raster = TiledRaster(4 * TILE, 2 * TILE)
    raster.write(10, 10, np.full((5, 5, 4), 200, np.uint8))
    turned = turn_raster(raster, Turn.CLOCKWISE)
    assert list(turned.tiles) == [(1, 0)]  # one tile, in the top right of the turned canvas
    assert turned.bbox() == Rect(2 * TILE - 15, 10, 5, 5)


def test_resizing_scales_every_layer_the_masks_and_the_selection():
    doc = make_doc()
    history = History(doc)
    history.push(ResizeImage((300, 150)))
    assert doc.size == (300, 150)
    for layer in doc.walk():
        if hasattr(layer, "pixels"):
            assert layer.pixels.size == (300, 150), layer.name
    assert doc.selection.bbox() == Rect(2, 3, 51, 31)  # 5..105 x 7..67, halved
    mask = doc.layers[0].mask.pixels
    assert mask.fill == 255 and mask.read(Rect(5, 10, 25, 15)).max() == 0
    assert mask.read(Rect(100, 100, 10, 10)).min() == 255  # unpainted stays revealed
    assert history.entries()[-1].label == "Resize image to 300 \N{MULTIPLICATION SIGN} 150"
    history.undo()
    assert doc.size == SIZE and doc.layers[0].pixels.size == SIZE


def test_shrinking_averages_in_premultiplied_alpha_so_edges_get_no_fringe():
    pixels = np.zeros((2, 4, 4), np.uint8)
    pixels[:, :2] = (0, 255, 0, 0)  # transparent, but green in its colour channels
    pixels[:, 2:] = (255, 0, 0, 255)  # opaque red
    pixels[:, 1] = (255, 0, 0, 255)
    doc = Document((4, 2), [RasterLayer.from_array(pixels)])
    History(doc).push(ResizeImage((2, 1)))
    left, right = doc.layers[0].pixels.to_array()[0]
    assert tuple(left) == (255, 0, 0, 128)  # half covered, still pure red
    assert tuple(right) == (255, 0, 0, 255)


def test_enlarging_keeps_flat_colour_flat_and_empty_layers_empty():
    red = np.zeros((20, 30, 4), np.uint8)
    red[..., 0], red[..., 3] = 255, 255
    doc = Document((30, 20), [RasterLayer.from_array(red), RasterLayer.blank((30, 20))])
    History(doc).push(ResizeImage((90, 60)))
    assert (doc.layers[0].pixels.to_array() == (255, 0, 0, 255)).all()
    assert not doc.layers[1].pixels.tiles


@pytest.mark.parametrize(
    ("size", "words"),
    [((0, 10), "at least 1 pixel"), ((MAX_CANVAS_SIDE + 1, 10), f"at most {MAX_CANVAS_SIDE}")],
)
def test_resize_refuses_sizes_a_canvas_cannot_have(size, words):
    with pytest.raises(ValueError, match=words):
        ResizeImage(size)


def test_sizes_by_percent_and_proportional_sides():
    assert scaled_size((1000, 333), 50) == (500, 166)  # 166.5 rounds to even
    assert scaled_size((3, 3), 1) == (1, 1)
    assert proportional_side((1600, 900), 800, "width") == 450
    assert proportional_side((1600, 900), 450, "height") == 800
    assert proportional_side((1600, 9), 10, "width") == 1
