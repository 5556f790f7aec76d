"""Video pipelines loaded whole from their diffusers folders: Stable Video Diffusion, and
Wan and CogVideoX when their weights are installed; and the small text-to-video runner of
the last two (frame count and size snapped to the model's rule, the snapping noted).

Wan and CogVideoX compress frames in time, so their pipelines decode the whole clip
themselves (the VAE's tiling on where the device policy says memory is short); the
chunked decoding that keeps latents is AnimateDiff's and SVD's. Only the engine thread
imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.context import JobContext
from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.protocol import JobError, TaskResult
from plugins.video.clips import finished_clip, generator, resolved_seed, step_reporter
from plugins.video.params import TextToVideoParams, snap_video_size

if TYPE_CHECKING:
    import torch

    from engine.model_store import ModelStore

PIPELINES = {  # the pipeline classes a video folder may name, and what each makes from
    "StableVideoDiffusionPipeline": "image",
    "WanPipeline": "text",
    "WanImageToVideoPipeline": "image",
    "CogVideoXPipeline": "text",
    "CogVideoXImageToVideoPipeline": "image",
}
NATIVE = {"wan": (832, 480), "cogvideox": (720, 480)}  # their pipelines' default sizes
FPS = {"wan": 16, "cogvideox": 8}
FRAME_AXIS = {"wan": 2, "cogvideox": 1}  # where the frames are in their latents


def pipeline_class(entry: ModelEntry) -> str:
    """The pipeline class named by a video folder's model_index.json; JobError for others."""
    name = read_json_object(entry.path / "model_index.json").get("_class_name")
    if name not in PIPELINES:
        known = ", ".join(sorted(PIPELINES))
        raise JobError(
            "invalid_input", f"'{entry.name}' is not a video pipeline Atelier runs ({known})."
        )
    return name


def load_video_pipeline(
    entry: ModelEntry, store: ModelStore, *, dtype: torch.dtype, device: str, variant: str | None
) -> Any:
    """The loader of the svd, wan and cogvideox families: the folder's pipeline, offline."""
    import diffusers

    cls = getattr(diffusers, pipeline_class(entry))
    pipe = cls.from_pretrained(
        entry.path, dtype=dtype, variant=variant, trust_remote_code=False, **OFFLINE
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_text(params: TextToVideoParams, ctx: JobContext) -> TaskResult:
    """A clip from the prompt with the Wan or CogVideoX model `params.video_model`."""
    entry = ctx.store.find(params.video_model, "video")
    if entry.family not in NATIVE or PIPELINES[pipeline_class(entry)] != "text":
        raise JobError(
            "invalid_input",
            f"'{entry.name}' does not make clips from a prompt; choose a Wan or CogVideoX "
            "text-to-video model, or leave Video model empty for AnimateDiff.",
        )
    if params.loras or params.motion_loras:
        raise JobError("invalid_input", f"LoRAs are not used with {entry.name} yet; remove them.")
    ctx.progress(0.0, f"loading {entry.name}")
    pipe = ctx.model(entry)
    native = NATIVE[entry.family]
    frames, width, height, note = snap_video_size(
        entry.family, params.frames, params.width or native[0], params.height or native[1]
    )
    seed = resolved_seed(params.seed)
    reporter = step_reporter(ctx, entry, params.steps, FRAME_AXIS[entry.family])
    result = pipe(
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        num_frames=frames,
        width=width,
        height=height,
        num_inference_steps=params.steps,
        guidance_scale=params.cfg_scale,
        generator=generator(seed),
        output_type="np",
        **reporter.step_end_kwargs(),
    )
    pixels = (np.clip(np.asarray(result.frames[0]), 0, 1) * 255).round().astype(np.uint8)
    fps = params.fps or FPS[entry.family]
    resolved = {
        "seed": seed,
        "width": width,
        "height": height,
        "frames": frames,
        "model": entry.name,
    }
    return TaskResult((finished_clip(ctx, pixels, fps, params, resolved),), (note,) if note else ())
