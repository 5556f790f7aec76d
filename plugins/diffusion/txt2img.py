"""Text to image: encode the prompt, denoise, decode; one image per seed of the batch."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.diffusion_steps import step_callback
from engine.home import models_dir
from engine.latent_preview import LatentPreviewer
from engine.model_loader import pipeline_family_class, require_family
from engine.model_store import ModelEntry
from engine.protocol import ImageData, JobError, TaskResult
from plugins.diffusion import TXT2IMG
from plugins.diffusion.params import Txt2ImgParams, resolved_size
from plugins.diffusion.prompt_embeds import encode_prompts
from plugins.diffusion.schedulers import make_scheduler

FAMILIES = {"sd15", "sd2", "sdxl"}


def pick_model(ctx: JobContext, name: str) -> ModelEntry:
    """The named checkpoint, or the default one; a clear error when none is installed."""
    if name:
        return ctx.store.find(name)
    entry = ctx.store.default_checkpoint()
    if entry is None:
        raise JobError(
            "missing_model",
            "No model is installed. Put a checkpoint (.safetensors) or a diffusers folder "
            f"into {models_dir('checkpoints', ctx.store.home)} and try again.",
        )
    return entry


def run(params: Txt2ImgParams, ctx: JobContext) -> TaskResult:
    import torch

    entry = pick_model(ctx, params.model)
    require_family(entry, FAMILIES, "Text to image")
    width, height = resolved_size(params, entry.family)
    ctx.progress(0.0, f"loading {entry.name}")
    base = ctx.models.pipeline(entry, ctx.device, pipeline_family_class(entry.family))
    ctx.check_cancelled()
    pipe = type(base).from_pipe(
        base, scheduler=make_scheduler(params.scheduler, base.scheduler.config)
    )
    pipe.set_progress_bar_config(disable=True)
    embeds = encode_prompts(pipe, params.prompt, params.negative_prompt)
    previewer = LatentPreviewer(entry.family, ctx.device.device, ctx.store.home)
    first_seed = params.seed if params.seed >= 0 else random.randrange(2**32)
    outputs = []
    for index in range(params.batch_count):
        seed = (first_seed + index) % 2**32
        callback = step_callback(
            ctx,
            params.steps,
            previewer,
            start=index / params.batch_count,
            span=1 / params.batch_count,
            stage=f"image {index + 1} of {params.batch_count}",
        )
        result = pipe(
            **embeds.as_kwargs(),
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            width=width,
            height=height,
            generator=torch.Generator("cpu").manual_seed(seed),
            callback_on_step_end=callback,
            output_type="np",
        )
        recipe = _recipe(params, entry, seed=seed, width=width, height=height)
        outputs.append(ImageData(_to_rgba(result.images[0]), {"recipe": recipe}))
    warnings = []
    if embeds.chunks > 1:
        warnings.append(
            f"The prompt is long; it was encoded in {embeds.chunks} chunks of 75 tokens."
        )
    return TaskResult(tuple(outputs), tuple(warnings))


def _to_rgba(image: np.ndarray) -> np.ndarray:
    rgb = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def _recipe(params: Txt2ImgParams, entry: ModelEntry, **resolved: Any) -> dict[str, Any]:
    """Everything needed to make this image again (DESIGN.md section 5)."""
    values = {**dataclasses.asdict(params), **resolved, "batch_count": 1, "model": entry.name}
    return {
        "task": TXT2IMG.id,
        "version": TXT2IMG.version,
        "params": values,
        "model": {"name": entry.name, "family": entry.family, "hash": entry.short_hash()},
    }
