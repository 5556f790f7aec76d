"""One audio writer for every export: `write_audio`.

The samples (C, N float, mono or stereo) are piped as raw float into the ffmpeg that
imageio-ffmpeg ships. The file's suffix picks the format:

- `.wav`: PCM, 16-bit integers or 32-bit float (`wav_format`), the XMP packet in a
  `_PMX` chunk;
- `.flac`: lossless 16-bit, the packet in the `XMP` Vorbis comment;
- `.mp3`: LAME VBR, the packet in an ID3v2 `PRIV` frame; the LAME header records the
  encoder's delay and padding, so decoders trim them;
- `.m4a`: AAC-LC in an MP4 audio file, the index at the front, the packet in a `uuid`
  box; the edit list trims the encoder's priming.

The channels and the sample rate are kept; MP3 and AAC take only their standard rates
(16, 32, 44.1, 48 kHz and others), so another rate is resampled up to the next one they
take (to their highest from above it), losing nothing below its Nyquist frequency.
Samples beyond [-1, 1] are clipped; NaN or infinite ones are refused. Tags are `metadata`
(title, copyright, description) and, with a provenance record, the AI-generated claim
(IPTC digital source type, watermark id, software: plugins/provenance/media_tags.py) and
the XMP packet holding the record and the recipe, which `atelier verify` reads back. The
sound is written as given: the engine's safety step marked it already.

The file is encoded into a temp beside the target and renamed over it at the end
(engine/file_writing.py `temp_beside`, permissions as the umask gives): any failure
(`AudioWriteError`, an OSError naming the file and the reason, a full disk included)
leaves no temp and the old file whole.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.file_writing import temp_beside
from plugins.ffmpeg_writing import (
    MediaWriteError,
    check_folder,
    ffmpeg_error,
    ffmpeg_exe,
    write_error,
)
from plugins.provenance.media_tags import (
    TAG_XMP,
    add_xmp_mp3,
    add_xmp_mp4,
    add_xmp_wav,
    ffmpeg_tag_args,
)
from plugins.provenance.xmp import xmp_packet

SUFFIXES = (".wav", ".flac", ".mp3", ".m4a")
QUALITIES = ("high", "medium", "small")
WAV_FORMATS = {"int16": "pcm_s16le", "float32": "pcm_f32le"}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200)
_MP3_VBR = {"high": 0, "medium": 2, "small": 4}  # LAME's -V 0-9, lower is better
_AAC_KBPS = {"high": 128, "medium": 96, "small": 64}  # per channel
_ADD_XMP: dict[str, Callable[[bytes, str], bytes]] = {
    "wav": add_xmp_wav,
    "mp3": add_xmp_mp3,
    "m4a": add_xmp_mp4,
}


class AudioWriteError(MediaWriteError):
    """A sound could not be written; the message names the path and the reason (and
    `errno` is set where the system gave one)."""


def write_audio(
    path: str | os.PathLike[str],
    samples: np.ndarray,
    rate: int,
    *,
    wav_format: str = "int16",
    quality: str = "medium",
    metadata: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    recipe: Mapping[str, Any] | None = None,
) -> Path:
    """Write `samples` (C, N float, 1 or 2 channels) at `rate` Hz as the file `path` names
    (.wav, .flac, .mp3, .m4a) and return the path. `wav_format` is "int16" or "float32";
    `quality` ("high", "medium", "small") sets the MP3 and AAC bitrates; `metadata` adds
    tags; `provenance` (the record the safety step wrote) adds the claim and, with
    `recipe`, the XMP packet. ValueError for bad arguments, AudioWriteError (an OSError)
    when the file cannot be written; in every failure nothing is left behind."""
    path = Path(path)
    kind = audio_kind(path)
    sound = _samples(samples)
    _check_settings(rate, wav_format, quality)
    check_folder(path, AudioWriteError)
    packet = xmp_packet(provenance, recipe) if provenance else None
    tags = {**(metadata or {}), **({TAG_XMP: packet} if packet and kind == "flac" else {})}
    command = _command(kind, sound.shape[0], rate, wav_format, quality)
    command += ffmpeg_tag_args(provenance, tags)
    try:
        with temp_beside(path) as tmp:
            _encode([*command, str(tmp)], sound)
            if packet and kind in _ADD_XMP:
                tmp.write_bytes(_ADD_XMP[kind](tmp.read_bytes(), packet))
    except OSError as exc:
        raise write_error(path, exc, AudioWriteError) from exc
    return path


def audio_kind(path: Path) -> str:
    """The format the file's suffix names: "wav", "flac", "mp3" or "m4a"."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot write audio to {path.name}: use .wav, .flac, .mp3 or .m4a")
    return suffix[1:]


