"""The music task's request from the Generate panel: the form's values as they are (music
takes nothing from the canvas); the finished piece goes to the results strip as a clip
candidate, which Apply adds to the timeline (app/model/clip_candidates.py). Qt-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.model.canvas_areas import fill_target
from app.model.clip_candidates import clip_placement
from app.model.document import Document
from app.model.requests import Request, make_params
from plugins.api import Task


def text_to_music(
    task: Task, values: Mapping[str, Any], doc: Document, size: tuple[int, int]
) -> Request:
    """A piece from the form's prompt and settings (the canvas and `size` play no part)."""
    return Request(task, make_params(task, values), fill_target(doc), clip_placement)
