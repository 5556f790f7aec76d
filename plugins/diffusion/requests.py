"""The diffusion tasks' requests from the canvas (see app.model.requests): which pixels and
mask each sends, where its step previews show and where its results go; and how a layer each
made is regenerated. Every request carries the shown control layers as its params'
`controls`, each map cut to exactly the area the job covers, and the shown reference layers
as its `references`. Qt-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from app.model.candidates import (
    Candidate,
    fill_rect,
    is_blank,
    region_candidate,
    repaint_candidate,
)
from app.model.canvas_areas import (
    MASK_LEVEL,
    active_selection,
    fill_target,
    inpaint_mask,
    layers_below,
)
from app.model.compositing import composite
from app.model.control_layers import active_controls, map_crop
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.reference_layers import active_references, reference_picture
from app.model.requests import Request, RequestError, images, make_params
from app.model.selection import Selection
from app.model.tiles import Rect
from plugins.api import Task
from plugins.diffusion.mask_geometry import Box, clip_box, context_box
from plugins.diffusion.params import ControlSpec, ReferenceSpec, ceil8

NO_MASK = "Select or paint the area to repaint first."
NO_PICTURE = "The canvas is empty: paint, open or generate a picture first."
NO_EXTEND = "Choose how far to extend the canvas: set Left, Top, Right or Bottom above 0."
SIDES = ("left", "top", "right", "bottom")

Values = Mapping[str, Any]


# ---- from the Generate panel -----------------------------------------------------------------


def txt2img(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """A picture of `size` that fills the selection's bounds or the canvas (see fill_rect)."""
    target = fill_target(doc)
    blank, base = active_selection(doc) is None and is_blank(doc), doc.size
    place = fill_rect(size, target, blank)
    sized = {**values, "width": size[0], "height": size[1]}
    params = make_params(task, steered(sized, doc, place))

    def make(output) -> Candidate:
        return Candidate(output, fit_canvas=blank, base_size=base, target=target)

    return Request(task, params, place, images(make))


