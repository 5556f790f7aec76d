"""What the image tasks share: pipeline and scheduler, seeds and step reports, what each
image's recipe records.

Only the engine thread imports this module (it imports torch inside its functions).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.recipes import RESOLVED
from engine.step_reporter import StepReporter
from plugins.diffusion.adapters import apply_adapters
from plugins.diffusion.latent_preview import LatentPreviewer
from plugins.diffusion.params import SamplingParams
from plugins.diffusion.pipelines import checkpoint_pipeline
from plugins.diffusion.prompt_embeds import MAX_TOKENS, PromptEmbeds, encode_prompts
from plugins.diffusion.schedulers import make_scheduler


def float_to_rgba(image: np.ndarray) -> np.ndarray:
    """A pipeline's (H, W, 3) float image in [0, 1] as opaque RGBA uint8."""
    rgb = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def load_pipeline(ctx: JobContext, entry: ModelEntry, cls_name: str, scheduler: str) -> Any:
    """`entry` as a `cls_name` pipeline (sharing the loaded components) with a new scheduler."""
    ctx.progress(0.0, f"loading {entry.name}")
    base = checkpoint_pipeline(ctx, entry, cls_name)
    ctx.check_cancelled()
    pipe = type(base).from_pipe(base, scheduler=make_scheduler(scheduler, base.scheduler.config))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def encode_with_adapters(
    ctx: JobContext, entry: ModelEntry, pipe: Any, params: SamplingParams
) -> tuple[PromptEmbeds, dict[str, Any]]:
    """The job's LoRAs and embeddings put on `pipe` (plugins.diffusion.adapters), then its
    prompts encoded; and what each image's recipe records of them (for resolved_meta)."""
    steering = apply_adapters(ctx, entry, pipe, params)
    return encode_prompts(pipe, steering.prompt, steering.negative_prompt), steering.resolved


def each_image(
    ctx: JobContext, params: SamplingParams, entry: ModelEntry, steps: int, legacy: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """For each image of the batch: its seed (consecutive from the first) and the
    `generator` and step-reporting arguments of its pipeline call (the older `callback`
    ones with `legacy`, for pipelines without `callback_on_step_end`). Progress runs over
    the batch; `steps` is the number of steps the pipeline will really run."""
    import torch

    previewer = LatentPreviewer(
        entry.family, ctx.device.device, ctx.store.home, entry.settings.latent_rgb
    )
    first = params.seed if params.seed >= 0 else random.randrange(2**32)
    count = params.batch_count
    for index in range(count):
        seed = (first + index) % 2**32
        reporter = StepReporter(
            ctx,
            steps,
            previewer,
            start=index / count,
            span=1 / count,
            stage=f"image {index + 1} of {count}",
        )
        generator = torch.Generator("cpu").manual_seed(seed)
        report = reporter.legacy_kwargs() if legacy else reporter.step_end_kwargs()
        yield seed, {"generator": generator, **report}


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


def resolved_meta(entry: ModelEntry, seed: int, width: int, height: int, **extra: Any) -> dict:
    """An image's meta reporting what its recipe records beyond the form (engine.recipes):
    its seed, the size it was made at, the model's name (the form may leave it to the
    default), and that it is one image; `extra`: the task's own, such as A1111's "extras"."""
    made = {"seed": seed, "width": width, "height": height, "batch_count": 1, "model": entry.name}
    return {RESOLVED: {**made, **extra}}
