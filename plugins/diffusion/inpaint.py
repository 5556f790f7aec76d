"""Inpaint: repaint the masked part of a picture at model resolution and blend it back in.

1. The mask is grown and feathered into a soft mask, the weight of the paste-back: where
   it is 0 the picture's pixels come back exactly as they were.
2. Only a context crop is generated: the soft mask's box plus `context` pixels around it,
   widened toward the model's (square) aspect and scaled to about its native pixel count,
   so a small fix on a 4K canvas is a 512 or 1024 job and a huge canvas never runs whole.
3. The family's inpainting pipeline repaints the crop. A dedicated inpainting checkpoint
   (9-channel UNet) sees the mask and the masked picture; with an ordinary checkpoint
   diffusers resets the latents outside the mask to the picture's after every step. An
   ordinary checkpoint with an inpainting partner in the store ("sd-v1-5" and
   "sd-v1-5-inpainting", the built-in "atelier-demo" and "atelier-demo-inpaint") repaints
   with the partner; the recipe keeps the chosen model and names the partner.
4. The new pixels are colour-matched to the picture in a ring around the mask, scaled back
   to the crop's size and blended in with the soft mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import ImageData, TaskResult
from plugins.api import Task
from plugins.diffusion import INPAINT
from plugins.diffusion.controls import ControlArea, load_controls, with_controls
from plugins.diffusion.mask_geometry import (
    bbox,
    block_mask,
    context_box,
    match_colours,
    paste_back,
    place_mask,
    resize,
    rgba,
    ring,
    soft_mask,
    work_size,
)
from plugins.diffusion.params import InpaintParams, OutpaintParams, native_size
from plugins.diffusion.pipelines import pipeline_family_class, require_family
from plugins.diffusion.references import with_references
from plugins.diffusion.sampling import (
    denoising_steps,
    each_image,
    encode_with_adapters,
    float_to_rgba,
    load_pipeline,
    prompt_warnings,
    resolved_meta,
)

FAMILIES = {"sd15", "sd2", "sdxl"}
BOTH_KINDS = frozenset({"", "inpaint"})  # ordinary and dedicated inpainting checkpoints


def prepare(params: InpaintParams, ctx: JobContext) -> None:
    """Load the pipeline and control models `run` will use (the engine's warm-up)."""
    chosen, _, pipe = load_repaint_pipeline(params, ctx, INPAINT)
    load_controls(ctx, chosen, pipe, params)


def load_repaint_pipeline(
    params: InpaintParams | OutpaintParams, ctx: JobContext, task: Task
) -> tuple[ModelEntry, ModelEntry, Any]:
    """The checkpoint the params name (or the default), the one that repaints for it (its
    inpainting partner, else itself) and the latter's inpainting pipeline."""
    chosen = ctx.store.pick_checkpoint(params.model)
    require_family(chosen, FAMILIES, task.title, variants=BOTH_KINDS, families=ctx.families)
    entry = ctx.store.inpainting_partner(chosen) or chosen
    cls_name = pipeline_family_class(entry.family, "inpaint")
    return chosen, entry, load_pipeline(ctx, entry, cls_name, params.scheduler)


def run(params: InpaintParams, ctx: JobContext) -> TaskResult:
    picture = rgba(params.image)
    height, width = picture.shape[:2]
    mask = place_mask(params.mask, params.mask_origin, (width, height))
    soft = soft_mask(mask, params.grow, params.feather)
    extras = {"Mask blur": params.feather, "Inpaint area": "Only masked"}
    return repaint(params, ctx, picture, soft, INPAINT, extras, {})


def repaint(
    params: InpaintParams | OutpaintParams,
    ctx: JobContext,
    picture: np.ndarray,
    soft: np.ndarray,
    task: Task,
    extras: dict[str, Any],
    meta: dict[str, Any],
    resolved: dict[str, Any] | None = None,
) -> TaskResult:
    """Repaint `picture` (RGBA) where the soft mask is above 0; one full-size image per seed.
    `resolved`: params the task settled beyond the form's values, for the recipe."""
    from PIL import Image

    chosen, entry, pipe = load_repaint_pipeline(params, ctx, task)
    if entry is not chosen:
        extras = {**extras, "Inpainting model": entry.name}
    height, width = picture.shape[:2]
    box = context_box(bbox(soft), (width, height), params.context)
    work = work_size((box.w, box.h), params.work_size or native_size(entry))
    region = soft[box.slices()] > 0
    original = picture[box.slices()][..., :3]
    start = Image.fromarray(resize(original, work))
    model_mask = block_mask(resize(region.astype(np.uint8) * 255, work) > 0)
    mask_image = Image.fromarray(model_mask.astype(np.uint8) * 255)
    around = ring(region)
    control = with_controls(ctx, chosen, pipe, params, "inpaint")
    pipe = control.pipe
    references = with_references(ctx, entry, pipe, params)
    control_kwargs = control.call_kwargs(ControlArea((width, height), work, box))
    embeds, adapters = encode_with_adapters(ctx, entry, pipe, params)
    steps = denoising_steps(params.steps, params.strength)
    extras = {"Denoising strength": f"{params.strength:g}", **extras}
    extras["Masked area padding"] = params.context  # A1111's names, for `atelier info`
    outputs = []
    for seed, step_kwargs in each_image(ctx, params, entry, steps):
        result = pipe(
            **embeds.as_kwargs(),
            image=start,
            mask_image=mask_image,
            strength=params.strength,
            width=work[0],
            height=work[1],
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            output_type="np",
            **control_kwargs,
            **references.call_kwargs(),
            **step_kwargs,
        )
        patch = resize(float_to_rgba(result.images[0])[..., :3], (box.w, box.h))
        if params.match_colours:
            patch = match_colours(patch, original, around)
        pixels = paste_back(picture, patch, box, soft)
        info = {
            **resolved_meta(
                chosen,
                seed,
                work[0],
                work[1],
                **adapters,
                **control.recipe(extras),
                **references.recipe(),
                **(resolved or {}),
            ),
            "crop_rect": list(box),
            "work_size": list(work),
            "repaint_mask": soft,  # where pixels may differ from the input (weight > 0)
            **meta,
        }
        outputs.append(ImageData(pixels, info))
    return TaskResult(tuple(outputs), prompt_warnings(embeds) + control.warnings)
