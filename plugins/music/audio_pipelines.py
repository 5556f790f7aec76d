"""Music from diffusion pipelines, when their folders are installed: Stable Audio Open
(StableAudioPipeline, stereo at 44.1 kHz, up to about 47 s) and AudioLDM2
(AudioLDM2Pipeline, mono at 16 kHz). A piece the model makes at once is one denoising
run; a longer one is made in windows, each holding to the end of the one before
(plugins.music.pipeline_windows), sharing the seconds of the model's window context
(plugins.music.music_models.model_window), at most half a window. Melody and continuation
are MusicGen's. The number of steps is the model folder's atelier.json `defaults.steps`,
else the pipeline's usual. Only the engine thread imports this module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.context import JobContext
from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.protocol import JobError
from engine.step_reporter import StepReporter
from plugins.music.music_models import model_window
from plugins.music.params import TextToMusicParams
from plugins.music.pipeline_windows import LatentAudio, compose_windows
from plugins.video.clips import generator

if TYPE_CHECKING:
    import torch

    from engine.model_store import ModelStore

PIPELINES = {"StableAudioPipeline": "stable_audio", "AudioLDM2Pipeline": "audioldm2"}
STEPS = {"stable_audio": 100, "audioldm2": 200}  # the pipelines' own defaults
AUDIOLDM2_LONGEST_S = 30.0  # its UNet saw 10 s clips; past 30 s it is noise


def load_audio_pipeline(
    entry: ModelEntry, store: ModelStore, *, dtype: torch.dtype, device: str, variant: str | None
) -> Any:
    """The loader of the stable_audio and audioldm2 families: the folder's pipeline, offline."""
    import diffusers

    index = read_json_object(entry.path / "model_index.json")
    name = index.get("_class_name")
    if name not in PIPELINES:
        raise JobError("invalid_input", f"'{entry.name}' is not an audio pipeline Atelier runs.")
    parts: dict[str, Any] = {}
    if index.get("language_model", [])[-1:] == ["GPT2Model"]:
        parts["language_model"] = _language_model(entry, dtype=dtype, variant=variant)
    pipe = getattr(diffusers, name).from_pretrained(
        entry.path, dtype=dtype, variant=variant, **parts, **OFFLINE
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _language_model(entry: ModelEntry, *, dtype: torch.dtype, variant: str | None) -> Any:
    """An AudioLDM2 folder's bare GPT2Model (the first releases and models tuned from them)
    as GPT2LMHeadModel: diffusers' pipeline generates with the helpers of transformers'
    GenerationMixin, which GPT2Model lacks; the weights are the same, under a tied head the
    pipeline never reads."""
    from transformers import GPT2LMHeadModel

    return GPT2LMHeadModel.from_pretrained(
        entry.path / "language_model", dtype=dtype, variant=variant, **OFFLINE
    )


def longest_s(pipe: Any, family: str) -> float:
    """The longest piece the pipeline makes in one run, in seconds."""
    if family == "stable_audio":  # its latents' length, or the seconds it is told, if less
        hop = pipe.vae.hop_length
        made = pipe.transformer.config.sample_size * hop / pipe.vae.config.sampling_rate
        return min(made, float(pipe.projection_model.config.max_value))
    return AUDIOLDM2_LONGEST_S


def sample_rate(pipe: Any, family: str) -> int:
    if family == "stable_audio":
        return int(pipe.vae.config.sampling_rate)
    return int(pipe.vocoder.config.sampling_rate)


def run_pipeline(
    ctx: JobContext, pipe: Any, entry: ModelEntry, params: TextToMusicParams, seed: int
) -> tuple[np.ndarray, int, tuple[str, ...], dict[str, Any]]:
    """(samples (C, N), rate, notes, what was resolved) of the pipeline's piece."""
    if params.melody or params.continue_from:
        raise JobError(
            "invalid_input",
            f"'{entry.name}' cannot follow a melody or continue a clip; choose a MusicGen "
            "model (a melody model to follow a melody).",
        )
    family = entry.family
    steps = entry.settings.defaults.get("steps")
    steps = steps if isinstance(steps, int) and 0 < steps <= 500 else STEPS[family]
    rate = sample_rate(pipe, family)
    wanted = round(params.duration * rate)
    longest = longest_s(pipe, family)
    if params.duration <= longest:
        samples, notes, made = _one_run(ctx, pipe, family, params, steps, seed), (), {}
        samples = np.pad(samples[:, :wanted], ((0, 0), (0, max(0, wanted - samples.shape[1]))))
    else:  # exactly `wanted` samples, fewer when stopped
        samples, notes, made = _in_windows(ctx, pipe, entry, params, steps, seed)
    return np.clip(samples, -1.0, 1.0), rate, notes, {"steps": steps, **made}


def _call(params: TextToMusicParams, steps: int, seed: int) -> dict[str, Any]:
    """The pipeline call's arguments every run shares."""
    return {
        "prompt": params.prompt,
        "num_inference_steps": steps,
        "guidance_scale": params.guidance,
        "generator": generator(seed),
    }


def _length(family: str, seconds: float) -> dict[str, float]:
    """The pipeline call's argument for a piece of `seconds`."""
    return {"audio_end_in_s" if family == "stable_audio" else "audio_length_in_s": seconds}


def _one_run(
    ctx: JobContext, pipe: Any, family: str, params: TextToMusicParams, steps: int, seed: int
) -> np.ndarray:
    """Samples (C, about N) of the whole piece in one denoising run."""
    reporter = StepReporter(ctx, steps, start=0.02, span=0.96, stage="denoising")
    call = {**_call(params, steps, seed), **_length(family, params.duration)}
    audio = pipe(**call, output_type="np", **reporter.legacy_kwargs()).audios[0]
    return np.atleast_2d(np.asarray(audio, np.float32))  # AudioLDM2 gives mono as (N,)


def _in_windows(
    ctx: JobContext,
    pipe: Any,
    entry: ModelEntry,
    params: TextToMusicParams,
    steps: int,
    seed: int,
) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any]]:
    """(samples, notes, what was resolved) of a piece longer than one run makes."""
    family = entry.family
    window_s = longest_s(pipe, family)
    shared_s = min(model_window(entry).context, window_s / 2)
    audio = _latent_audio(pipe, family, params, steps, window_s)
    rate = sample_rate(pipe, family)
    samples, plan, stopped = compose_windows(
        ctx,
        audio,
        pipe.scheduler,
        shared_s=shared_s,
        wanted=round(params.duration * rate),
        rate=rate,
        steps=steps,
        seed=seed,
        loudness=params.loudness,
    )
    shared_s = plan.shared * audio.samples_per_frame / rate
    notes = [
        f"{params.duration:.0f} s is longer than {entry.name} makes at once "
        f"({window_s:.0f} s): it was made in {plan.count} windows, each holding to the "
        f"last {shared_s:.1f} s of the one before."
    ]
    if stopped:
        notes.append(
            f"Stopped early: kept the first {samples.shape[1] / rate:.1f} s of "
            f"{params.duration:.1f} s."
        )
    return samples, tuple(notes), {"window_s": window_s, "context_s": shared_s}


