"""MusicGen on the engine thread: loading a checkpoint, generating one window of codes,
and the codec's way between codes and sound (and a melody's chroma).

A window is one `generate()` call of the model, prompted with the codes of the last
seconds made before it (audiocraft's continuation). `generate()` would decode its window
to sound when it ends; Atelier wants the codes, to stitch every window's into one
sequence decoded once (plugins.music.code_decoder), so a stopping criterion watches each
new token (progress, cancel, stop and keep) and ends the call by raising once the last
token is in. The codes are read back from the delayed pattern MusicGen samples in:
codebook k runs k steps behind the first (stereo: the pair 2k, 2k+1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.protocol import JobError
from plugins.provenance.audio_mark import resample

if TYPE_CHECKING:
    import torch

    from engine.model_store import ModelStore


@dataclass
class MusicGen:
    """A loaded MusicGen checkpoint: the model, its tokenizer and, for a melody model, its
    chroma settings (the folder's preprocessor_config.json)."""

    model: Any
    tokenizer: Any
    chroma: dict = field(default_factory=dict)

    @property
    def components(self) -> dict[str, Any]:
        return {"model": self.model}  # what the model cache weighs

    def to(self, device: str) -> MusicGen:
        self.model.to(device)
        return self

    @property
    def channels(self) -> int:
        return int(self.model.decoder.config.audio_channels)

    @property
    def codebooks(self) -> int:
        """Code rows per frame (a stereo model has a left and a right row per codebook)."""
        return int(self.model.decoder.num_codebooks)

    @property
    def delays(self) -> int:
        """Codebooks per channel: the last one runs this many steps minus one behind."""
        return self.codebooks // self.channels

    @property
    def rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def hop(self) -> int:
        """Samples per code frame."""
        return int(np.prod(self.model.config.audio_encoder.upsampling_ratios))

    @property
    def longest_window(self) -> int:
        """The most frames one generate() call can hold (the decoder's positions)."""
        return int(self.model.decoder.config.max_position_embeddings) - self.delays - 1


def load_musicgen(
    entry: ModelEntry, store: ModelStore, *, dtype: torch.dtype, device: str, variant: str | None
) -> MusicGen:
    """The loader of the musicgen and musicgen_melody families, offline."""
    from transformers import (
        AutoTokenizer,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    melody = entry.family == "musicgen_melody"
    cls = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    model = cls.from_pretrained(entry.path, dtype=dtype, variant=variant, **OFFLINE).eval()
    tokenizer = AutoTokenizer.from_pretrained(entry.path, **OFFLINE)
    chroma = read_json_object(entry.path / "preprocessor_config.json") if melody else {}
    return MusicGen(model, tokenizer, chroma)


class WindowDone(Exception):
    """The window's last token is in (raised inside generate() to end it undecoded)."""


class StopAndKeep(Exception):
    """The job was asked to stop and keep what it has (raised inside generate())."""


@dataclass
class Sampling:
    """How each token is drawn."""

    guidance: float
    temperature: float
    top_k: int


class TokenWatch:
    """generate()'s stopping criterion: keeps the newest tokens, calls `on_token(frames)`
    with the window's new frames made whole so far, raises StopAndKeep or JobCancelledError as
    the job asks, and WindowDone after the last token."""

    def __init__(self, ctx: Any, on_token: Callable[[int], None]) -> None:
        self.ctx = ctx
        self.on_token = on_token
        self.ids: Any = None
        self.first = 0  # the length at which the window's first frame is whole
        self.end = 0  # the length when the window is complete

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.ids = input_ids
        if self.ctx.stop_requested:
            raise StopAndKeep
        self.ctx.check_cancelled()
        self.on_token(max(0, input_ids.shape[-1] - self.first))
        if input_ids.shape[-1] >= self.end:
            raise WindowDone
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def generate_window(
    music: MusicGen,
    text: dict[str, Any],
    prompt: torch.Tensor | None,
    frames: int,
    sampling: Sampling,
    watch: TokenWatch,
    chroma: torch.Tensor | None = None,
) -> tuple[torch.Tensor, bool]:
    """(the new codes (K, n), stopped): up to `frames` new frames after `prompt` (codes
    (K, L) heard first, or None), n < frames when the job was stopped meanwhile."""
    import torch
    from transformers import StoppingCriteriaList

    heard = 0 if prompt is None else prompt.shape[-1]
    new_tokens = frames + music.delays - 1  # the last codebook ends delays - 1 steps later
    watch.first = heard + music.delays  # a frame is whole when its last codebook is in
    watch.end = 1 + heard + new_tokens
    call: dict[str, Any] = {
        **text,
        "do_sample": True,
        "guidance_scale": sampling.guidance if sampling.guidance > 1 else None,
        "temperature": sampling.temperature,
        "top_k": sampling.top_k or None,
        "max_new_tokens": new_tokens,
        "stopping_criteria": StoppingCriteriaList([watch]),
    }
    if prompt is not None:
        call["decoder_input_ids"] = prompt
    if chroma is not None:
        call["input_features"] = chroma
    stopped = False
    try:
        music.model.generate(**call)
    except WindowDone:
        pass
    except StopAndKeep:
        stopped = True
    else:
        raise JobError("internal", "MusicGen ended a window before its last token.")
    ids = watch.ids.reshape(-1, music.codebooks, watch.ids.shape[-1])[0]
    made = frames if not stopped else max(0, min(frames, ids.shape[-1] - music.delays - heard))
    rows = []
    for row in range(music.codebooks):
        delay = row // music.channels  # stereo rows come in left/right pairs
        at = 1 + heard + delay
        rows.append(ids[row, at : at + made])
    return torch.stack(rows), stopped


def decode_codes(music: MusicGen, codes: np.ndarray) -> np.ndarray:
    """Sound (C, n * hop float32) from codes (K, n)."""
    import torch

    codec = music.model.audio_encoder
    device = next(codec.parameters()).device
    tensor = torch.as_tensor(codes, dtype=torch.long, device=device)
    groups = [tensor] if music.channels == 1 else [tensor[0::2], tensor[1::2]]
    length = codes.shape[-1] * music.hop
    channels = []
    with torch.no_grad():
        for group in groups:
            sound = codec.decode(group[None, None], [None]).audio_values[0, 0]
            sound = sound.float().cpu().numpy()[:length]
            channels.append(np.pad(sound, (0, length - len(sound))))
    return np.stack(channels).astype(np.float32)


def encode_sound(music: MusicGen, samples: np.ndarray, rate: int) -> torch.Tensor:
    """Codes (K, n) of a clip (C, N float) at `rate`: resampled to the codec's rate, mixed
    to mono or spread to stereo as the model makes, cut to whole frames."""
    import torch

    sound = _as_channels(samples, music.channels)
    sound = np.stack([resample(channel, rate, music.rate) for channel in sound])
    frames = sound.shape[1] // music.hop
    if frames == 0:
        raise JobError("invalid_input", "The clip to continue is too short to continue.")
    codec = music.model.audio_encoder
    param = next(codec.parameters())
    rows = []
    with torch.no_grad():
        for channel in sound:
            wave = torch.as_tensor(channel[: frames * music.hop], dtype=param.dtype)
            codes = codec.encode(wave[None, None].to(param.device)).audio_codes[0, 0]
            rows.append(codes[: music.delays, :frames])
    if music.channels == 1:
        return rows[0]
    return torch.stack(rows, dim=1).reshape(music.codebooks, -1)  # left, right, left, ...


def _as_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    sound = np.atleast_2d(np.asarray(samples, np.float64))
    if channels == 1:
        return sound.mean(axis=0, keepdims=True)
    return sound[:2] if sound.shape[0] >= 2 else np.repeat(sound, 2, axis=0)


def melody_chroma(
    music: MusicGen, samples: np.ndarray, rate: int, start_s: float, seconds: float
) -> torch.Tensor:
    """MusicGen-melody's condition for the span [start_s, start_s + seconds) of the music:
    the melody's chroma there (one-hot of the strongest of 12 pitch classes per hop, as
    MusicgenMelodyFeatureExtractor computes it), the melody looped past its end."""
    import torch
    from transformers.audio_utils import chroma_filter_bank

    settings = music.chroma
    feature_rate = int(settings.get("sampling_rate", music.rate))
    n_fft = int(settings.get("n_fft", 16384))
    hop = int(settings.get("hop_length", 4096))
    mono = resample(_as_channels(samples, 1)[0], rate, feature_rate)
    first, count = round(start_s * feature_rate), max(1, round(seconds * feature_rate))
    span = np.take(mono, np.arange(first, first + count), mode="wrap")
    wave = torch.as_tensor(np.pad(span, (0, max(0, n_fft - len(span)))), dtype=torch.float32)
    spectrum = torch.stft(
        wave,
        n_fft,
        hop_length=hop,
        window=torch.hann_window(n_fft),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    filters = chroma_filter_bank(
        num_frequency_bins=n_fft,
        num_chroma=int(settings.get("num_chroma", 12)),
        sampling_rate=feature_rate,
        tuning=0,
    )
    strength = torch.as_tensor(filters, dtype=torch.float32) @ spectrum.abs().square()
    one_hot = torch.zeros_like(strength.T)
    one_hot.scatter_(1, strength.T.argmax(dim=1, keepdim=True), 1.0)
    param = next(music.model.parameters())
    return one_hot[None].to(param.device, param.dtype)
