"""Commands and history: every command undoes and redoes exactly; memory stays bounded."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from app.model.clip import cut_layer
from app.model.commands import (
    AddLayer,
    DuplicateLayer,
    Flatten,
    Macro,
    MergeDown,
    MoveLayer,
    OffsetLayer,
    PixelEdit,
    RemoveLayer,
    ResizeCanvas,
    SetLayerProps,
    SetMask,
    SetSelection,
    write_pixels,
)
from app.model.document import Document
from app.model.history import History
from app.model.image_geometry import FlipImage, ResizeImage, RotateImage, Turn
from app.model.layers import GroupLayer, Layer, MaskLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import TILE, Rect

SIZE = (600, 520)


def noise_layer(seed: int, rect: Rect, **props) -> RasterLayer:
    pixels = np.random.default_rng(seed).integers(0, 256, (rect.h, rect.w, 4), dtype=np.uint8)
    return RasterLayer.from_array(pixels, SIZE, rect.x, rect.y, **props)


def make_doc() -> Document:
    mask = MaskLayer.blank(SIZE, fill=255)
    mask.pixels.write(0, 0, np.zeros((100, 100), np.uint8))
    group = GroupLayer(
        name="group",
        opacity=0.8,
        children=[noise_layer(3, Rect(50, 300, 200, 200), name="in group", blend="screen")],
    )
    layers: list[Layer] = [
        noise_layer(1, Rect(0, 0, 600, 520), name="background"),
        noise_layer(2, Rect(100, 100, 300, 200), name="middle", opacity=0.6, mask=mask),
        group,
        noise_layer(4, Rect(400, 20, 150, 400), name="top", blend="multiply"),
        MaskLayer.blank(SIZE, name="inpaint mask"),
    ]
    return Document(SIZE, layers)


def digest(array: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()


def state(doc: Document) -> tuple:
    """Everything visible about a document: the image, the tree, each layer's pixels."""

    def describe(layer: Layer) -> tuple:
        props = (type(layer).__name__, layer.id, layer.name, layer.visible, layer.opacity)
        props += (layer.blend, getattr(layer, "recipe", None))
        pixels = getattr(layer, "pixels", None)
        mask = getattr(layer, "mask", None)
        kids = tuple(describe(c) for c in getattr(layer, "children", []))
        return (
            *props,
            digest(pixels.to_array()) if pixels else None,
            describe(mask) if mask else None,
            kids,
        )

    selection = digest(doc.selection.mask) if doc.selection else None
    layers = tuple(describe(layer) for layer in doc.layers)
    return doc.size, digest(doc.composite()), layers, selection


def round_trip(doc: Document, command) -> None:
    history = History(doc)
    before = state(doc)
    history.push(command)
    after = state(doc)
    assert after != before
    history.undo()
    assert state(doc) == before
    history.redo()
    assert state(doc) == after
    history.undo()
    assert state(doc) == before


def ids(doc: Document) -> list[str]:
    return [layer.name for layer in doc.layers]