def img2img(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """Repaint the canvas, or the selection's bounds cut to the selection."""
    return _on_picture(task, steered(values, doc, _picture_rect(doc)), doc)


def depth_map(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """The depth map of the canvas, or of the selection's bounds cut to the selection."""
    return _on_picture(task, values, doc)


def _picture_rect(doc: Document) -> Rect:
    selection = active_selection(doc)
    return selection.bbox() if selection is not None else doc.rect


def _on_picture(task: Task, values: Values, doc: Document) -> Request:
    """A job on the canvas's picture, or the selection's bounds, whose result goes back
    there cut to the selection."""
    selection, rect = active_selection(doc), _picture_rect(doc)
    picture = doc.composite(rect)
    if not picture[..., 3].any():
        raise RequestError(NO_PICTURE)
    keep = selection.crop(rect) if selection is not None else None
    base = doc.size
    params = make_params(task, values, image=picture)
    return Request(task, params, rect, images(lambda o: region_candidate(o, rect, keep, base)))


def inpaint(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """Repaint the selection, else the painted mask layers."""
    mask = inpaint_mask(doc)
    if mask is None:
        raise RequestError(NO_MASK)
    picture = doc.composite()
    params = make_params(task, steered(values, doc, doc.rect), image=picture, mask=mask)
    margin = int(values.get("grow", 0)) + int(values.get("feather", 0))
    box = preview_box(Selection(mask).bbox() or doc.rect, margin, doc.size, values)
    base = doc.size
    return Request(task, params, box, images(lambda o: repaint_candidate(o, picture, base)))


def outpaint(task: Task, values: Values, doc: Document, size: tuple[int, int]) -> Request:
    """Extend the canvas on the chosen sides (rounded up to 8) and fill the new area."""
    grow = outpaint_sides(values)
    if not any(grow):
        raise RequestError(NO_EXTEND)
    picture = doc.composite()
    if not picture[..., 3].any():
        raise RequestError(NO_PICTURE)
    left, top, right, bottom = grow
    grown = (doc.width + left + right, doc.height + top + bottom)
    sides = {**values, **dict(zip(SIDES, grow, strict=True))}
    params = make_params(task, steered(sides, doc, Rect(-left, -top, *grown)), image=picture)
    new_area = Rect(0, 0, *grown) if min(grow) > 0 else _border_box(doc.size, grow)
    overlap = int(values.get("overlap", 0))
    preview = preview_box(new_area, overlap, grown, values).translated(-left, -top)
    base = doc.size

    def make(output) -> Candidate:
        return repaint_candidate(output, picture, base, (left, top), grow)

    return Request(task, params, preview, images(make))


def steered(values: Values, doc: Document, rect: Rect) -> dict[str, Any]:
    """`values` with the document's controls for a job covering `rect` (canvas pixels) and
    its reference pictures."""
    references = tuple(
        ReferenceSpec(reference_picture(layer), layer.weight, layer.model)
        for layer in active_references(doc)
    )
    return {**values, "controls": control_specs(doc, rect), "references": references}


def control_specs(doc: Document, rect: Rect) -> tuple[ControlSpec, ...]:
    """Each visible control layer with pixels as a control whose map is its map inside
    `rect`, black where `rect` leaves the canvas (an outpaint's new border)."""
    return tuple(
        ControlSpec(
            layer.control.kind,
            map_crop(layer, rect),
            layer.control.model,
            layer.control.strength,
            layer.control.start,
            layer.control.end,
        )
        for layer in active_controls(doc)
    )


def outpaint_sides(values: Values) -> tuple[int, int, int, int]:
    """How far an outpaint extends the canvas (left, top, right, bottom), each rounded up to
    a multiple of 8 as the engine does."""
    left, top, right, bottom = (ceil8(int(values.get(side, 0))) for side in SIDES)
    return left, top, right, bottom


def preview_box(area: Rect, margin: int, size: tuple[int, int], values: Values) -> Rect:
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


# ---- regenerating a layer --------------------------------------------------------------------


def regenerate_txt2img(task: Task, values: Values, doc: Document, layer: RasterLayer) -> Request:
    """A new picture into the layer's bounds."""
    box, base = layer.pixels.bbox(), doc.size
    make = images(lambda o: Candidate(o, base_size=base, target=box))
    return Request(task, make_params(task, steered(values, doc, box)), box, make)


def regenerate_img2img(task: Task, values: Values, doc: Document, layer: RasterLayer) -> Request:
    """Repaint the layer's area of the canvas under it, cut to where the layer has paint."""
    box, base = layer.pixels.bbox(), doc.size
    region = composite(layers_below(doc, layer), box)
    keep = np.where(layer.pixels.read(box)[..., 3] > 0, 255, 0).astype(np.uint8)
    params = make_params(task, steered(values, doc, box), image=region)
    return Request(task, params, box, images(lambda o: region_candidate(o, box, keep, base)))


def regenerate_inpaint(task: Task, values: Values, doc: Document, layer: RasterLayer) -> Request:
    """Repaint where the layer has paint, on the canvas under it."""
    picture, base = composite(layers_below(doc, layer), doc.rect), doc.size
    mask = _painted_area(layer, values)
    params = make_params(task, steered(values, doc, doc.rect), image=picture, mask=mask)
    make = images(lambda o: repaint_candidate(o, picture, base))
    return Request(task, params, layer.pixels.bbox(), make)


def regenerate_outpaint(task: Task, values: Values, doc: Document, layer: RasterLayer) -> Request:
    """Refill the border the outpaint added around the canvas under the layer."""
    left, top, right, bottom = (int(values.get(side, 0)) for side in SIDES)
    inner = Rect(left, top, doc.width - left - right, doc.height - top - bottom)
    if inner.w <= 0 or inner.h <= 0:
        raise RequestError("The canvas is smaller than this outpaint; it cannot be redone.")
    original = composite(layers_below(doc, layer), doc.rect)[inner.slices()]
    params = make_params(task, steered(values, doc, doc.rect), image=original)
    base = doc.size
    make = images(lambda o: repaint_candidate(o, original, base, (left, top)))
    return Request(task, params, doc.rect, make)


def _painted_area(layer: RasterLayer, values: Values) -> np.ndarray:
    """The mask that made an inpaint layer, about: its painted area shrunk by the grow and
    feather the engine adds again."""
    painted = np.where(layer.pixels.to_array()[..., 3] > 0, 255, 0).astype(np.uint8)
    shrink = int(values.get("grow", 0)) + int(values.get("feather", 0)) // 2
    shrunk = Selection(painted).shrink(shrink).mask if shrink else painted
    return np.asarray(shrunk if (shrunk >= MASK_LEVEL).any() else painted)
