"""Pieces longer than a diffusion music pipeline makes at once, window by window.

Each window is a whole denoising run of the pipeline. Every window after the first hears
the one before it: after each of its steps, its first frames are put back to the last
frames of the window before, noised to the level of the next step (as diffusers'
inpainting does for a model without mask channels), so the rest of it is denoised to go
on from them and, at the last step, they are exactly the frames already made. Each window
is decoded alone (memory stays that of one window) and the windows are crossfaded over
the frames they share, so no seam clicks. A stop keeps the windows already made; the
first seconds can be heard while the rest is made.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.context import JobContext
from engine.protocol import AudioData, JobCancelledError
from engine.step_reporter import StepReporter
from plugins.music.loudness import to_loudness
from plugins.music.musicgen import StopAndKeep
from plugins.video.clips import generator

if TYPE_CHECKING:
    import torch

GENERATE_START, GENERATE_WIDTH = 0.02, 0.96  # the part of the progress bar windows fill


@dataclass(frozen=True)
class LatentAudio:
    """How one pipeline's latents hold sound: `call(seed, callback)` runs a window and
    returns its latents, whose first `frames` frames along their time axis `axis` are the
    window's sound, `samples_per_frame` samples each; `decode(latents)` gives samples
    (C, N)."""

    call: Callable[[int, Callable[..., None]], Any]
    decode: Callable[[Any], np.ndarray]
    axis: int
    frames: int
    samples_per_frame: int


@dataclass(frozen=True)
class Plan:
    """`count` windows of `frames` latent frames, each after the first sharing its first
    `shared` frames with the one before."""

    count: int
    frames: int
    shared: int


def plan_windows(wanted: int, frames: int, shared_s: float, rate: int, per_frame: int) -> Plan:
    """The fewest windows of `frames` frames making `wanted` samples, each after the first
    sharing about `shared_s` seconds (at least one frame, at most all but one)."""
    shared = min(max(1, round(shared_s * rate / per_frame)), frames - 1)
    more = max(0, wanted - frames * per_frame)
    return Plan(1 + math.ceil(more / ((frames - shared) * per_frame)), frames, shared)


class HeldStart:
    """A window's step callback part that holds its first frames to `known` (the last
    frames of the window before), noised to the level of the step about to run."""

    def __init__(self, scheduler: Any, known: torch.Tensor, axis: int, seed: int) -> None:
        import torch

        self.scheduler = scheduler
        self.known = known
        self.axis = axis
        noise = torch.randn(known.shape, generator=generator(seed), dtype=torch.float32)
        self.noise = noise.to(known.device, known.dtype)

    def __call__(self, step: int, latents: torch.Tensor) -> None:
        timesteps = self.scheduler.timesteps
        upcoming = (step + 1) * getattr(self.scheduler, "order", 1)
        held = self.known
        if upcoming < len(timesteps):
            at = timesteps[upcoming : upcoming + 1]
            held = self.scheduler.add_noise(self.known, self.noise, at)
        latents.narrow(self.axis, 0, self.known.shape[self.axis]).copy_(held)


def crossfade_onto(sound: np.ndarray, window: np.ndarray, shared: int) -> np.ndarray:
    """`sound` (C, N) followed by `window` (C, M), whose first `shared` samples are the
    same moment as the last `shared` of `sound`: raised-cosine crossfaded there."""
    if not sound.size:
        return window
    fade_in = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, shared))).astype(np.float32)
    joined = sound[:, -shared:] * (1.0 - fade_in) + window[:, :shared] * fade_in
    return np.concatenate([sound[:, :-shared], joined, window[:, shared:]], axis=1)


def compose_windows(
    ctx: JobContext,
    audio: LatentAudio,
    scheduler: Any,
    *,
    shared_s: float,
    wanted: int,
    rate: int,
    steps: int,
    seed: int,
    loudness: float,
) -> tuple[np.ndarray, Plan, bool]:
    """(samples (C, <= wanted), the plan, whether a stop cut it short) of a piece made in
    windows, each after the first holding to the last `shared_s` seconds of the one before."""
    plan = plan_windows(wanted, audio.frames, shared_s, rate, audio.samples_per_frame)
    sound = np.zeros((0, 0), np.float32)
    known = None
    for index in range(plan.count):
        reporter = _window_reporter(ctx, plan, index, steps)
        hold = None if known is None else HeldStart(scheduler, known, audio.axis, seed + index)
        try:
            latents = audio.call(seed + index, _window_callback(ctx, reporter, hold))
        except StopAndKeep:
            if index == 0:
                raise JobCancelledError() from None  # nothing to keep
            return sound[:, :wanted], plan, True
        known = latents.narrow(audio.axis, plan.frames - plan.shared, plan.shared).clone()
        shared = plan.shared * audio.samples_per_frame if index else 0
        window = audio.decode(latents)[:, : plan.frames * audio.samples_per_frame]
        sound = crossfade_onto(sound, window, shared)
        done = GENERATE_START + GENERATE_WIDTH * (index + 1) / plan.count
        _report_sound(ctx, done, sound[:, :wanted], rate, wanted, loudness)
    return sound[:, :wanted], plan, False


def _window_reporter(ctx: JobContext, plan: Plan, index: int, steps: int) -> StepReporter:
    """Step progress of window `index`, on its share of the bar."""
    width = GENERATE_WIDTH / plan.count
    stage = f"denoising window {index + 1} of {plan.count}"
    start = GENERATE_START + width * index
    return StepReporter(ctx, steps, start=start, span=width, stage=stage)


def _window_callback(
    ctx: JobContext, reporter: StepReporter, hold: HeldStart | None
) -> Callable[[int, Any, Any], None]:
    """The pipeline's `callback(step, timestep, latents)` for one window."""

    def on_step(step: int, timestep: Any, latents: Any) -> None:
        if ctx.stop_requested:
            raise StopAndKeep
        if hold is not None:
            hold(step, latents)
        reporter.on_step(step, timestep, latents)

    return on_step


def _report_sound(
    ctx: JobContext, fraction: float, so_far: np.ndarray, rate: int, wanted: int, loudness: float
) -> None:
    """Progress at `fraction`, in seconds made, with the sound so far when a preview is due."""
    seconds, total_s = so_far.shape[1] / rate, wanted / rate
    preview = None
    if ctx.preview_due():  # heard as loud as the piece will end
        preview = AudioData(to_loudness(so_far, rate, loudness)[0], rate)
    metrics = {"seconds": seconds, "total_s": total_s}
    ctx.progress(fraction, f"{seconds:.1f} s of {total_s:.1f} s", metrics=metrics, audio=preview)