def encoded_rate(kind: str, rate: int) -> int:
    """The sample rate the file gets: `rate`, or for MP3 and AAC the next they take."""
    rates = {"mp3": MP3_RATES, "m4a": AAC_RATES}.get(kind)
    if rates is None:
        return rate
    return min((r for r in rates if r >= rate), default=max(rates))


# ---- arguments -------------------------------------------------------------------------------


def _samples(samples: np.ndarray) -> np.ndarray:
    """The samples as (C, N) float32 in [-1, 1]."""
    sound = np.asarray(samples)
    if sound.ndim != 2 or sound.shape[0] not in (1, 2) or sound.shape[1] == 0:
        raise ValueError(
            f"the sound must be (channels, samples), mono or stereo, not {sound.shape}"
        )
    if not np.issubdtype(sound.dtype, np.floating):
        raise ValueError(f"the samples must be floats in [-1, 1], not {sound.dtype}")
    if not np.isfinite(sound).all():
        raise ValueError("the sound holds samples that are not numbers (NaN or infinite)")
    return np.clip(sound, -1.0, 1.0).astype(np.float32)


def _check_settings(rate: int, wav_format: str, quality: str) -> None:
    if not 1000 <= rate <= 384000:
        raise ValueError(f"the sample rate must be 1000-384000 Hz, not {rate}")
    if wav_format not in WAV_FORMATS:
        raise ValueError(f"wav_format must be one of {', '.join(WAV_FORMATS)}")
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {', '.join(QUALITIES)}")


# ---- ffmpeg ----------------------------------------------------------------------------------


def _command(kind: str, channels: int, rate: int, wav_format: str, quality: str) -> list[str]:
    """The ffmpeg command line, less its tags and output file, that reads raw float
    samples from stdin."""
    command = [ffmpeg_exe(), "-hide_banner", "-v", "error", "-y"]
    command += ["-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]
    command += ["-map", "0:a", "-ar", str(encoded_rate(kind, rate))]
    if kind == "wav":
        return [*command, "-c:a", WAV_FORMATS[wav_format], "-f", "wav"]
    if kind == "flac":
        return [*command, "-c:a", "flac", "-sample_fmt", "s16", "-f", "flac"]
    if kind == "mp3":
        return [*command, "-c:a", "libmp3lame", "-q:a", str(_MP3_VBR[quality]), "-f", "mp3"]
    # AAC: at most 6 bits a sample per channel (6144 bits a 1024-sample frame)
    bitrate = channels * min(_AAC_KBPS[quality] * 1000, 6 * encoded_rate(kind, rate))
    command += ["-c:a", "aac", "-b:a", str(bitrate)]
    return [*command, "-movflags", "+faststart+use_metadata_tags", "-f", "ipod"]


def _encode(command: list[str], sound: np.ndarray) -> None:
    """Run ffmpeg on the samples; an OSError saying why when it fails."""
    raw = np.ascontiguousarray(sound.T, dtype="<f4").tobytes()
    result = subprocess.run(
        command, input=raw, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if result.returncode != 0:
        raise ffmpeg_error(result.stderr.decode("utf-8", "replace"), "the sound")
