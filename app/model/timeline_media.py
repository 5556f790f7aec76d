"""Media items for the timeline from job outputs, canvas pictures and files, and the
readers of media files from outside, Qt-free. Their data goes into the document's
MediaStore (app/model/timeline.py).

Files are read defensively: regular files only, at most MAX_MEDIA_FILE_BYTES, decoded by
imageio-ffmpeg's ffmpeg (video, sound) or the picture reader (PNG, JPEG, WebP), at most
MAX_DECODED_BYTES of frames or samples; anything else is one MediaFileError sentence.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

from app.model.image_files import ImageReadError
from app.model.image_import import read_image
from app.model.layers import new_id
from app.model.timeline import MediaItem, MediaStore
from engine.protocol import AudioData, ImageData, VideoData
from engine.untrusted import MiB, UntrustedInputError, display_path, regular_file_size

MAX_MEDIA_FILE_BYTES = 4096 * MiB  # a file imported into (and saved with) a project
MAX_DECODED_BYTES = 3072 * MiB  # the frames or samples one media item may decode to
MAX_SIDE = 8192  # video frames wider or taller than this are refused
DECODE_TIMEOUT_S = 600
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".gif"})
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".m4a", ".aac", ".opus"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
_NTSC = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))


class MediaFileError(OSError):
    """A media file could not be read; the message names the file and what is wrong."""


# ---- media items from data -------------------------------------------------------------------


def video_item(frames: np.ndarray, fps: Fraction, name: str, file: str | None = None) -> MediaItem:
    """A new MediaItem describing (T, H, W, 3) uint8 `frames` at `fps`."""
    _check_array(frames, 4, np.uint8, 3, name)
    return MediaItem(
        new_id(),
        "video",
        name,
        (frames.shape[2], frames.shape[1]),
        frame_rate(fps),
        length=frames.shape[0],
        file=file,
    )


def image_item(pixels: np.ndarray, name: str, file: str | None = None) -> MediaItem:
    """A new MediaItem describing (H, W, 4) uint8 RGBA `pixels`."""
    _check_array(pixels, 3, np.uint8, 4, name)
    return MediaItem(new_id(), "image", name, (pixels.shape[1], pixels.shape[0]), file=file)


def audio_item(samples: np.ndarray, rate: int, name: str, file: str | None = None) -> MediaItem:
    """A new MediaItem describing (C, N) float32 `samples` at `rate` samples a second."""
    if samples.ndim != 2:
        raise ValueError(f"sound {name!r} needs (channels, samples), got shape {samples.shape}")
    if samples.dtype != np.float32:
        raise ValueError(f"sound {name!r} needs float32 samples, got {samples.dtype}")
    channels, length = samples.shape
    return MediaItem(
        new_id(), "audio", name, rate=int(rate), channels=channels, length=length, file=file
    )


def _check_array(data: np.ndarray, ndim: int, dtype: type, channels: int, name: str) -> None:
    if data.ndim != ndim or data.dtype != dtype or data.shape[-1] != channels:
        raise ValueError(
            f"{name!r}: expected {ndim}-d {np.dtype(dtype)} data with {channels} channels, "
            f"got {data.shape} {data.dtype}"
        )


def frame_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact Fraction: 29.97 becomes 30000/1001, 24.0 becomes 24."""
    if isinstance(fps, Fraction | int):
        return Fraction(fps)
    for ntsc in _NTSC:
        if abs(fps - ntsc) < 0.005:
            return ntsc
    return Fraction(fps).limit_denominator(1000)


def add_output(
    store: MediaStore, output: VideoData | ImageData | AudioData, name: str
) -> MediaItem:
    """A new media item holding a job's output (the results strip), its data kept in `store`
    and its provenance record in the item."""
    if isinstance(output, VideoData):
        item, data = video_item(output.frames, frame_rate(output.fps), name), output.frames
    elif isinstance(output, ImageData):
        item, data = image_item(output.pixels, name), output.pixels
    else:
        item, data = audio_item(output.samples, output.rate, name), output.samples
    record = output.meta.get("provenance")
    if isinstance(record, Mapping):
        item = dataclasses.replace(item, provenance=json.dumps(record, sort_keys=True, default=str))
    store.add(item, data)
    return item


