"""What the image tasks share: pipeline and scheduler, seeds and step callbacks, recipes.

Only the engine thread imports this module (it imports torch inside its functions).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.diffusion_steps import step_callback
from engine.latent_preview import LatentPreviewer
from engine.model_store import ModelEntry
from plugins.api import Task, param_specs
from plugins.diffusion.params import SamplingParams
from plugins.diffusion.prompt_embeds import MAX_TOKENS, PromptEmbeds
from plugins.diffusion.schedulers import make_scheduler


def float_to_rgba(image: np.ndarray) -> np.ndarray:
    """A pipeline's (H, W, 3) float image in [0, 1] as opaque RGBA uint8."""
    rgb = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def load_pipeline(ctx: JobContext, entry: ModelEntry, cls_name: str, scheduler: str) -> Any:
    """`entry` as a `cls_name` pipeline (sharing the loaded components) with a new scheduler."""
    ctx.progress(0.0, f"loading {entry.name}")
    base = ctx.models.pipeline(entry, ctx.device, cls_name)
    ctx.check_cancelled()
    pipe = type(base).from_pipe(base, scheduler=make_scheduler(scheduler, base.scheduler.config))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def each_image(
    ctx: JobContext, params: SamplingParams, entry: ModelEntry, steps: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    """For each image of the batch: its seed (consecutive from the first) and the
    `generator` and `callback_on_step_end` arguments of its pipeline call. Progress runs
    over the batch; `steps` is the number of steps the pipeline will really run."""
    import torch

    previewer = LatentPreviewer(
        entry.family, ctx.device.device, ctx.store.home, entry.settings.latent_rgb
    )
    first = params.seed if params.seed >= 0 else random.randrange(2**32)
    count = params.batch_count
    for index in range(count):
        seed = (first + index) % 2**32
        callback = step_callback(
            ctx,
            steps,
            previewer,
            start=index / count,
            span=1 / count,
            stage=f"image {index + 1} of {count}",
        )
        yield (
            seed,
            {
                "generator": torch.Generator("cpu").manual_seed(seed),
                "callback_on_step_end": callback,
            },
        )


def denoising_steps(steps: int, strength: float) -> int:
    """The steps an img2img/inpaint pipeline runs: diffusers skips the first (1 - strength)."""
    return max(1, min(int(steps * strength), steps))


def prompt_warnings(embeds: PromptEmbeds) -> tuple[str, ...]:
    """What a designer should know about how the prompt was read."""
    if embeds.cut:
        return (
            f"The prompt is too long ({embeds.tokens} tokens or more); only its first "
            f"{MAX_TOKENS} tokens were used. Shorten it to keep control over what is used.",
        )
    if embeds.chunks > 1:
        return (f"The prompt is long; it was encoded in {embeds.chunks} chunks of 75 tokens.",)
    return ()


def recipe(
    task: Task, params: SamplingParams, entry: ModelEntry, **resolved: Any
) -> dict[str, Any]:
    """Everything needed to make this image again, save the input pixels (DESIGN.md section 5):
    the form's values, the resolved seed and size, the model."""
    values = {f.name: getattr(params, f.name) for f, _ in param_specs(type(params))}
    values.update(resolved, batch_count=1, model=entry.name)
    model = {"name": entry.name, "family": entry.family, "hash": entry.short_hash()}
    if entry.variant:
        model["variant"] = entry.variant
    return {"task": task.id, "version": task.version, "params": values, "model": model}
