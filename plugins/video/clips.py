"""What the video runners share: the seed, step previews as a strip of frames, the
scheduler, and the finished clip (decoded, post-processed, its recipe's resolved values).
Only the engine thread imports this module.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import ImageData, VideoData
from engine.recipes import RESOLVED
from engine.step_reporter import StepReporter
from plugins.diffusion.latent_preview import LatentPreviewer
from plugins.diffusion.schedulers import make_scheduler
from plugins.video.params import STRIP_FRAMES
from plugins.video.post import interpolate_2x, upscale_2x

DENOISE_SPAN = (0.0, 0.85)  # of the job's progress; decoding and post-processing follow
DECODE_SPAN = (0.85, 0.12)


def resolved_seed(seed: int) -> int:
    return seed if seed >= 0 else random.randrange(2**32)


def generator(seed: int) -> Any:
    import torch

    return torch.Generator("cpu").manual_seed(seed)


def with_scheduler(pipe: Any, scheduler: str) -> Any:
    """A pipeline of `pipe`'s class over its parts with the scheduler named (a new one)."""
    made = type(pipe).from_pipe(pipe, scheduler=make_scheduler(scheduler, pipe.scheduler.config))
    made.set_progress_bar_config(disable=True)
    return made


class FrameStrip:
    """Step previews of a clip: a few of its frames, evenly spaced, side by side, each
    made by the diffusion plugin's latent previewer. `frame_axis` is where the frames are
    in the pipeline's latents (AnimateDiff: (B, C, F, h, w) -> 2; SVD: (B, F, C, h, w) -> 1)."""

    def __init__(self, previewer: LatentPreviewer, frame_axis: int) -> None:
        self.previewer = previewer
        self.frame_axis = frame_axis

    def __call__(self, latents: Any) -> ImageData:
        frames = latents[0].movedim(self.frame_axis - 1, 0)  # (F, C, h, w)
        picks = np.linspace(0, len(frames) - 1, min(STRIP_FRAMES, len(frames))).round()
        tiles = [self.previewer(frames[int(i)][None]).pixels for i in picks]
        return ImageData(np.concatenate(tiles, axis=1), {"preview": "frames"})


def step_reporter(ctx: JobContext, entry: ModelEntry, steps: int, frame_axis: int) -> StepReporter:
    """Progress, cancel and frame-strip previews for the denoising steps of `entry`'s model."""
    previewer = LatentPreviewer(
        entry.family, ctx.device.device, ctx.store.home, entry.settings.latent_rgb
    )
    start, span = DENOISE_SPAN
    strip = FrameStrip(previewer, frame_axis)
    return StepReporter(ctx, steps, strip, start=start, span=span, stage="denoising")


def finished_clip(
    ctx: JobContext, frames: np.ndarray, fps: float, params: Any, resolved: dict[str, Any]
) -> VideoData:
    """The decoded frames after the params' interpolation and upscaling, as a clip whose
    recipe reports what was resolved (its seed, size, frame count and rate before
    post-processing, so the recipe makes the same clip again)."""
    made = {"frames": int(len(frames)), "fps": float(fps), **resolved}
    if getattr(params, "interpolate", False) and len(frames) > 1:
        ctx.progress(0.97, "smoothing motion")
        frames, fps = interpolate_2x(frames), fps * 2
    if getattr(params, "upscale", False):
        ctx.check_cancelled()
        ctx.progress(0.99, "upscaling frames")
        frames = upscale_2x(frames)
    return VideoData(np.ascontiguousarray(frames), float(fps), {RESOLVED: made})
