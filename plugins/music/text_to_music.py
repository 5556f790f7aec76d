"""Text to music: a piece of any length from a prompt, window by window.

With MusicGen (plugins.music.musicgen) the first window is made from the prompt alone (or
hearing the end of the clip to continue), each next one hearing the last `context`
seconds of codes before it, until the duration is reached (audiocraft's continuation).
The windows' codes make one sequence, decoded piece by piece as it grows
(plugins.music.code_decoder), so no seam clicks and the first seconds can be heard while
the rest is made. Progress counts generated seconds; cancel stops within a token; a stop
keeps what is done. The output has the model's own sample rate and channels and exactly
the samples asked for, and carries the model's licence. Stable Audio Open and AudioLDM2
models run through plugins.music.audio_pipelines instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import AudioData, JobCancelledError, JobError, TaskResult
from engine.recipes import RESOLVED
from plugins.music.code_decoder import CodeDecoder
from plugins.music.loudness import to_loudness
from plugins.music.music_models import model_licence, model_window, pick_music_model
from plugins.music.musicgen import (
    MusicGen,
    Sampling,
    TokenWatch,
    decode_codes,
    encode_sound,
    generate_window,
    melody_chroma,
)
from plugins.music.params import TextToMusicParams
from plugins.video.clips import resolved_seed

PIECE_S = 10.0  # seconds of codes decoded at a time
OVERLAP_S = 1.0  # seconds of codes decoded past each side of a piece
GENERATE_START, GENERATE_WIDTH = 0.02, 0.94  # the part of the progress bar tokens fill
PIPELINE_FAMILIES = ("stable_audio", "audioldm2")


def prepare(params: TextToMusicParams, ctx: JobContext) -> None:
    """Load the music model `run` will use."""
    ctx.model(pick_music_model(ctx.store, params.music_model))


def run(params: TextToMusicParams, ctx: JobContext) -> TaskResult:
    entry = pick_music_model(ctx.store, params.music_model)
    ctx.progress(0.0, f"loading {entry.name}")
    model = ctx.model(entry)
    seed = resolved_seed(params.seed)
    try:
        if entry.family in PIPELINE_FAMILIES:
            from plugins.music.audio_pipelines import run_pipeline

            samples, rate, notes, made = run_pipeline(ctx, model, entry, params, seed)
        elif isinstance(model, MusicGen):
            samples, rate, notes, made = compose(ctx, model, entry, params, seed)
        else:
            raise JobError("invalid_input", f"'{entry.name}' is not a music model Atelier runs.")
    finally:
        free_device_memory()
    samples, gain, held_back = to_loudness(samples, rate, params.loudness)
    notes = (*notes, held_back) if held_back else notes
    resolved = {"seed": seed, "music_model": entry.name, **made, "gain_db": round(gain, 2)}
    meta = {RESOLVED: resolved, **music_meta(entry)}
    return TaskResult((AudioData(samples, rate, meta),), notes)


def music_meta(entry: ModelEntry) -> dict[str, Any]:
    """What the exporters write into the file besides the recipe and provenance: the
    model, its licence (when known) and that the sound is AI-generated."""
    licence = model_licence(entry)
    return {"ai_generated": True, "model": entry.name, **({"licence": licence} if licence else {})}


def free_device_memory() -> None:
    """Give the GPU memory a job's tokens and codec held back (the model stays cached)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def compose(
    ctx: JobContext, music: MusicGen, entry: ModelEntry, params: TextToMusicParams, seed: int
) -> tuple[np.ndarray, int, tuple[str, ...], dict[str, Any]]:
    """(samples (C, N), rate, notes, what was resolved) of MusicGen's piece for `params`."""
    import torch

    window = model_window(entry)
    rate, hop = music.rate, music.hop
    frame_rate = rate / hop
    span = max(2, min(round(window.seconds * frame_rate), music.longest_window))
    context = min(max(1, round(window.context * frame_rate)), span - 1)
    wanted = round(params.duration * rate)  # samples
    device = next(music.model.parameters()).device
    codes = torch.zeros((music.codebooks, 0), dtype=torch.long, device=device)
    if params.continue_from:
        clip, clip_rate = read_sound(params.continue_from, "continue")
        codes = encode_sound(music, clip, clip_rate)[:, -context:]
    heard = codes.shape[-1]  # frames of the continued clip, not part of the output
    target = heard + math.ceil(wanted / hop)
    melody = read_sound(params.melody, "follow") if params.melody else None
    if melody is not None and entry.family != "musicgen_melody":
        raise JobError(
            "invalid_input",
            f"'{entry.name}' cannot follow a melody; choose a MusicGen melody model, or "
            "leave Melody empty.",
        )
    text = music.tokenizer([params.prompt], return_tensors="pt", padding=True).to(device)
    sampling = Sampling(params.guidance, params.temperature, params.top_k)
    decoder = CodeDecoder(
        lambda piece: decode_codes(music, piece),
        hop,
        max(2, round(PIECE_S * frame_rate)),
        max(2, round(OVERLAP_S * frame_rate)),
    )
    total_s = wanted / rate

    def report(frames: int, sound: bool = False) -> None:
        """Progress at `frames` frames made (and, when one is due, the sound so far)."""
        seconds = min(total_s, (frames - heard) / frame_rate)
        audio = None
        if sound and ctx.preview_due():
            so_far = decoder.samples()[:, heard * hop : heard * hop + wanted]
            if so_far.size:  # heard as loud as the piece will end
                audio = AudioData(to_loudness(so_far, rate, params.loudness)[0], rate)
        stage = f"{seconds:.1f} s of {total_s:.1f} s"
        metrics = {"seconds": seconds, "total_s": total_s}
        fraction = GENERATE_START + GENERATE_WIDTH * seconds / total_s
        ctx.progress(fraction, stage, metrics=metrics, audio=audio)

    watch = TokenWatch(ctx, lambda frames: report(codes.shape[-1] + frames))
    torch.manual_seed(seed)
    stopped = False
    windows = 0
    while codes.shape[-1] < target and not stopped:
        prompt = codes[:, -context:] if codes.shape[-1] else None
        listened = 0 if prompt is None else prompt.shape[-1]
        frames = min(span - listened, target - codes.shape[-1])
        chroma = None
        if melody is not None:
            start_s = (codes.shape[-1] - heard - listened) / frame_rate
            chroma = melody_chroma(music, melody[0], melody[1], start_s, span / frame_rate)
        new, stopped = generate_window(music, text, prompt, frames, sampling, watch, chroma)
        codes = torch.cat([codes, new], dim=-1)
        windows += 1
        decoder.feed(codes.cpu().numpy())
        report(codes.shape[-1], sound=True)
    if codes.shape[-1] <= heard:
        raise JobCancelledError()  # stopped before a frame was made: nothing to keep
    ctx.progress(GENERATE_START + GENERATE_WIDTH, "decoding")
    decoder.feed(codes.cpu().numpy(), final=True)
    samples = decoder.samples()[:, heard * hop : heard * hop + wanted]
    notes = []
    if stopped:
        kept_s = samples.shape[1] / rate
        notes.append(f"Stopped early: kept the first {kept_s:.1f} s of {total_s:.1f} s.")
    if windows > 1:
        notes.append(
            f"{total_s:.0f} s is longer than {entry.name} makes at once "
            f"({span / frame_rate:.0f} s): it was made in {windows} windows, each hearing "
            f"the last {context / frame_rate:.0f} s before it."
        )
    made = {"window_s": span / frame_rate, "context_s": context / frame_rate}
    return np.clip(samples, -1.0, 1.0), rate, tuple(notes), made


def read_sound(path: str, purpose: str) -> tuple[np.ndarray, int]:
    """(samples (C, N), rate) of the sound file at `path`; JobError saying what is wrong."""
    from pathlib import Path

    from app.model.timeline_media import read_audio

    try:
        return read_audio(Path(path).expanduser())
    except OSError as exc:  # MediaFileError too
        raise JobError("invalid_input", f"Cannot {purpose} {path}: {exc}") from None
