"""Image to video: a still set moving. Stable Video Diffusion when one is installed (its
motion amount, noise on the still and frame rate), else AnimateDiff video-to-video on the
still repeated for every frame, at a strength, with the motion adapter that fits the
checkpoint. Decoding and post-processing as for text to video.
"""

from __future__ import annotations

from typing import Any

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import JobError, TaskResult
from plugins.diffusion.mask_geometry import resize, rgba, work_size
from plugins.diffusion.params import native_size
from plugins.diffusion.sampling import denoising_steps
from plugins.video.clips import (
    DECODE_SPAN,
    finished_clip,
    generator,
    resolved_seed,
    step_reporter,
    with_scheduler,
)
from plugins.video.decoding import decode_or_keep, kept_latents, latents_key, latents_path
from plugins.video.params import DEFAULT_FRAMES, ImageToVideoParams
from plugins.video.text_to_video import animatediff, animatediff_clip

TASK_ID = "video.image_to_video"
TITLE = "Image to video"
SVD_SIDE = 768  # SVD makes 1024x576 clips: about 768 squared
SVD_FPS = 7  # the frame rate SVD is conditioned on by default
SVD_FRAME_AXIS = 1  # SVD's latents: (batch, frames, channels, h, w)


def svd_entry(ctx: JobContext, params: ImageToVideoParams) -> ModelEntry | None:
    """The Stable Video Diffusion model the params ask for (None: AnimateDiff instead)."""
    if params.method == "animatediff":
        return None
    if params.video_model:
        entry = ctx.store.find(params.video_model, "video")
        if entry.family != "svd":
            raise JobError(
                "invalid_input",
                f"'{entry.name}' is not a Stable Video Diffusion model; {TITLE} takes one.",
            )
        return entry
    installed = [e for e in ctx.store.entries if e.kind == "video" and e.family == "svd"]
    if not installed and params.method == "svd":
        raise JobError(
            "missing_model",
            "No Stable Video Diffusion model is installed. Put one (a diffusers folder) in "
            "the video models folder, or choose the AnimateDiff method.",
        )
    return installed[0] if installed else None


def prepare(params: ImageToVideoParams, ctx: JobContext) -> None:
    """Load the models `run` will use (the engine's warm-up)."""
    entry = svd_entry(ctx, params)
    if entry is not None:
        ctx.model(entry)
    else:
        animatediff(params, ctx, TITLE)


def run(params: ImageToVideoParams, ctx: JobContext) -> TaskResult:
    entry = svd_entry(ctx, params)
    if entry is not None:
        return run_svd(params, ctx, entry)
    return run_animatediff(params, ctx)


def still_at(params: ImageToVideoParams, side: int) -> tuple[Any, tuple[int, int]]:
    """The still as an RGB PIL image at about `side` squared in its own shape."""
    from PIL import Image

    picture = rgba(params.image)
    height, width = picture.shape[:2]
    size = work_size((width, height), params.work_size or side)
    return Image.fromarray(resize(picture[..., :3], size)), size


def run_svd(params: ImageToVideoParams, ctx: JobContext, entry: ModelEntry) -> TaskResult:
    ctx.progress(0.0, f"loading {entry.name}")
    pipe = ctx.model(entry)
    still, (width, height) = still_at(params, entry.settings.native_size or SVD_SIDE)
    frames = params.frames or int(pipe.unet.config.num_frames)
    fps = params.fps or SVD_FPS
    seed = resolved_seed(params.seed)
    key = latents_key(TASK_ID, params, seed, ctx.models_used)
    latents = kept_latents(ctx.store.home, key)
    vae_dtype = pipe.vae.dtype  # SVD upcasts a half-precision VAE and leaves it so for latents
    if latents is None:
        reporter = step_reporter(ctx, entry, params.steps, SVD_FRAME_AXIS)
        result = pipe(
            image=still,
            width=width,
            height=height,
            num_frames=frames,
            num_inference_steps=params.steps,
            min_guidance_scale=1.0,
            max_guidance_scale=max(1.0, params.cfg_scale),
            fps=max(1, round(fps) - 1),  # SVD is conditioned on the rate minus one
            motion_bucket_id=params.motion_bucket,
            noise_aug_strength=params.noise_aug,
            generator=generator(seed),
            output_type="latent",
            **reporter.step_end_kwargs(),
        )
        latents = result.frames[0]
    vae = pipe.vae
    scale = vae.config.scaling_factor

    def decode(chunk: Any) -> Any:
        return vae.decode(chunk.to(vae.device, vae.dtype) / scale, num_frames=len(chunk)).sample

    try:
        pixels = decode_or_keep(ctx, decode, latents, params.decode_chunk, key, seed, DECODE_SPAN)
    finally:
        vae.to(dtype=vae_dtype)
    latents_path(ctx.store.home, key).unlink(missing_ok=True)
    resolved = {"seed": seed, "width": width, "height": height, "model": entry.name}
    notes = (
        () if not params.prompt.strip() else ("Stable Video Diffusion does not read the prompt.",)
    )
    return TaskResult((finished_clip(ctx, pixels, fps, params, resolved),), notes)


def run_animatediff(params: ImageToVideoParams, ctx: JobContext) -> TaskResult:
    from diffusers import AnimateDiffVideoToVideoPipeline

    entry, adapter, view = animatediff(params, ctx, TITLE)
    pipe = with_scheduler(AnimateDiffVideoToVideoPipeline.from_pipe(view), params.scheduler)
    still, size = still_at(params, native_size(entry))
    frames = params.frames or int(adapter.settings.frames or DEFAULT_FRAMES)
    steps = denoising_steps(params.steps, params.strength)
    models = (entry, adapter, pipe)
    return animatediff_clip(
        ctx,
        params,
        TASK_ID,
        models,
        size,
        frames,
        steps,
        video=[still] * frames,
        strength=params.strength,
    )
