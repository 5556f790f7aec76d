"""From the prompt panel and the canvas to one engine request, and from its outputs to
candidates: which pixels and mask to send for each generate mode, and where results go.

    size = prompt_panel.target_size(fill_target(doc).size)    # what text to image makes
    request = build_request(mode, values, doc, tasks, size)   # or RequestError
    generation.start(request.params, request.task_id)
    candidates = request.candidates(finished.outputs)

The pictures sent are the visible composite (what the designer sees), as the engine's
"values only" rule asks; nothing here touches Qt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.model.compositing import composite
from app.model.document import Document
from app.model.layers import Layer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import Rect
from app.ui.candidates import (
    Candidate,
    fill_rect,
    is_blank,
    region_candidate,
    repaint_candidate,
)
from app.ui.composite_cache import standalone_masks
from app.ui.generate_modes import MODES_BY_ID
from engine.protocol import ImageData
from plugins.api import Task
from plugins.diffusion.mask_geometry import Box, clip_box, context_box
from plugins.diffusion.params import ceil8

NO_MASK = "Select or paint the area to repaint first."
NO_PICTURE = "The canvas is empty: paint, open or generate a picture first."
NO_EXTEND = "Choose how far to extend the canvas: set Left, Top, Right or Bottom above 0."
MASK_LEVEL = 128


class RequestError(ValueError):
    """The canvas is not ready for this mode; the message says what to do."""


@dataclass
class Request:
    """One job to run and how to turn its outputs into candidates."""

    task_id: str
    params: Any
    preview: Rect  # where step previews show, in canvas pixels (now)
    make: Callable[[ImageData], Candidate]

    def candidates(self, outputs: Iterable[Any]) -> list[Candidate]:
        return [self.make(o) for o in outputs if isinstance(o, ImageData)]


def build_request(
    mode: str,
    values: Mapping[str, Any],
    doc: Document,
    tasks: Mapping[str, Task],
    size: tuple[int, int],
) -> Request:
    """The request for the current mode; raises RequestError when the canvas is not ready.
    `size` is what text to image generates at (the other modes take theirs from the canvas)."""
    task_id = MODES_BY_ID[mode].task_id
    task = tasks.get(task_id)
    if task is None:
        raise RequestError(f"This mode needs the {task_id} task, which is not installed.")
    return BUILDERS[mode](task, values, doc, size)


def make_params(task: Task, values: Mapping[str, Any], **pixels: Any) -> Any:
    """The task's params from the form values (foreign keys dropped) plus pixel fields."""
    names = {f.name for f in dataclasses.fields(task.params_type)}
    known = {k: v for k, v in values.items() if k in names}
    return task.params_type(**known, **pixels)


# ---- the modes -------------------------------------------------------------------------------


def fill_target(doc: Document) -> Rect:
    """What text to image fills: the selection's bounds, else the whole canvas."""
    selection = _selection(doc)
    return selection.bbox() if selection is not None else doc.rect


def _txt2img(task: Task, values, doc: Document, size: tuple[int, int]) -> Request:
    target = fill_target(doc)
    blank, base = _selection(doc) is None and is_blank(doc), doc.size
    params = make_params(task, {**values, "width": size[0], "height": size[1]})

    def make(output: ImageData) -> Candidate:
        return Candidate(output, fit_canvas=blank, base_size=base, target=target)

    return Request(task.id, params, fill_rect(size, target, blank), make)


def _img2img(task: Task, values, doc: Document, size) -> Request:
    selection = _selection(doc)
    rect = selection.bbox() if selection is not None else doc.rect
    picture = doc.composite(rect)
    if not picture[..., 3].any():
        raise RequestError(NO_PICTURE)
    keep = selection.crop(rect) if selection is not None else None
    base = doc.size

    def make(output: ImageData) -> Candidate:
        return region_candidate(output, rect, keep, base)

    return Request(task.id, make_params(task, values, image=picture), rect, make)


def _inpaint(task: Task, values, doc: Document, size) -> Request:
    mask = inpaint_mask(doc)
    if mask is None:
        raise RequestError(NO_MASK)
    picture = doc.composite()
    params = make_params(task, values, image=picture, mask=mask)
    margin = int(values.get("grow", 0)) + int(values.get("feather", 0))
    box = preview_box(Selection(mask).bbox() or doc.rect, margin, doc.size, values)
    base = doc.size

    def make(output: ImageData) -> Candidate:
        return repaint_candidate(output, picture, base)

    return Request(task.id, params, box, make)


def _outpaint(task: Task, values, doc: Document, size) -> Request:
    grow = tuple(ceil8(int(values.get(side, 0))) for side in ("left", "top", "right", "bottom"))
    if not any(grow):
        raise RequestError(NO_EXTEND)
    picture = doc.composite()
    if not picture[..., 3].any():
        raise RequestError(NO_PICTURE)
    left, top, right, bottom = grow
    sides = {"left": left, "top": top, "right": right, "bottom": bottom}
    params = make_params(task, {**values, **sides}, image=picture)
    size = (doc.width + left + right, doc.height + top + bottom)
    new_area = Rect(0, 0, *size) if min(grow) > 0 else _border_box(doc.size, grow)
    overlap = int(values.get("overlap", 0))
    preview = preview_box(new_area, overlap, size, values).translated(-left, -top)
    base = doc.size

    def make(output: ImageData) -> Candidate:
        return repaint_candidate(output, picture, base, (left, top), grow)  # type: ignore[arg-type]

    return Request(task.id, params, preview, make)


