"""Text to image: encode the prompt, denoise, decode; one image per seed of the batch."""

from __future__ import annotations

from typing import Any

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import ImageData, TaskResult
from plugins.diffusion import TXT2IMG
from plugins.diffusion.controls import ControlArea, load_controls, with_controls
from plugins.diffusion.params import Txt2ImgParams, native_size, resolved_size
from plugins.diffusion.pipelines import pipeline_family_class, require_family
from plugins.diffusion.references import with_references
from plugins.diffusion.sampling import (
    each_image,
    encode_with_adapters,
    float_to_rgba,
    load_pipeline,
    prompt_warnings,
    resolved_meta,
)

FAMILIES = {"sd15", "sd2", "sdxl"}


def prepare(params: Txt2ImgParams, ctx: JobContext) -> None:
    """Load the pipeline and control models `run` will use (the engine's warm-up)."""
    entry, pipe = pipeline(params, ctx)
    load_controls(ctx, entry, pipe, params)


def pipeline(params: Txt2ImgParams, ctx: JobContext) -> tuple[ModelEntry, Any]:
    """The checkpoint the params name (or the default) and its text-to-image pipeline."""
    entry = ctx.store.pick_checkpoint(params.model)
    require_family(entry, FAMILIES, TXT2IMG.title, families=ctx.families)
    return entry, load_pipeline(ctx, entry, pipeline_family_class(entry.family), params.scheduler)


def run(params: Txt2ImgParams, ctx: JobContext) -> TaskResult:
    entry, pipe = pipeline(params, ctx)
    control = with_controls(ctx, entry, pipe, params, "txt2img")
    pipe = control.pipe
    references = with_references(ctx, entry, pipe, params)
    width, height = resolved_size(params, native_size(entry))
    control_kwargs = control.call_kwargs(ControlArea((width, height), (width, height)))
    embeds, adapters = encode_with_adapters(ctx, entry, pipe, params)
    outputs = []
    for seed, step_kwargs in each_image(ctx, params, entry, params.steps, control.legacy_steps):
        result = pipe(
            **embeds.as_kwargs(),
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            width=width,
            height=height,
            output_type="np",
            **control_kwargs,
            **references.call_kwargs(),
            **step_kwargs,
        )
        meta = resolved_meta(
            entry,
            seed,
            width,
            height,
            **adapters,
            **control.recipe({}),
            **references.recipe(),
        )
        outputs.append(ImageData(float_to_rgba(result.images[0]), meta))
    return TaskResult(tuple(outputs), prompt_warnings(embeds) + control.warnings)
