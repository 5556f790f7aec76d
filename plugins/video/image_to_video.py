"""Image to video: a still set moving. Stable Video Diffusion when one is installed (its
motion amount, noise on the still and frame rate), else AnimateDiff with the motion adapter
that fits the checkpoint: steered by an RGB SparseCtrl made for the checkpoint's UNet,
the still the first frame's condition, when one is installed and the clip fits the
adapter's window; else video-to-video on the still repeated for every frame, at a
strength. Decoding and post-processing as for text to video.
"""

from __future__ import annotations

from typing import Any

from engine.context import JobContext
from engine.home import models_dir
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
from plugins.video.sparse_control import rgb_sparsectrl_for
from plugins.video.text_to_video import animatediff, animatediff_clip, context_window

TASK_ID = "video.image_to_video"
TITLE = "Image to video"
SVD_SIDE = 768  # SVD makes 1024x576 clips: about 768 squared
SVD_FPS = 7  # the frame rate SVD is conditioned on by default
SVD_FRAME_AXIS = 1  # SVD's latents: (batch, frames, channels, h, w)


def svd_entry(ctx: JobContext, params: ImageToVideoParams) -> ModelEntry | None:
    """The Stable Video Diffusion model the params ask for (None: AnimateDiff instead;
    "auto" takes AnimateDiff when motion LoRAs are asked for: only its motion modules
    take them)."""
    if params.method in ("animatediff", "sparsectrl"):
        return None
    if params.motion_loras and params.method == "svd":
        raise JobError(
            "invalid_input",
            "Motion LoRAs act on AnimateDiff's motion modules, and Stable Video Diffusion "
            "has none: remove them, or choose another method.",
        )
    if params.motion_loras:
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
        return
    checkpoint, _, _ = animatediff(params, ctx, TITLE)
    control = rgb_sparsectrl_for(ctx.store, checkpoint)
    if control is not None and params.method in ("auto", "sparsectrl"):
        ctx.model(control)


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


def sparse_control(
    ctx: JobContext, params: ImageToVideoParams, checkpoint: ModelEntry, frames: int, window: int
) -> ModelEntry | None:
    """The RGB SparseCtrl the clip is steered by, or None for video to video on the still:
    "auto" takes one that fits `checkpoint` when the clip fits the motion window (SparseCtrl
    has no sliding windows); "sparsectrl" insists, with a sentence when it cannot."""
    if params.method not in ("auto", "sparsectrl"):
        return None
    control = rgb_sparsectrl_for(ctx.store, checkpoint)
    if params.method == "auto":
        return control if frames <= window else None
    if control is None:
        raise JobError(
            "missing_model",
            f"No RGB SparseCtrl fits '{checkpoint.name}'. Put a SparseCtrl RGB folder "
            f"(diffusers format) made for it in {models_dir('motion', ctx.store.home)}, or "
            "choose another method.",
        )
    if frames > window:
        raise JobError(
            "invalid_input",
            f"SparseCtrl makes at most {window} frames at once with this motion model; ask "
            "for fewer frames, or choose the AnimateDiff method.",
        )
    return control


def run_animatediff(params: ImageToVideoParams, ctx: JobContext) -> TaskResult:
    from diffusers import AnimateDiffSparseControlNetPipeline, AnimateDiffVideoToVideoPipeline

    entry, adapter, view = animatediff(params, ctx, TITLE)
    still, size = still_at(params, native_size(entry))
    frames = params.frames or int(adapter.settings.frames or DEFAULT_FRAMES)
    control = sparse_control(ctx, params, entry, frames, context_window(params, adapter, view))
    if control is not None:
        ctx.progress(0.0, f"loading {control.name}")
        steered = AnimateDiffSparseControlNetPipeline.from_pipe(view, controlnet=ctx.model(control))
        pipe = with_scheduler(steered, params.scheduler)
        return animatediff_clip(
            ctx,
            params,
            TASK_ID,
            (entry, adapter, pipe),
            size,
            frames,
            conditioning_frames=[still],
            controlnet_frame_indices=[0],
        )
    pipe = with_scheduler(AnimateDiffVideoToVideoPipeline.from_pipe(view), params.scheduler)
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
