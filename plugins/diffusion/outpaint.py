"""Outpaint: extend the picture on any side and paint the new area to match.

The canvas grows by left/top/right/bottom pixels (each rounded up to a multiple of 8). The
new area is pre-filled with the picture's edges stretched outward and blurred; the mask is
the new area plus a feathered `overlap` into the old picture; the inpaint path repaints it
(with its context crop, so a large result is still a model-sized job). The old pixels
beyond the overlap stay exactly as they were. The recipe records the rounded amounts.
"""

from __future__ import annotations

from engine.context import JobContext
from engine.protocol import TaskResult
from plugins.diffusion import OUTPAINT
from plugins.diffusion.controls import load_controls
from plugins.diffusion.inpaint import load_repaint_pipeline, repaint
from plugins.diffusion.mask_geometry import extend_canvas, outpaint_mask, rgba
from plugins.diffusion.params import OutpaintParams, outpaint_amounts


def prepare(params: OutpaintParams, ctx: JobContext) -> None:
    """Load the pipeline and control models `run` will use (the engine's warm-up)."""
    chosen, _, pipe = load_repaint_pipeline(params, ctx, OUTPAINT)
    load_controls(ctx, chosen, pipe, params)


def run(params: OutpaintParams, ctx: JobContext) -> TaskResult:
    picture = rgba(params.image)
    height, width = picture.shape[:2]
    left, top, right, bottom = amounts = outpaint_amounts(params)
    canvas = extend_canvas(picture, left, top, right, bottom)
    soft = outpaint_mask((width, height), amounts, params.overlap)
    extras = {"Outpaint": f"left {left}, top {top}, right {right}, bottom {bottom}"}
    meta = {"offset": [left, top], "extend": list(amounts)}
    rounded = {"left": left, "top": top, "right": right, "bottom": bottom}
    return repaint(params, ctx, canvas, soft, OUTPAINT, extras, meta, rounded)
