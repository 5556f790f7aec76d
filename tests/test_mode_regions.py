"""The line each diffusion mode shows about what it works on (plugins/diffusion/regions.py,
through app.model.requests.describe_region), without Qt, and that it agrees with what the
mode's request really sends."""

from __future__ import annotations

import dataclasses

import numpy as np

from app.model.document import Document
from app.model.layers import MaskLayer, RasterLayer
from app.model.requests import build_request, describe_region
from app.model.selection import Selection
from app.model.tiles import Rect
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG


def white(size: tuple[int, int] = (64, 48)) -> Document:
    pixels = np.full((size[1], size[0], 4), 255, np.uint8)
    return Document(size, [RasterLayer.from_array(pixels, name="Background")])


def select(doc: Document, rect: Rect) -> Document:
    mask = np.zeros((doc.height, doc.width), np.uint8)
    mask[rect.slices()] = 255
    doc.selection = Selection(mask)
    return doc


def test_image_to_image_repaints_the_whole_canvas_unless_a_selection_is_made():
    doc = white()
    assert describe_region(IMG2IMG, {}, doc) == "Repaints the whole canvas (64 x 48)"
    request = build_request(IMG2IMG, {"prompt": "p"}, doc, (64, 48))
    assert request.preview == doc.rect and request.params.image.shape == (48, 64, 4)

    select(doc, Rect(8, 4, 24, 16))
    line = describe_region(IMG2IMG, {}, doc)
    assert line.startswith("Repaints the selection (24 x 16)") and "deselect" in line
    assert build_request(IMG2IMG, {"prompt": "p"}, doc, (64, 48)).preview == Rect(8, 4, 24, 16)
    empty = Document((32, 32), [RasterLayer.blank((32, 32))])
    assert describe_region(IMG2IMG, {}, empty).startswith("The canvas is empty")


def test_text_to_image_fills_the_canvas_or_the_selection_bounds():
    doc = white()
    assert describe_region(TXT2IMG, {}, doc) == "Fills the whole canvas (64 x 48)"
    select(doc, Rect(16, 8, 32, 16))
    assert describe_region(TXT2IMG, {}, doc) == "Fills the selection's bounds (32 x 16)"


def test_inpaint_repaints_the_selection_else_the_painted_mask():
    doc = white()
    assert describe_region(INPAINT, {}, doc).startswith("Select or paint the area")
    painted = np.zeros((48, 64), np.uint8)
    painted[10:20, 30:50] = 255
    doc.layers.append(MaskLayer.from_array(painted, name="Mask"))
    assert describe_region(INPAINT, {}, doc) == "Repaints the painted mask (20 x 10)"
    select(doc, Rect(0, 0, 8, 8))
    assert describe_region(INPAINT, {}, doc) == "Repaints the selection (8 x 8)"


def test_outpaint_names_the_new_border_as_its_request_rounds_it():
    doc = white()
    assert describe_region(OUTPAINT, {}, doc).startswith("Set Left, Top, Right or Bottom")
    values = {"left": 10, "top": 0, "right": 0, "bottom": 16}
    line = describe_region(OUTPAINT, values, doc)
    assert line == "Fills a new border (16 px left, 16 px bottom); the canvas becomes 80 x 64"
    params = build_request(OUTPAINT, {"prompt": "p", **values}, doc, (64, 48)).params
    assert (params.left, params.bottom) == (16, 16)


def test_a_task_without_a_region_function_has_no_line():
    assert describe_region(dataclasses.replace(TXT2IMG, region=""), {}, white()) == ""
