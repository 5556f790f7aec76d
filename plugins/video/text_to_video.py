"""Text to video with AnimateDiff: an SD 1.x checkpoint with a motion adapter denoises all
frames together; past the adapter's window, FreeNoise slides the window over the clip.
The latents are decoded in chunks (plugins.video.decoding), then smoothed and upscaled
when asked. A Wan or CogVideoX model named in `video_model` makes the clip instead.
"""

from __future__ import annotations

from typing import Any

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import TaskResult
from plugins.diffusion.adapters import apply_adapters
from plugins.diffusion.params import native_size, resolved_size
from plugins.diffusion.pipelines import require_family
from plugins.diffusion.prompt_embeds import encode_prompts
from plugins.diffusion.sampling import prompt_warnings
from plugins.video.clips import (
    DECODE_SPAN,
    finished_clip,
    generator,
    resolved_seed,
    step_reporter,
    with_scheduler,
)
from plugins.video.decoding import decode_or_keep, kept_latents, latents_key, latents_path
from plugins.video.motion import motion_pipeline
from plugins.video.motion_choice import adapter_window, pick_motion_adapter
from plugins.video.motion_loras import lora_layers_set_aside, set_motion_loras
from plugins.video.params import DEFAULT_FPS, TextToVideoParams

TASK_ID = "video.text_to_video"
FAMILIES = {"sd15"}  # AnimateDiff's motion adapters are made for SD 1.x UNets
LATENT_FRAME_AXIS = 2  # AnimateDiff's latents: (batch, channels, frames, h, w)


def prepare(params: TextToVideoParams, ctx: JobContext) -> None:
    """Load the checkpoint, motion adapter and AnimateDiff pipeline `run` will use."""
    if not params.video_model:
        animatediff(params, ctx, "Text to video")


def animatediff(params: Any, ctx: JobContext, feature: str) -> tuple[ModelEntry, ModelEntry, Any]:
    """The checkpoint, the motion adapter and their AnimateDiff pipeline for `params`."""
    entry = ctx.store.pick_checkpoint(params.model)
    require_family(entry, FAMILIES, feature, families=ctx.families)
    adapter = pick_motion_adapter(ctx.store, entry, params.motion)
    ctx.progress(0.0, f"loading {entry.name} with {adapter.name}")
    pipe = motion_pipeline(ctx, entry, adapter)
    ctx.check_cancelled()
    return entry, adapter, pipe


def context_window(params: Any, adapter: ModelEntry, pipe: Any) -> int:
    """The frames the motion modules see at once: the params', else the adapter's own,
    never more than its position embeddings reach."""
    longest = int(pipe.unet.config.motion_max_seq_length)
    return min(params.context or adapter_window(adapter), longest)


def prompt_kwargs(pipe: Any, prompt: str, negative: str, free_noise: bool) -> tuple[dict, tuple]:
    """The prompt arguments of an AnimateDiff call and their warnings. FreeNoise encodes
    the text itself (one prompt from frame 0; diffusers' 77-token limit)."""
    if free_noise:
        return {"prompt": {0: prompt}, "negative_prompt": negative}, ()
    embeds = encode_prompts(pipe, prompt, negative)
    return embeds.as_kwargs(), prompt_warnings(embeds)


def denoise(pipe: Any, window: int, frames: int, **call: Any) -> Any:
    """Run an AnimateDiff pipeline to latents, (frames, C, h, w); FreeNoise's sliding
    window when the clip is longer than `window`, switched off again afterwards. A video
    to video call counts its frames from its `video`. FreeNoise rebuilds the motion
    blocks, so motion LoRAs are set aside meanwhile and put back into the new blocks."""
    free_noise = frames > window
    if "video" not in call:
        call["num_frames"] = frames
    if free_noise:
        with lora_layers_set_aside(pipe.motion_adapter):
            pipe.enable_free_noise(context_length=window, context_stride=max(1, window // 4))
    try:
        result = pipe(output_type="latent", **call)
    finally:
        if free_noise:
            with lora_layers_set_aside(pipe.motion_adapter):
                pipe.disable_free_noise()
    return result.frames[0].movedim(1, 0)


def vae_decoder(vae: Any) -> Any:
    """Decode (n, C, h, w) latents of an SD VAE to (n, 3, H, W) pixels in [-1, 1]."""
    scale = vae.config.scaling_factor
    return lambda latents: vae.decode(latents.to(vae.device, vae.dtype) / scale).sample


def run(params: TextToVideoParams, ctx: JobContext) -> TaskResult:
    if params.video_model:
        from plugins.video.video_models import run_text

        return run_text(params, ctx)
    entry, adapter, view = animatediff(params, ctx, "Text to video")
    pipe = with_scheduler(view, params.scheduler)
    size = resolved_size(params, native_size(entry))
    return animatediff_clip(ctx, params, TASK_ID, (entry, adapter, pipe), size, params.frames)


def animatediff_clip(
    ctx: JobContext,
    params: Any,
    task_id: str,
    models: tuple[ModelEntry, ModelEntry, Any],
    size: tuple[int, int],
    frames: int,
    steps: int | None = None,
    **call: Any,
) -> TaskResult:
    """One clip from an AnimateDiff pipeline (text to video, or video to video with the
    `call`'s video and strength, or SparseCtrl's conditioning): the job's LoRAs on the
    checkpoint and its motion LoRAs on the motion modules, the latents kept
    from an earlier run of the same job or denoised (`steps`: the steps the pipeline will
    really run), decoded in chunks and post-processed."""
    entry, adapter, pipe = models
    steering = apply_adapters(ctx, entry, ctx.model(entry), params)
    motion_loras = set_motion_loras(ctx, adapter, pipe.motion_adapter, params.motion_loras)
    window = context_window(params, adapter, pipe)
    seed = resolved_seed(params.seed)
    key = latents_key(task_id, params, seed, ctx.models_used)
    latents, warnings = kept_latents(ctx.store.home, key), ()
    if latents is None:
        prompts, warnings = prompt_kwargs(
            pipe, steering.prompt, steering.negative_prompt, frames > window
        )
        reporter = step_reporter(ctx, entry, steps or params.steps, LATENT_FRAME_AXIS)
        latents = denoise(
            pipe,
            window,
            frames,
            **prompts,
            **call,
            width=size[0],
            height=size[1],
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            generator=generator(seed),
            **reporter.step_end_kwargs(),
        )
    pixels = decode_or_keep(
        ctx, vae_decoder(pipe.vae), latents, params.decode_chunk, key, seed, DECODE_SPAN
    )
    latents_path(ctx.store.home, key).unlink(missing_ok=True)
    fps = params.fps or adapter.settings.fps or DEFAULT_FPS
    resolved = {
        "seed": seed,
        "width": size[0],
        "height": size[1],
        "model": entry.name,
        "motion": adapter.name,
        "context": window,
        "motion_loras": motion_loras,
        **steering.resolved,
    }
    notes = warnings + free_noise_note(frames, window)
    return TaskResult((finished_clip(ctx, pixels, fps, params, resolved),), notes)


def free_noise_note(frames: int, window: int) -> tuple[str, ...]:
    if frames <= window:
        return ()
    return (
        f"{frames} frames are more than the motion model sees at once ({window}): the "
        "clip was made in overlapping windows (FreeNoise).",
    )
