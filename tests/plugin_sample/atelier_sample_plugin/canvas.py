"""Where the stripes go on the canvas: a request builder (see app.model.requests) that puts
them, as they are, at the top-left of the selection's bounds (else of the canvas)."""

from collections.abc import Mapping
from typing import Any

from app.model.candidates import Candidate
from app.model.canvas_areas import fill_target
from app.model.document import Document
from app.model.requests import Request, images, make_params
from app.model.tiles import Rect
from plugins.api import Task


def stripes_request(
    task: Task, values: Mapping[str, Any], doc: Document, size: tuple[int, int]
) -> Request:
    params = make_params(task, values)
    corner, base = fill_target(doc), doc.size
    where = Rect(corner.x, corner.y, params.width, params.height)
    return Request(
        task, params, where, images(lambda o: Candidate(o, where.x, where.y, base_size=base))
    )