def add_picture(store: MediaStore, pixels: np.ndarray, name: str) -> MediaItem:
    """A new image item holding a copy of (H, W, 4) uint8 pixels (a canvas layer)."""
    item = image_item(pixels, name)
    store.add(item, pixels.copy())
    return item


def import_file(
    store: MediaStore, path: str | os.PathLike[str], kind: str | None = None
) -> MediaItem:
    """A new media item for a video, picture or sound file, kept in `store` by its path:
    a video is probed now and decoded when first shown; pictures and sounds are decoded
    now (probing them reads them whole). `kind` "audio" takes the sound of any file (a
    video's); by default the kind follows the file's suffix."""
    path = Path(path)
    kind = kind or media_kind(path)
    if kind == "video":
        item = probe_video(path)
        store.add_file(item, path, file_loader(item, path))
        return item
    if kind == "image":
        data = read_picture(path)
        item = image_item(data, path.name, file=display_path(path))
    else:
        data, rate = read_audio(path)
        item = audio_item(data, rate, path.name, file=display_path(path))
    store.add_file(item, path, file_loader(item, path))
    store.add(item, data)
    return item


def file_loader(item: MediaItem, path: Path) -> Callable[[], np.ndarray]:
    """What decodes `item`'s data from its file when the store first needs it; the file
    must still hold what was imported."""

    def load() -> np.ndarray:
        if item.kind == "video":
            data = read_video(path)
        elif item.kind == "image":
            data = read_picture(path)
        else:
            data, rate = read_audio(path)
            data = data if rate == item.rate else data[:0]
        if data.shape != item.shape:
            raise MediaFileError(
                f"{display_path(path)} changed since it was imported; import it again"
            )
        return data

    return load


# ---- reading files ---------------------------------------------------------------------------


