"""Image to image: a picture (the canvas or a selection's crop) repainted at a strength.

The picture is scaled to about the model's native pixel count (its aspect kept, sides in
multiples of 8), partly noised and denoised under the prompt, then scaled back to its own
size. Its alpha channel is kept, so a cut-out stays cut out.
"""

from __future__ import annotations

from typing import Any

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import ImageData, TaskResult
from plugins.diffusion import IMG2IMG
from plugins.diffusion.controls import ControlArea, load_controls, with_controls
from plugins.diffusion.mask_geometry import resize, rgba, work_size
from plugins.diffusion.params import Img2ImgParams, native_size
from plugins.diffusion.pipelines import require_family
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

PIPELINES = {
    "sd15": "StableDiffusionImg2ImgPipeline",
    "sd2": "StableDiffusionImg2ImgPipeline",
    "sdxl": "StableDiffusionXLImg2ImgPipeline",
}  # not yet the SDXL refiner: its prompt has only the second text encoder


def prepare(params: Img2ImgParams, ctx: JobContext) -> None:
    """Load the pipeline and control models `run` will use (the engine's warm-up)."""
    entry, pipe = pipeline(params, ctx)
    load_controls(ctx, entry, pipe, params)


def pipeline(params: Img2ImgParams, ctx: JobContext) -> tuple[ModelEntry, Any]:
    """The checkpoint the params name (or the default) and its image-to-image pipeline."""
    entry = ctx.store.pick_checkpoint(params.model)
    require_family(entry, set(PIPELINES), IMG2IMG.title, families=ctx.families)
    return entry, load_pipeline(ctx, entry, PIPELINES[entry.family], params.scheduler)


def run(params: Img2ImgParams, ctx: JobContext) -> TaskResult:
    from PIL import Image

    entry, pipe = pipeline(params, ctx)
    picture = rgba(params.image)
    height, width = picture.shape[:2]
    work = work_size((width, height), params.work_size or native_size(entry))
    start = Image.fromarray(resize(picture[..., :3], work))
    control = with_controls(ctx, entry, pipe, params, "img2img")
    pipe = control.pipe
    references = with_references(ctx, entry, pipe, params)
    control_kwargs = control.call_kwargs(ControlArea((width, height), work))
    embeds, adapters = encode_with_adapters(ctx, entry, pipe, params)
    steps = denoising_steps(params.steps, params.strength)
    outputs = []
    for seed, step_kwargs in each_image(ctx, params, entry, steps):
        result = pipe(
            **embeds.as_kwargs(),
            image=start,
            strength=params.strength,
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            output_type="np",
            **control_kwargs,
            **references.call_kwargs(),
            **step_kwargs,
        )
        pixels = resize(float_to_rgba(result.images[0]), (width, height))
        pixels[..., 3] = picture[..., 3]
        extras = {"Denoising strength": f"{params.strength:g}"}
        meta = {
            **resolved_meta(
                entry,
                seed,
                work[0],
                work[1],
                **adapters,
                **control.recipe(extras),
                **references.recipe(),
            ),
            "crop_rect": [0, 0, width, height],
            "work_size": list(work),
        }
        outputs.append(ImageData(pixels, meta))
    return TaskResult(tuple(outputs), prompt_warnings(embeds) + control.warnings)
