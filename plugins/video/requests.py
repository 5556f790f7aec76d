"""The video tasks' requests from the canvas: text to video makes a clip of the panel's
size; image to video starts from the canvas, or the selection's bounds, as image to image
takes its picture. Step previews (a strip of frames) float over that area. A finished
clip goes to the results strip as a clip candidate, which Apply adds to the timeline
(app/model/clip_candidates.py). Qt-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.model.canvas_areas import fill_target
from app.model.clip_candidates import clip_placement
from app.model.document import Document
from app.model.requests import Request, RequestError, make_params
from app.model.tiles import Rect
from plugins.api import Task
from plugins.diffusion.requests import NO_PICTURE
from plugins.video.params import STRIP_FRAMES

Values = Mapping[str, Any]


def strip_rect(area: Rect, frames: int) -> Rect:
    """Where a strip of up to STRIP_FRAMES frames of `area`'s shape shows: across `area`'s
    top, as wide as it."""
    count = max(1, min(STRIP_FRAMES, frames or STRIP_FRAMES))
    return Rect(area.x, area.y, area.w, max(1, area.h // count))


def text_to_video(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """A clip of `size` (the panel's width and height, or the native pixel count in the
    shape of the canvas or selection)."""
    params = make_params(task, {**values, "width": size[0], "height": size[1]})
    preview = strip_rect(fill_target(doc), params.frames)
    return Request(task, params, preview, clip_placement)


def image_to_video(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """A clip starting from the canvas, or from the selection's bounds."""
    rect = fill_target(doc)
    picture = doc.composite(rect)
    if not picture[..., 3].any():
        raise RequestError(NO_PICTURE)
    params = make_params(task, values, image=picture)
    return Request(task, params, strip_rect(rect, params.frames), clip_placement)
