"""Text to image: encode the prompt, denoise, decode; one image per seed of the batch."""

from __future__ import annotations

from engine.context import JobContext
from engine.protocol import ImageData, TaskResult
from plugins.diffusion import TXT2IMG
from plugins.diffusion.params import Txt2ImgParams, native_size, resolved_size
from plugins.diffusion.pipelines import pipeline_family_class, require_family
from plugins.diffusion.prompt_embeds import encode_prompts
from plugins.diffusion.sampling import (
    each_image,
    float_to_rgba,
    load_pipeline,
    prompt_warnings,
    resolved_meta,
)

FAMILIES = {"sd15", "sd2", "sdxl"}


def run(params: Txt2ImgParams, ctx: JobContext) -> TaskResult:
    entry = ctx.store.pick_checkpoint(params.model)
    require_family(entry, FAMILIES, TXT2IMG.title, families=ctx.families)
    width, height = resolved_size(params, native_size(entry))
    pipe = load_pipeline(ctx, entry, pipeline_family_class(entry.family), params.scheduler)
    embeds = encode_prompts(pipe, params.prompt, params.negative_prompt)
    outputs = []
    for seed, step_kwargs in each_image(ctx, params, entry, params.steps):
        result = pipe(
            **embeds.as_kwargs(),
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            width=width,
            height=height,
            output_type="np",
            **step_kwargs,
        )
        meta = resolved_meta(entry, seed, width, height)
        outputs.append(ImageData(float_to_rgba(result.images[0]), meta))
    return TaskResult(tuple(outputs), prompt_warnings(embeds))
