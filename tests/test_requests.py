"""Requests from the registered tasks (app.model.requests), without Qt: which tasks are
Generate modes, how outputs become candidates, and what Regenerate says it cannot do."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.model.candidates import Candidate
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.requests import (
    Request,
    RequestError,
    build_request,
    generate_tasks,
    images,
    regenerate_request,
)
from app.model.selection import Selection
from app.model.tiles import Rect
from engine.protocol import AudioData, ImageData
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from plugins.diffusion.params import Txt2ImgParams

TASKS = {task.id: task for task in (OUTPAINT, TXT2IMG, INPAINT, IMG2IMG)}
NO_REQUEST = dataclasses.replace(
    TXT2IMG, id="other.train", title="Train", request="", regenerate=""
)


def white(size: tuple[int, int] = (64, 48)) -> Document:
    pixels = np.full((size[1], size[0], 4), 255, np.uint8)
    return Document(size, [RasterLayer.from_array(pixels, name="Background")])


def test_modes_are_the_tasks_with_a_request_builder_in_their_order():
    tasks = {**TASKS, NO_REQUEST.id: NO_REQUEST}
    assert [t.title for t in generate_tasks(tasks)] == [
        "Text to image",
        "Image to image",
        "Inpaint",
        "Outpaint",
    ]
    with pytest.raises(RequestError, match="Train cannot be run from the Generate panel"):
        build_request(NO_REQUEST, {}, white(), (64, 64))


def test_candidates_are_titled_after_the_task_and_other_outputs_are_left_for_later():
    def make(output: ImageData) -> Candidate:
        return Candidate(output, 3, 4)

    request = Request(INPAINT, None, Rect(0, 0, 8, 8), images(make))
    picture = ImageData(np.zeros((8, 8, 4), np.uint8))
    sound = AudioData(np.zeros((1, 16), np.float32), 16000)
    (candidate,) = request.candidates([sound, picture])
    assert candidate.title == "Inpaint" and (candidate.x, candidate.y) == (3, 4)
    assert candidate.layer_name() == "Inpaint" and request.task_id == INPAINT.id


def test_text_to_image_fills_the_selection_and_inpaint_needs_a_mask():
    doc = white()
    mask = np.zeros((48, 64), np.uint8)
    mask[8:24, 16:48] = 255
    doc.selection = Selection(mask)
    request = build_request(TXT2IMG, {"prompt": "a kite", "steps": 3}, doc, (32, 16))
    assert isinstance(request.params, Txt2ImgParams)
    assert (request.params.width, request.params.height, request.params.steps) == (32, 16, 3)
    assert request.preview == Rect(16, 8, 32, 16)
    with pytest.raises(RequestError, match="Select or paint the area"):
        build_request(INPAINT, {"prompt": "x"}, white(), (64, 64))


def test_regenerate_says_why_it_cannot():
    doc = white()
    unknown = RasterLayer.blank(doc.size, name="Old", recipe={"task": "gone.task", "version": 1})
    with pytest.raises(RequestError, match="'gone.task', which is not installed. It cannot"):
        regenerate_request(unknown, doc, TASKS, {})
    made = {"task": NO_REQUEST.id, "version": 1}
    layer = RasterLayer.blank(doc.size, name="Trained", recipe=made)
    with pytest.raises(RequestError, match="Layers made by Train cannot be regenerated"):
        regenerate_request(layer, doc, {NO_REQUEST.id: NO_REQUEST}, {})
    empty = RasterLayer.blank(doc.size, name="Empty", recipe={"task": TXT2IMG.id, "version": 1})
    with pytest.raises(RequestError, match="The layer is empty"):
        regenerate_request(empty, doc, TASKS, {})