BUILDERS = {"txt2img": _txt2img, "img2img": _img2img, "inpaint": _inpaint, "outpaint": _outpaint}


def preview_box(area: Rect, margin: int, size: tuple[int, int], values: Mapping[str, Any]) -> Rect:
    """Where the engine's step previews belong: its context crop around `area` grown by
    `margin` (the engine's own geometry, so the preview lines up with the result)."""
    grown = Box(area.x - margin, area.y - margin, area.w + 2 * margin, area.h + 2 * margin)
    box = context_box(clip_box(grown, size), size, int(values.get("context", 0)))
    return Rect(box.x, box.y, box.w, box.h)


def _border_box(old: tuple[int, int], grow: tuple[int, ...]) -> Rect:
    """The bounds of the area an outpaint adds, in the grown canvas."""
    left, top, right, bottom = grow
    width, height = old[0] + left + right, old[1] + top + bottom
    x0 = 0 if left or top or bottom else left + old[0]
    y0 = 0 if top or left or right else top + old[1]
    x1 = width if right or top or bottom else left
    y1 = height if bottom or left or right else top
    return Rect.bounds(x0, y0, x1, y1)


# ---- masks -----------------------------------------------------------------------------------


def _selection(doc: Document) -> Selection | None:
    sel = doc.selection
    return None if sel is None or sel.is_empty else sel


def inpaint_mask(doc: Document) -> np.ndarray | None:
    """What to repaint: the selection, else the painted mask layers; None when neither."""
    selection = _selection(doc)
    if selection is not None and (selection.mask >= MASK_LEVEL).any():
        return np.asarray(selection.mask)
    masks = [m for m in standalone_masks(doc) if m.pixels.tiles]
    if not masks:
        return None
    merged = np.maximum.reduce([m.pixels.to_array()[..., 0] for m in masks])
    return merged if (merged >= MASK_LEVEL).any() else None


# ---- regenerating a layer --------------------------------------------------------------------


def layers_below(doc: Document, layer: Layer) -> list[Layer]:
    """The top-level layers under `layer` (under its top-level group when nested)."""
    top = next(t for t in doc.layers if any(lay is layer for lay in t.walk()))
    return doc.layers[: doc.layers.index(top)]


def regenerate_request(
    layer: RasterLayer, doc: Document, tasks: Mapping[str, Task], values: Mapping[str, Any]
) -> Request:
    """Run the layer's recipe again (with `values`, e.g. a new seed) on the canvas as it is
    under the layer now. Inpaint repaints where the layer has paint; outpaint refills the
    border it added; image to image repaints the layer's area."""
    recipe = layer.recipe or {}
    task = tasks.get(str(recipe.get("task", "")))
    if task is None:
        raise RequestError(
            f"The task {recipe.get('task')!r} that made this layer is not installed."
        )
    box = layer.pixels.bbox()
    if box is None:
        raise RequestError("The layer is empty; there is nothing to regenerate.")
    below = layers_below(doc, layer)
    base = doc.size
    if task.id == "diffusion.txt2img":
        params = make_params(task, values)
        return Request(task.id, params, box, lambda o: Candidate(o, base_size=base, target=box))
    picture = composite(below, doc.rect)
    if task.id == "diffusion.img2img":
        region = picture[box.slices()]
        keep = np.where(layer.pixels.read(box)[..., 3] > 0, 255, 0).astype(np.uint8)
        params = make_params(task, values, image=region)
        return Request(task.id, params, box, lambda o: region_candidate(o, box, keep, base))
    if task.id == "diffusion.outpaint":
        return _regenerate_outpaint(task, values, doc, picture)
    mask = _painted_area(layer, values)
    params = make_params(task, values, image=picture, mask=mask)
    return Request(task.id, params, box, lambda o: repaint_candidate(o, picture, base))


def _painted_area(layer: RasterLayer, values: Mapping[str, Any]) -> np.ndarray:
    """The mask that made an inpaint layer, about: its painted area shrunk by the grow and
    feather the engine adds again."""
    painted = np.where(layer.pixels.to_array()[..., 3] > 0, 255, 0).astype(np.uint8)
    shrink = int(values.get("grow", 0)) + int(values.get("feather", 0)) // 2
    shrunk = Selection(painted).shrink(shrink).mask if shrink else painted
    return np.asarray(shrunk if (shrunk >= MASK_LEVEL).any() else painted)


def _regenerate_outpaint(task: Task, values, doc: Document, picture: np.ndarray) -> Request:
    left, top, right, bottom = (int(values.get(k, 0)) for k in ("left", "top", "right", "bottom"))
    inner = Rect(left, top, doc.width - left - right, doc.height - top - bottom)
    if inner.w <= 0 or inner.h <= 0:
        raise RequestError("The canvas is smaller than this outpaint; it cannot be redone.")
    original = picture[inner.slices()]
    params = make_params(task, values, image=original)
    base = doc.size

    def make(output: ImageData) -> Candidate:
        return repaint_candidate(output, original, base, (left, top))

    return Request(task.id, params, doc.rect, make)