COMMANDS = {
    "add": lambda doc: AddLayer(noise_layer(9, Rect(10, 10, 50, 50), name="new"), index=1),
    "add into group": lambda doc: AddLayer(
        noise_layer(9, Rect(10, 10, 50, 50)), group_id=doc.layers[2].id
    ),
    "remove": lambda doc: RemoveLayer(doc.layers[1].id),
    "move": lambda doc: MoveLayer(doc.layers[3].id, 0),
    "move into group": lambda doc: MoveLayer(doc.layers[3].id, 0, doc.layers[2].id),
    "rename": lambda doc: SetLayerProps(doc.layers[0].id, name="paper"),
    "opacity and blend": lambda doc: SetLayerProps(doc.layers[3].id, opacity=0.25, blend="overlay"),
    "hide": lambda doc: SetLayerProps(doc.layers[0].id, visible=False),
    "duplicate": lambda doc: DuplicateLayer(doc, doc.layers[1].id),
    "merge down": lambda doc: MergeDown(doc.layers[1].id),
    "merge group down": lambda doc: MergeDown(doc.layers[2].id),
    "flatten": lambda doc: Flatten(),
    "extend canvas": lambda doc: ResizeCanvas((900, 520), (300, 0)),
    "crop canvas": lambda doc: ResizeCanvas((200, 150), (-37, -20)),
    "rotate image": lambda doc: RotateImage(Turn.CLOCKWISE),
    "flip image": lambda doc: FlipImage(horizontal=False),
    "resize image": lambda doc: ResizeImage((211, 397)),
    "move pixels": lambda doc: OffsetLayer(doc.layers[1].id, 13, -7),
    "select": lambda doc: SetSelection(Selection.rectangle(SIZE, Rect(5, 5, 50, 50))),
    "add mask": lambda doc: SetMask(doc.layers[0].id, MaskLayer.blank(SIZE)),
    "remove mask": lambda doc: SetMask(doc.layers[1].id, None),
    "write pixels": lambda doc: write_pixels(
        doc, doc.layers[0].id, 250, 250, np.zeros((20, 20, 4), np.uint8)
    ),
    "cut": lambda doc: cut_layer(doc, doc.layers[0].id)[1],
    "macro": lambda doc: Macro(
        "Outpaint",
        [ResizeCanvas((600, 800), (0, 0)), AddLayer(noise_layer(5, Rect(0, 0, 9, 9)))],
    ),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_undoes_and_redoes_exactly(name):
    doc = make_doc()
    doc.selection = Selection.rectangle(SIZE, Rect(0, 0, 10, 10))
    if name in ("write pixels", "cut"):  # already applied when made: pushing records it
        before = state(doc)
        command = COMMANDS[name](doc)
        history = History(doc)
        history.push(command)
        after = state(doc)
        history.undo()
        assert state(doc) == before and after != before
        history.redo()
        assert state(doc) == after
        return
    round_trip(doc, COMMANDS[name](doc))


def test_merge_down_and_flatten_keep_the_picture():
    doc = make_doc()
    image = doc.composite(premultiplied=True).astype(int)  # colour of faint pixels is coarse
    history = History(doc)
    history.push(MergeDown(doc.layers[1].id))  # its opacity and mask get baked in
    assert np.abs(doc.composite(premultiplied=True) - image).max() <= 2
    assert ids(doc) == ["background", "group", "top", "inpaint mask"]
    history.push(Flatten())
    assert np.abs(doc.composite(premultiplied=True) - image).max() <= 2
    assert ids(doc) == ["Background", "inpaint mask"]


def test_merging_a_multiply_layer_onto_an_opaque_one():
    opaque = noise_layer(1, Rect(0, 0, *SIZE)).pixels.to_array()
    opaque[..., 3] = 255
    lower = RasterLayer.from_array(opaque)
    upper = noise_layer(2, Rect(100, 100, 300, 300), blend="multiply", opacity=0.7)
    doc = Document(SIZE, [lower, upper])
    image = doc.composite().astype(int)
    History(doc).push(MergeDown(upper.id))
    assert np.abs(doc.composite() - image).max() <= 1


def test_merge_down_keeps_untouched_tiles_shared():
    lower = noise_layer(1, Rect(0, 0, 600, 520), name="lower")
    upper = noise_layer(2, Rect(0, 0, 10, 10), name="upper")
    doc = Document(SIZE, [lower, upper])
    History(doc).push(MergeDown(upper.id))
    merged = doc.layers[0]
    assert merged.id == lower.id and merged.name == "lower"
    assert merged.pixels.tiles[(1, 1)] is lower.pixels.tiles[(1, 1)]


def test_bad_commands_raise_and_change_nothing():
    doc = make_doc()
    before, history = state(doc), History(doc)
    with pytest.raises(ValueError):
        history.push(MergeDown(doc.layers[0].id))  # nothing below
    with pytest.raises(ValueError):
        history.push(MoveLayer(doc.layers[2].id, 0, doc.layers[2].id))  # into itself
    with pytest.raises(ValueError):
        history.push(SetLayerProps(doc.layers[0].id, opacity=2))
    assert state(doc) == before and not history.can_undo


def test_pixel_edit_delta_holds_only_touched_tiles():
    doc = make_doc()
    inside = write_pixels(doc, doc.layers[0].id, 10, 10, np.zeros((5, 5, 4), np.uint8))
    across = write_pixels(doc, doc.layers[0].id, TILE - 2, 3, np.zeros((5, 5, 4), np.uint8))
    assert set(inside.delta.tiles) == {(0, 0)}
    assert set(across.delta.tiles) == {(0, 0), (1, 0)}
    assert inside.nbytes == TILE * TILE * 4


def test_history_entries_labels_and_redo_dropped_by_a_new_edit():
    doc = make_doc()
    history = History(doc)
    history.push(SetLayerProps(doc.layers[0].id, name="paper"))
    history.push(RemoveLayer(doc.layers[1].id))
    history.undo()
    assert [(e.label, e.done) for e in history.entries()] == [
        ("Rename layer", True),
        ("Delete layer", False),
    ]
    assert history.undo_label == "Rename layer" and history.redo_label == "Delete layer"
    history.push(SetLayerProps(doc.layers[0].id, visible=False))
    assert [e.label for e in history.entries()] == ["Rename layer", "Hide layer"]
    assert not history.can_redo


def test_go_to_jumps_through_the_history():
    doc = make_doc()
    history = History(doc)
    start = state(doc)
    for name in ("a", "b", "c"):
        history.push(SetLayerProps(doc.layers[0].id, name=name))
    history.go_to(1)
    assert doc.layers[0].name == "a"
    history.go_to(0)
    assert state(doc) == start
    history.go_to(3)
    assert doc.layers[0].name == "c"


def test_memory_budget_evicts_the_oldest_steps():
    doc = make_doc()
    one_tile = TILE * TILE * 4
    history = History(doc, budget=3 * one_tile)
    layer_id = doc.layers[0].id
    for i in range(5):
        history.push(write_pixels(doc, layer_id, 10 * i, 0, np.zeros((4, 4, 4), np.uint8)))
    assert len(history.entries()) == 3 and history.nbytes <= 3 * one_tile
    while history.can_undo:
        history.undo()
    # the two oldest steps are gone: their pixels stay painted
    assert not doc.layers[0].pixels.read(Rect(0, 0, 4, 4)).any()
    assert not doc.layers[0].pixels.read(Rect(10, 0, 4, 4)).any()
    assert doc.layers[0].pixels.read(Rect(20, 0, 4, 4)).any()


def test_dabs_with_one_merge_key_become_one_step():
    doc = make_doc()
    history = History(doc)
    before = state(doc)
    layer = doc.layers[0]
    for i in range(10):
        delta = layer.pixels.write(i * 60, 100, np.zeros((8, 8, 4), np.uint8))
        history.push(PixelEdit(layer.id, delta, "Brush stroke", merge_key=("stroke", 1)))
    history.push(PixelEdit(layer.id, layer.pixels.write(0, 0, np.zeros((2, 2, 4), np.uint8))))
    assert [e.label for e in history.entries()] == ["Brush stroke", "Paint pixels"]
    history.undo()
    history.undo()
    assert state(doc) == before


def test_slider_drag_merges_property_changes():
    doc = make_doc()
    history = History(doc)
    layer_id = doc.layers[0].id
    for value in (0.9, 0.7, 0.5):
        history.push(SetLayerProps(layer_id, merge_key="drag-1", opacity=value))
    assert len(history.entries()) == 1 and doc.layers[0].opacity == 0.5
    history.undo()
    assert doc.layers[0].opacity == 1.0


def test_clean_state_listeners_and_revision():
    doc = make_doc()
    history = History(doc)
    seen = []
    history.subscribe(seen.append)
    assert history.is_clean
    rect = history.push(SetLayerProps(doc.layers[3].id, opacity=0.5))
    assert rect == Rect(256, 0, 344, 512) and seen == [rect]
    assert not history.is_clean and doc.revision == 1
    history.mark_clean()
    history.undo()
    assert not history.is_clean
    history.redo()
    assert history.is_clean and doc.revision == 3


def test_dirty_region_of_a_document():
    doc = make_doc()
    doc.take_dirty()
    write_pixels(doc, doc.layers[1].id, 300, 300, np.full((4, 4, 4), 9, np.uint8))
    assert doc.take_dirty() == Rect(256, 256, 256, 256)
    assert doc.take_dirty() is None


def test_memory_is_counted_only_for_what_undo_alone_keeps():
    doc = make_doc()
    history = History(doc)
    layer = noise_layer(9, Rect(0, 0, 300, 300))
    history.push(AddLayer(layer))
    assert history.nbytes == 0  # the document holds the new layer
    history.undo()
    assert history.nbytes == layer.pixels.nbytes  # now only the redo step does
    background = doc.layers[0]
    history.push(RemoveLayer(background.id))
    assert history.nbytes == background.pixels.nbytes == 9 * TILE * TILE * 4
    assert [e.nbytes for e in history.entries()] == [background.pixels.nbytes]
