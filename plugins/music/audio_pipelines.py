"""Music from diffusion pipelines, when their folders are installed: Stable Audio Open
(StableAudioPipeline, stereo at 44.1 kHz, up to about 47 s) and AudioLDM2
(AudioLDM2Pipeline, mono at 16 kHz). Each makes the whole piece in one denoising run, so
a piece longer than the model makes is refused with a sentence (MusicGen continues
window by window); melody and continuation are MusicGen's. The number of steps is the
model folder's atelier.json `defaults.steps`, else the pipeline's usual. Only the engine
thread imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.context import JobContext
from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.protocol import JobError
from engine.step_reporter import StepReporter
from plugins.music.params import TextToMusicParams
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
    if family == "stable_audio":
        hop = pipe.vae.hop_length
        return pipe.transformer.config.sample_size * hop / pipe.vae.config.sampling_rate
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
    longest = longest_s(pipe, family)
    if params.duration > longest:
        raise JobError(
            "invalid_input",
            f"'{entry.name}' makes at most {longest:.1f} s at once; choose a shorter duration, "
            "or a MusicGen model, which continues window by window.",
        )
    steps = entry.settings.defaults.get("steps")
    steps = steps if isinstance(steps, int) and 0 < steps <= 500 else STEPS[family]
    reporter = StepReporter(ctx, steps, start=0.02, span=0.96, stage="denoising")
    call: dict[str, Any] = {
        "prompt": params.prompt,
        "num_inference_steps": steps,
        "guidance_scale": params.guidance,
        "generator": generator(seed),
        "output_type": "np",
        **reporter.legacy_kwargs(),
    }
    if family == "stable_audio":
        call["audio_end_in_s"] = params.duration
    else:
        call["audio_length_in_s"] = params.duration
    audio = np.asarray(pipe(**call).audios[0], np.float32)
    rate = sample_rate(pipe, family)
    samples = np.atleast_2d(audio)  # AudioLDM2 gives mono as (N,)
    wanted = round(params.duration * rate)
    samples = np.pad(samples[:, :wanted], ((0, 0), (0, max(0, wanted - samples.shape[1]))))
    return np.clip(samples, -1.0, 1.0), rate, (), {"steps": steps}
