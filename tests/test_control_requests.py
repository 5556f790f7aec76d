"""The diffusion requests carry the document's control layers: one ControlSpec each, with the
layer's settings and its map cut to exactly the area the job covers; the mode's region line
counts them. Qt-free."""

from __future__ import annotations

import numpy as np

from app.model.commands import SetLayerProps
from app.model.control_layers import SetControl, add_control_layer, control_map_of
from app.model.document import Document
from app.model.history import History
from app.model.layers import ControlLayer, RasterLayer
from app.model.requests import build_request, describe_region, regenerate_request
from app.model.selection import Selection
from app.model.tiles import Rect
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG

SIZE = (256, 192)
TASKS = {task.id: task for task in (TXT2IMG, IMG2IMG, INPAINT, OUTPAINT)}


def steered_doc() -> tuple[Document, ControlLayer]:
    """A white picture and a scribble control with a black box at x 40..80, y 100..140."""
    white = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
    doc = Document(SIZE, [RasterLayer.from_array(white, name="Background")])
    command = add_control_layer(doc, "scribble")
    History(doc).push(command)
    layer = command.layer
    layer.pixels.write(40, 100, np.full((40, 40, 4), (0, 0, 0, 255), np.uint8))
    return doc, layer


def select(doc: Document, rect: Rect) -> None:
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    mask[rect.slices()] = 255
    doc.selection = Selection(mask)


def only_control(params):
    (spec,) = params.controls
    return spec


def test_text_to_image_with_a_selection_sends_the_map_inside_it():
    doc, layer = steered_doc()
    History(doc).push(SetControl(layer.id, strength=0.8, start=0.1, end=0.9, model="mine"))
    select(doc, Rect(32, 64, 128, 96))
    request = build_request(TXT2IMG, {"prompt": "a red circle"}, doc, (128, 96))
    spec = only_control(request.params)
    assert (spec.kind, spec.model, spec.strength, spec.start, spec.end) == (
        "scribble",
        "mine",
        0.8,
        0.1,
        0.9,
    )
    assert request.preview == Rect(32, 64, 128, 96)
    assert spec.image.shape == (96, 128, 3)
    assert np.array_equal(spec.image, control_map_of(layer)[64:160, 32:160])
    assert spec.image[56, 28].all() and not spec.image[10, 100].any()  # canvas (60, 120)


def test_image_to_image_sends_the_map_of_the_crop_it_repaints():
    doc, layer = steered_doc()
    select(doc, Rect(0, 96, 128, 64))
    request = build_request(IMG2IMG, {"prompt": "x"}, doc, (128, 64))
    spec = only_control(request.params)
    assert spec.image.shape[:2] == request.params.image.shape[:2] == (64, 128)
    assert np.array_equal(spec.image, control_map_of(layer)[96:160, 0:128])


def test_inpaint_sends_the_map_of_the_whole_picture():
    doc, layer = steered_doc()
    select(doc, Rect(30, 90, 60, 60))
    request = build_request(INPAINT, {"prompt": "x"}, doc, SIZE)
    spec = only_control(request.params)
    assert spec.image.shape[:2] == request.params.image.shape[:2] == (SIZE[1], SIZE[0])
    assert np.array_equal(spec.image, control_map_of(layer))


def test_outpaint_places_the_map_in_the_extended_canvas_black_in_the_new_border():
    doc, layer = steered_doc()
    values = {"prompt": "x", "left": 64, "top": 0, "right": 0, "bottom": 32}
    request = build_request(OUTPAINT, values, doc, SIZE)
    spec = only_control(request.params)
    assert spec.image.shape == (SIZE[1] + 32, SIZE[0] + 64, 3)
    assert not spec.image[:, :64].any() and not spec.image[SIZE[1] :].any()
    assert np.array_equal(spec.image[: SIZE[1], 64:], control_map_of(layer))


def test_hidden_or_empty_controls_are_not_sent_and_the_region_line_counts_them():
    doc, layer = steered_doc()
    history = History(doc)
    line = describe_region(TXT2IMG, {}, doc)
    assert line == "Fills the whole canvas (256 x 192), steered by 1 control"
    empty = add_control_layer(doc, "canny")
    history.push(empty)
    second = add_control_layer(doc, "depth")
    history.push(second)
    second.layer.pixels.write(0, 0, np.full((8, 8, 4), 90, np.uint8))
    assert "steered by 2 controls" in describe_region(IMG2IMG, {}, doc)
    history.push(SetLayerProps(layer.id, visible=False))
    history.push(SetLayerProps(second.layer.id, visible=False))
    request = build_request(TXT2IMG, {"prompt": "x"}, doc, SIZE)
    assert request.params.controls == ()
    assert describe_region(TXT2IMG, {}, doc) == "Fills the whole canvas (256 x 192)"


def test_regenerate_keeps_the_controls_as_they_are_now():
    doc, layer = steered_doc()
    made = RasterLayer.blank(SIZE, name="made", recipe={"task": TXT2IMG.id, "version": 1})
    made.pixels.write(32, 96, np.full((64, 64, 4), 255, np.uint8))
    doc.insert(made)
    History(doc).push(SetControl(layer.id, kind="canny"))
    request = regenerate_request(made, doc, TASKS, {"prompt": "x"})
    spec = only_control(request.params)
    assert spec.kind == "canny"
    assert np.array_equal(spec.image, control_map_of(layer)[96:160, 32:96])
