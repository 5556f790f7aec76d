"""The request of the music task and its checks. Torch- and Qt-free.

The prompt and seed are the diffusion tasks' own fields (the same specs, the prompt with
its own help), so the Generate panel shows them in its shared form; the rest are the music
task's own, the model a picker of the installed music models with their licences
(`music_model_choices`). `melody` and `continue_from` are paths of sound files (any format
ffmpeg reads); the CLI gives them as `--melody` and `--continue-from`, the model as
`--model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from app.model.audio_loudness import DEFAULT_TARGET_LUFS
from plugins.api import param
from plugins.music.families import MUSICGEN, MUSICGEN_MELODY
from plugins.video.params import _shared  # the diffusion tasks' field, same default and spec

MUSICGENS = (MUSICGEN.id, MUSICGEN_MELODY.id)  # the families sampling codes, continuing clips

MIN_DURATION_S, MAX_DURATION_S = 1.0, 600.0
MAX_GUIDANCE = 15.0
MAX_TOP_K = 2048  # a MusicGen codebook's size
MIN_LOUDNESS = -40.0  # LUFS: quieter is background hum, not a level to mix at


@dataclass(frozen=True)
class TextToMusicParams:
    """A piece of music from a prompt, optionally following a melody or continuing a clip."""

    prompt: str = _shared(
        "prompt", "What the music sounds like: instruments, mood, tempo (bpm), key, drums."
    )
    music_model: str = param(
        "",
        "Model",
        cli="--model",
        models="plugins.music.music_models:music_model_choices",
        help="The music model's name (see `atelier models`); empty = the built-in one, "
        "else the first installed.",
    )
    duration: float = param(
        10.0,
        "Duration",
        minimum=MIN_DURATION_S,
        maximum=MAX_DURATION_S,
        unit="s",
        help="Seconds of music; past the model's window (30 s for MusicGen) it is made "
        "window by window, each continuing the last.",
    )
    seed: int = _shared("seed")
    guidance: float = param(
        3.0,
        "Guidance",
        minimum=1.0,
        maximum=MAX_GUIDANCE,
        step=0.5,
        help="How closely to follow the prompt (classifier-free guidance; 1 = off).",
    )
    temperature: float = param(
        1.0,
        "Temperature",
        minimum=0.05,
        maximum=4.0,
        step=0.05,
        advanced=True,
        families=MUSICGENS,
        help="Higher: more surprising; lower: more repetitive.",
    )
    top_k: int = param(
        250,
        "Top-k",
        minimum=0,
        maximum=MAX_TOP_K,
        advanced=True,
        families=MUSICGENS,
        help="Sample each step from the k likeliest codes; 0 = from all.",
    )
    loudness: float = param(
        DEFAULT_TARGET_LUFS,
        "Loudness",
        minimum=MIN_LOUDNESS,
        maximum=0.0,
        step=1.0,
        unit="LUFS",
        zero_label="As made",
        help="The piece is brought to this loudness (ITU-R BS.1770; streaming services "
        "play music at -14), its peaks kept under -1 dBFS. 0 = as the model makes it.",
    )
    melody: str = param(
        "",
        "Melody",
        advanced=True,
        families=(MUSICGEN_MELODY.id,),
        help="A sound file whose tune the music follows (needs a MusicGen melody model).",
    )
    continue_from: str = param(
        "",
        "Continue from",
        advanced=True,
        families=MUSICGENS,
        help="A sound file to continue: the music picks up where it ends (the result is "
        "the new part only, to lay after it).",
    )


def _sound_file(path: str, label: str) -> None:
    if path and not Path(path).expanduser().is_file():
        raise ValueError(f"{label}: {path} is not a file; choose a sound file.")


def validate_text_to_music(params: TextToMusicParams) -> None:
    """Reject what cannot work, with a message a designer can act on (no torch needed)."""
    if not params.prompt.strip() and not params.melody and not params.continue_from:
        raise ValueError("Describe the music in the prompt first.")
    duration = params.duration
    if not math.isfinite(duration) or not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        raise ValueError(
            f"The duration must be between {MIN_DURATION_S:g} and {MAX_DURATION_S:g} seconds."
        )
    if not math.isfinite(params.guidance) or not 1.0 <= params.guidance <= MAX_GUIDANCE:
        raise ValueError(f"Guidance must be between 1 (off) and {MAX_GUIDANCE:g}.")
    if not math.isfinite(params.temperature) or not 0.05 <= params.temperature <= 4.0:
        raise ValueError("Temperature must be between 0.05 and 4.")
    if not math.isfinite(params.loudness) or not MIN_LOUDNESS <= params.loudness <= 0:
        raise ValueError(f"Loudness must be between {MIN_LOUDNESS:g} and 0 (as made) LUFS.")
    if not 0 <= params.top_k <= MAX_TOP_K:
        raise ValueError(f"Top-k must be between 0 (all codes) and {MAX_TOP_K}.")
    if params.seed < -1 or params.seed >= 2**32:
        raise ValueError("The seed must be -1 (random) or between 0 and 4294967295.")
    _sound_file(params.melody, "Melody")
    _sound_file(params.continue_from, "Continue from")
