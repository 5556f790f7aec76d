"""What each diffusion mode works on, in one line for the Generate panel: the whole canvas,
the selection, the painted mask or a new border, with its size in pixels, and how many
control and reference layers steer it. The same reading of the document as the requests
(plugins.diffusion.requests), so the line says what a Generate would do now. Qt-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.model.candidates import is_blank
from app.model.canvas_areas import MASK_LEVEL, active_selection, inpaint_mask
from app.model.control_layers import active_controls
from app.model.document import Document
from app.model.reference_layers import active_references
from app.model.selection import Selection
from app.model.tiles import Rect
from plugins.api import Task
from plugins.diffusion.requests import NO_MASK, NO_PICTURE, SIDES, outpaint_sides

NO_SIDES = "Set Left, Top, Right or Bottom to choose the border to fill."

Values = Mapping[str, Any]


def txt2img_region(task: Task, values: Values, doc: Document) -> str:
    """A new picture fills the selection's bounds, else the whole canvas."""
    selection = active_selection(doc)
    if selection is None:
        return f"Fills the whole canvas ({_size(doc.rect)}){_steering(doc)}"
    return f"Fills the selection's bounds ({_size(selection.bbox())}){_steering(doc)}"


def img2img_region(task: Task, values: Values, doc: Document) -> str:
    """The selection when there is one (deselecting gives the whole canvas), else the canvas."""
    selection = active_selection(doc)
    if is_blank(doc):
        return NO_PICTURE
    if selection is not None:
        bounds = _size(selection.bbox())
        steering = _steering(doc)
        return f"Repaints the selection ({bounds}){steering}; deselect to repaint the whole canvas"
    return f"Repaints the whole canvas ({_size(doc.rect)}){_steering(doc)}"


def depth_region(task: Task, values: Values, doc: Document) -> str:
    """The selection when there is one, else the canvas (as img2img_region)."""
    if is_blank(doc):
        return NO_PICTURE
    selection = active_selection(doc)
    if selection is not None:
        return f"Maps the selection's depth ({_size(selection.bbox())})"
    return f"Maps the whole canvas's depth ({_size(doc.rect)})"


def inpaint_region(task: Task, values: Values, doc: Document) -> str:
    """The selection, else the painted mask layers (as app.model.canvas_areas.inpaint_mask)."""
    mask = inpaint_mask(doc)
    if mask is None:
        return NO_MASK
    bounds = _size(Selection(mask).bbox())
    selection = active_selection(doc)
    if selection is not None and (selection.mask >= MASK_LEVEL).any():
        return f"Repaints the selection ({bounds}){_steering(doc)}"
    return f"Repaints the painted mask ({bounds}){_steering(doc)}"


def outpaint_region(task: Task, values: Values, doc: Document) -> str:
    """The border the chosen sides add, rounded up to 8 as the request does."""
    grow = dict(zip(SIDES, outpaint_sides(values), strict=True))
    if not any(grow.values()):
        return NO_SIDES
    if is_blank(doc):
        return NO_PICTURE
    sides = ", ".join(f"{amount} px {side}" for side, amount in grow.items() if amount)
    width = doc.width + grow["left"] + grow["right"]
    height = doc.height + grow["top"] + grow["bottom"]
    steering = _steering(doc)
    return f"Fills a new border ({sides}){steering}; the canvas becomes {width} x {height}"


def _steering(doc: Document) -> str:
    """What steers the job (e.g. ', steered by 2 controls and 1 reference'): the shown
    control and reference layers; empty when none does."""
    counts = [
        _count(len(active_controls(doc)), "control"),
        _count(len(active_references(doc)), "reference"),
    ]
    said = " and ".join(count for count in counts if count)
    return f", steered by {said}" if said else ""


def _count(number: int, noun: str) -> str:
    """'2 controls', '1 reference'; empty for none."""
    return f"{number} {noun}{'s' if number > 1 else ''}" if number else ""


def _size(rect: Rect | None) -> str:
    return f"{rect.w} x {rect.h}" if rect is not None else "0 x 0"