def _latent_audio(
    pipe: Any, family: str, params: TextToMusicParams, steps: int, window_s: float
) -> LatentAudio:
    """How `pipe` makes, shapes and decodes one window's latents."""
    import torch

    def call(seed: int, callback: Any) -> Any:
        made = {**_call(params, steps, seed), **_length(family, window_s)}
        return pipe(**made, output_type="latent", callback=callback, callback_steps=1).audios

    if family == "stable_audio":

        @torch.no_grad()
        def decode(latents: Any) -> np.ndarray:
            return pipe.vae.decode(latents).sample[0].float().cpu().numpy()

        per_frame = int(pipe.vae.hop_length)  # past `window_s`, its latents are padding
        frames = int(window_s * sample_rate(pipe, family) / per_frame)
        return LatentAudio(call, decode, -1, frames, per_frame)

    @torch.no_grad()
    def decode_mel(latents: Any) -> np.ndarray:
        mel = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
        return pipe.mel_spectrogram_to_waveform(mel).numpy()

    hop = int(np.prod(pipe.vocoder.config.upsample_rates))  # samples a mel frame
    scale = pipe.vae_scale_factor
    mel_frames = int(window_s / (hop / sample_rate(pipe, family)))  # as the pipeline counts
    return LatentAudio(call, decode_mel, 2, math.ceil(mel_frames / scale), hop * scale)