def media_kind(path: Path) -> str:
    """ "video", "image" or "audio" by the file's suffix; MediaFileError for anything else."""
    suffix = path.suffix.lower()
    for kind, suffixes in (
        ("video", VIDEO_SUFFIXES),
        ("image", IMAGE_SUFFIXES),
        ("audio", AUDIO_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    raise MediaFileError(
        f"cannot import {display_path(path)}: not a video, picture or sound file Atelier reads"
    )


def checked_file(path: Path) -> int:
    """The size of `path`, a regular file of at most MAX_MEDIA_FILE_BYTES."""
    try:
        size = regular_file_size(path)
    except UntrustedInputError as exc:
        raise MediaFileError(f"cannot read {display_path(path)}: {exc.reason}") from None
    except OSError as exc:
        raise MediaFileError(f"cannot read {display_path(path)}: {exc.strerror or exc}") from None
    if size > MAX_MEDIA_FILE_BYTES:
        raise MediaFileError(
            f"cannot read {display_path(path)}: it is larger than {MAX_MEDIA_FILE_BYTES // MiB} MB"
        )
    return size


def read_picture(path: Path) -> np.ndarray:
    """A PNG, JPEG or WebP file's pixels as (H, W, 4) uint8."""
    checked_file(path)
    try:
        return read_image(path)
    except ImageReadError as exc:
        raise MediaFileError(str(exc)) from None


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_video(path: Path) -> MediaItem:
    """A MediaItem for a video file: its size, frame rate and frame count (counted by
    decoding, which is exact where the container's header may not be)."""
    import imageio_ffmpeg

    checked_file(path)
    shown = display_path(path)
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        reader.close()
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, StopIteration, KeyError, ValueError) as exc:
        raise MediaFileError(
            f"cannot read {shown}: not a video Atelier can decode ({_first_line(exc)})"
        ) from None
    width, height = meta["size"]
    _check_video_size(shown, width, height, frames)
    fps = frame_rate(float(meta.get("fps") or 0) or 24.0)
    return MediaItem(new_id(), "video", path.name, (width, height), fps, length=frames, file=shown)


def _check_video_size(shown: str, width: int, height: int, frames: int) -> None:
    if frames < 1:
        raise MediaFileError(f"cannot read {shown}: the video has no frames")
    if not 0 < width <= MAX_SIDE or not 0 < height <= MAX_SIDE:
        raise MediaFileError(
            f"cannot read {shown}: its frames are {width} x {height}, "
            f"larger than {MAX_SIDE} pixels a side"
        )
    if frames * width * height * 3 > MAX_DECODED_BYTES:
        raise MediaFileError(
            f"cannot read {shown}: {frames} frames of {width} x {height} are more than "
            f"Atelier holds ({MAX_DECODED_BYTES // MiB} MB); cut it shorter first"
        )


def read_video(path: Path) -> np.ndarray:
    """Every frame of a video file as (T, H, W, 3) uint8, within MAX_DECODED_BYTES."""
    import imageio_ffmpeg

    checked_file(path)
    shown = display_path(path)
    frames: list[np.ndarray] = []
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        width, height = next(reader)["size"]
        _check_video_size(shown, width, height, 1)
        for raw in reader:
            frames.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
            _check_video_size(shown, width, height, len(frames))
        reader.close()
    except MediaFileError:
        raise
    except (OSError, RuntimeError, StopIteration, KeyError, ValueError) as exc:
        raise MediaFileError(
            f"cannot read {shown}: not a video Atelier can decode ({_first_line(exc)})"
        ) from None
    _check_video_size(shown, width, height, len(frames))
    return np.stack(frames)


_AUDIO_STREAM = re.compile(r"Stream #\S+.*?Audio: [^,]+, (\d+) Hz, ([^,\n]+)")
_LAYOUTS = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "quad": 4,
    "5.0": 5,
    "5.1": 6,
    "5.1(side)": 6,
    "7.1": 8,
}


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """The samples (C, N float32) and rate of a sound file's first audio stream, decoded
    by ffmpeg, within MAX_DECODED_BYTES."""
    checked_file(path)
    shown = display_path(path)
    command = [_ffmpeg(), "-v", "info", "-nostdin", "-i", str(path), "-map", "0:a:0"]
    command += ["-f", "f32le", "-acodec", "pcm_f32le", "-"]
    with tempfile.TemporaryFile() as log:
        try:
            data = _bounded_output(command, log, MAX_DECODED_BYTES)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MediaFileError(
                f"cannot read {shown}: ffmpeg could not decode it ({exc})"
            ) from None
        log.seek(0)
        info = log.read(MiB).decode("utf-8", "replace")
    if data is None:
        raise MediaFileError(
            f"cannot read {shown}: it decodes to more than Atelier holds "
            f"({MAX_DECODED_BYTES // MiB} MB); cut it shorter first"
        )
    stream = _AUDIO_STREAM.search(info)
    if stream is None or not data:
        raise MediaFileError(
            f"cannot read {shown}: not a sound file Atelier can decode ({_first_line(info)})"
        )
    rate, layout = int(stream.group(1)), stream.group(2).strip()
    channels = _LAYOUTS.get(layout) or int((re.match(r"(\d+) channels", layout) or [0, 1])[1])
    samples = np.frombuffer(data, np.float32)
    samples = samples[: len(samples) // channels * channels].reshape(-1, channels).T
    if samples.shape[1] == 0 or rate < 1:
        raise MediaFileError(f"cannot read {shown}: it holds no sound")
    return np.ascontiguousarray(samples), rate


def _bounded_output(command: list[str], log: IO[bytes], limit: int) -> bytes | None:
    """What `command` writes to stdout, or None when that passes `limit` bytes (the
    process is then stopped); its stderr goes to `log`. Empty when it failed."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log) as process:
        assert process.stdout is not None
        chunks, total = [], 0
        while chunk := process.stdout.read(4 * MiB):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                process.kill()
                return None
        returncode = process.wait(timeout=DECODE_TIMEOUT_S)
    return b"".join(chunks) if returncode == 0 else b""


def _first_line(error: object) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no details"
