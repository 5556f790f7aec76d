"""One streaming video writer for every export: `write_video`.

Frames (H, W, 3 uint8, any iterable, so a timeline can render them one at a time) are
piped into the ffmpeg that imageio-ffmpeg ships. The file's suffix picks the format:

- `.mp4`: H.264 (libx264) in yuv420p with AAC sound and the index at the front
  (+faststart), so it plays in browsers and on phones;
- `.webm`: VP9 in yuv420p with Opus sound;
- `.gif`: one palette for the whole clip (ffmpeg's palettegen/paletteuse), no sound;
- `.png`: a PNG sequence, the frames as `<stem>/<stem>_00001.png`, ... in a folder named
  after the file (what compositing and editing tools import), no sound.

H.264 and VP9 in yuv420p need even sides: a frame with an odd side loses its last row or
column, a size asked for is rounded down to even. Colours are converted and tagged as
BT.709, as players assume for video. Sound (C, N float32) is cut or padded with silence
to the video's length, so both streams end together.

Everything is written to a temporary file (a temporary folder for a PNG sequence) beside
the target and renamed over it at the end: a cancelled or failed export leaves no file
and no temp, and an existing file is replaced whole or kept. With a provenance record the
container carries the AI-generated claim as tags (IPTC digital source type, watermark id)
and an MP4 or each PNG also its XMP packet; `metadata` adds tags (PNG: text chunks).
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.model.image_files import encode_png
from engine.file_writing import TEMP_SUFFIX, temp_beside
from engine.protocol import JobCancelledError
from plugins.ffmpeg_writing import (
    MediaWriteError,
    check_folder,
    ffmpeg_error,
    ffmpeg_exe,
    write_error,
)
from plugins.provenance.media_tags import add_xmp_mp4, ffmpeg_tag_args
from plugins.provenance.xmp import add_xmp_png, xmp_packet

SUFFIXES = (".mp4", ".webm", ".gif", ".png")
QUALITIES = ("high", "medium", "small")
_X264_CRF = {"high": 18, "medium": 23, "small": 28}  # 0-51, lower is better
_VP9_CRF = {"high": 24, "medium": 32, "small": 40}  # 0-63, lower is better
_AAC_BITRATE = {"high": "256k", "medium": "192k", "small": "128k"}
_OPUS_BITRATE = {"high": "160k", "medium": "128k", "small": "96k"}
_GIF_COLOURS = {"high": 256, "medium": 128, "small": 64}
_MAX_CRF = {"mp4": 51, "webm": 63}
_BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]


class ExportCancelledError(JobCancelledError):
    """The export was cancelled; nothing was written."""


class VideoWriteError(MediaWriteError):
    """A video could not be written; the message names the path and the reason (and
    `errno` is set where the system gave one)."""


class _SourceError(Exception):
    """An error of the frames' source, carried past the writer's own error handling."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


Quality = str | int  # "high", "medium", "small", or an encoder CRF


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: Fraction | float,
    size: tuple[int, int] | None = None,
    audio: np.ndarray | None = None,
    audio_rate: int = 48000,
    quality: Quality = "medium",
    metadata: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    total_frames: int | None = None,
) -> Path:
    """Write `frames` (H, W, 3 uint8; RGBA drops its alpha) as the video `path` names
    (.mp4, .webm, .gif, or .png for a PNG sequence folder) and return what was written.

    `size` (width, height) scales every frame; `audio` (C, N float32 at `audio_rate`) is
    muxed into MP4 and WebM, ignored for GIF and PNG; `quality` is "high", "medium",
    "small" or a CRF; `on_progress(frames_written)` is called after each frame and
    `is_cancelled()` asked before each (ExportCancelledError). The sound is cut or
    padded with silence to the frames' length: `frames` without a len() and with sound
    need `total_frames`, and frames that end before or after it are refused.
    ValueError for bad arguments or frames, VideoWriteError (an OSError) when the file
    cannot be written (an error of the frames' source comes through as it was); in every
    failure nothing is left behind."""
    path = Path(path)
    kind = video_kind(path)
    rate = frame_rate(fps)
    _check_quality(quality, kind)
    if total_frames is None and isinstance(frames, Sized):
        total_frames = len(frames)
    if total_frames is None and audio is not None and kind in ("mp4", "webm"):
        raise ValueError("give total_frames with the sound, to fit it to the video's length")
    sound = _sound(audio, audio_rate, rate, total_frames) if kind in ("mp4", "webm") else None
    stream = _frames(frames)
    try:
        first = next(stream, None)
        if first is None:
            raise ValueError("there are no frames to write")
        out_size = _output_size(kind, (first.shape[1], first.shape[0]), size)
        check_folder(path, VideoWriteError)
        pace = _Pace(on_progress, is_cancelled)
        try:
            if kind == "png":
                return _write_png_sequence(
                    path, first, stream, out_size, metadata, provenance, pace
                )
            with temp_beside(path) as tmp:
                encoder = _Encoder(kind, rate, out_size, quality, sound, audio_rate, total_frames)
                encoder.run(tmp, first, stream, ffmpeg_tag_args(provenance, metadata), pace)
                if kind == "mp4" and provenance:
                    tmp.write_bytes(add_xmp_mp4(tmp.read_bytes(), xmp_packet(provenance)))
        except VideoWriteError:
            raise
        except OSError as exc:
            raise write_error(path, exc, VideoWriteError) from exc
    except _SourceError as failed:
        raise failed.error from None
    return path


def video_kind(path: Path) -> str:
    """The format the file's suffix names: "mp4", "webm", "gif" or "png" (a sequence)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot write video to {path.name}: use .mp4, .webm, .gif or .png")
    return suffix[1:]


def frame_rate(fps: Fraction | float) -> Fraction:
    """The frame rate as an exact fraction (29.97 -> 2997/100, 30000/1001 kept)."""
    rate = fps if isinstance(fps, Fraction) else Fraction(float(fps)).limit_denominator(1001)
    if not 0 < rate <= 240:
        raise ValueError(f"the frame rate must be above 0 and at most 240, not {float(fps):g}")
    return rate


def png_sequence_folder(path: Path) -> Path:
    """Where a PNG sequence named `path` (e.g. shot.png) goes: the folder `shot`."""
    return path.with_suffix("")


# ---- arguments -------------------------------------------------------------------------------


def _check_quality(quality: Quality, kind: str) -> None:
    if isinstance(quality, str):
        if quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)} or a CRF number")
    elif kind in _MAX_CRF and not 0 <= quality <= _MAX_CRF[kind]:
        raise ValueError(f"the {kind.upper()} CRF must be from 0 to {_MAX_CRF[kind]}")


def _sound(
    audio: np.ndarray | None, audio_rate: int, rate: Fraction, total_frames: int | None
) -> np.ndarray | None:
    """The samples (C, N float32), cut or padded to the video's length."""
    if audio is None or total_frames is None:
        return None
    samples = np.asarray(audio)
    if samples.ndim != 2 or samples.shape[0] not in range(1, 9) or samples.shape[1] == 0:
        raise ValueError(
            f"audio must be (channels, samples) with 1-8 channels, not {samples.shape}"
        )
    if not 8000 <= audio_rate <= 192000:
        raise ValueError(f"the audio sample rate must be 8000-192000 Hz, not {audio_rate}")
    length = round(total_frames * audio_rate / rate)
    samples = np.pad(samples[:, :length], ((0, 0), (0, max(0, length - samples.shape[1]))))
    return np.ascontiguousarray(samples, dtype=np.float32)


def _frames(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The frames as contiguous (H, W, 3) uint8, each the first one's size; an OSError of
    the source (a clip's file gone) comes as _SourceError, so it is not taken for a write's."""
    shape, source = None, iter(frames)
    for number in itertools.count(1):
        try:
            frame = next(source)
        except StopIteration:
            return
        except OSError as exc:
            raise _SourceError(exc) from exc
        pixels = np.asarray(frame)
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            got = f"{pixels.shape} {pixels.dtype}"
            raise ValueError(f"frame {number} must be (height, width, 3) uint8, not {got}")
        pixels = np.ascontiguousarray(pixels[..., :3])
        if shape is not None and pixels.shape != shape:
            raise ValueError(
                f"frame {number} is {pixels.shape[1]}x{pixels.shape[0]} pixels, "
                f"the first was {shape[1]}x{shape[0]}"
            )
        shape = pixels.shape
        yield pixels


def _output_size(
    kind: str, frame_size: tuple[int, int], size: tuple[int, int] | None
) -> tuple[int, int]:
    """(width, height) written: the size asked or the frames', even for H.264 and VP9."""
    width, height = size or frame_size
    if width < 1 or height < 1 or width > 16384 or height > 16384:
        raise ValueError(f"the video size must be 1-16384 pixels a side, not {width}x{height}")
    if kind in ("mp4", "webm"):
        if width < 2 or height < 2:
            raise ValueError(f"an {kind.upper()} must be at least 2x2 pixels")
        width, height = width - width % 2, height - height % 2
    return width, height


@dataclass(frozen=True)
class _Pace:
    on_progress: Callable[[int], None] | None
    is_cancelled: Callable[[], bool] | None

    def check(self) -> None:
        if self.is_cancelled is not None and self.is_cancelled():
            raise ExportCancelledError("the export was cancelled")

    def done(self, frames: int) -> None:
        if self.on_progress is not None:
            self.on_progress(frames)


# ---- MP4, WebM, GIF: ffmpeg ------------------------------------------------------------------


@dataclass(frozen=True)
class _Encoder:
    kind: str
    rate: Fraction
    size: tuple[int, int]
    quality: Quality
    sound: np.ndarray | None
    audio_rate: int
    total_frames: int | None

    def run(
        self,
        tmp: Path,
        first: np.ndarray,
        rest: Iterator[np.ndarray],
        tags: list[str],
        pace: _Pace,
    ) -> None:
        """Encode the frames into `tmp`; ffmpeg is killed when anything goes wrong."""
        with tempfile.TemporaryDirectory(prefix="atelier-export-") as scratch:
            audio_input = self._audio_input(Path(scratch))
            frame_size = (first.shape[1], first.shape[0])
            command = self.command(frame_size, audio_input, tags, tmp)
            with tempfile.TemporaryFile() as log:
                process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log
                )
                try:
                    sent = _feed(process, first, rest, pace)
                    code = process.wait()
                except BaseException:
                    process.kill()
                    process.wait()
                    raise
                if code != 0 or sent is None:
                    log.seek(0)
                    raise ffmpeg_error(log.read().decode("utf-8", "replace"), "the video")
        if self.total_frames is not None and sent != self.total_frames:
            raise ValueError(f"the video had {sent} frames, not the {self.total_frames} announced")

    def command(
        self, frame_size: tuple[int, int], audio_input: list[str], tags: list[str], out: Path
    ) -> list[str]:
        """The ffmpeg command line that reads raw RGB frames from stdin."""
        width, height = frame_size
        command = [ffmpeg_exe(), "-hide_banner", "-v", "error", "-y"]
        command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"]
        command += ["-r", f"{self.rate.numerator}/{self.rate.denominator}", "-i", "pipe:0"]
        command += audio_input
        if self.kind == "gif":
            return [*command, *self._gif_filters(frame_size), "-f", "gif", str(out)]
        command += ["-vf", self._video_filter(frame_size), "-map", "0:v"]
        command += self.video_codec()
        if audio_input:
            command += ["-map", "1:a", *self._audio_codec()]
        command += tags
        if self.kind == "mp4":
            command += ["-movflags", "+faststart+use_metadata_tags"]
        return [*command, "-f", self.kind, str(out)]

    def video_codec(self) -> list[str]:
        """The encoder's flags, after the inputs."""
        if self.kind == "mp4":
            crf = _crf(self.quality, _X264_CRF)
            codec = ["-c:v", "libx264", "-preset", "medium", "-crf", crf]
        else:
            crf = _crf(self.quality, _VP9_CRF)
            codec = ["-c:v", "libvpx-vp9", "-crf", crf, "-b:v", "0", "-deadline", "good"]
            codec += ["-cpu-used", "4", "-row-mt", "1"]
        return [*codec, "-pix_fmt", "yuv420p", *_BT709]

    def _video_filter(self, frame_size: tuple[int, int]) -> str:
        """Crop an odd side (lossless) or scale to the size asked, then convert to BT.709."""
        width, height = self.size
        if (width, height) == frame_size:
            resize = ""
        elif (frame_size[0] - width, frame_size[1] - height) in ((0, 0), (0, 1), (1, 0), (1, 1)):
            resize = f"crop={width}:{height}:0:0,"
        else:
            resize = f"scale={width}:{height}:flags=lanczos,"
        return f"{resize}scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"

    def _gif_filters(self, frame_size: tuple[int, int]) -> list[str]:
        width, height = self.size
        resize = "" if self.size == frame_size else f"scale={width}:{height}:flags=lanczos,"
        colours = _GIF_COLOURS.get(str(self.quality), 256)
        graph = f"[0:v]{resize}split[a][b];[a]palettegen=max_colors={colours}[p];[b][p]paletteuse"
        return ["-filter_complex", graph]

    def _audio_input(self, scratch: Path) -> list[str]:
        """The sound as raw float samples in a scratch file, as ffmpeg input flags."""
        if self.sound is None:
            return []
        raw = scratch / "sound.f32"
        np.ascontiguousarray(self.sound.T, dtype="<f4").tofile(raw)
        channels = self.sound.shape[0]
        return ["-f", "f32le", "-ar", str(self.audio_rate), "-ac", str(channels), "-i", str(raw)]

    def _audio_codec(self) -> list[str]:
        quality = self.quality if isinstance(self.quality, str) else "medium"
        if self.kind == "mp4":
            return ["-c:a", "aac", "-b:a", _AAC_BITRATE[quality]]
        return ["-c:a", "libopus", "-b:a", _OPUS_BITRATE[quality]]


def _crf(quality: Quality, table: Mapping[str, int]) -> str:
    return str(table[quality] if isinstance(quality, str) else int(quality))


def _feed(
    process: subprocess.Popen, first: np.ndarray, rest: Iterator[np.ndarray], pace: _Pace
) -> int | None:
    """Send every frame to ffmpeg's stdin; how many, or None when ffmpeg stopped reading
    (its error then says why)."""
    stdin = process.stdin
    assert stdin is not None
    count = 0
    try:
        for pixels in itertools.chain([first], rest):
            pace.check()
            stdin.write(memoryview(pixels).cast("B"))
            count += 1
            pace.done(count)
        stdin.close()
    except BrokenPipeError:
        return None
    return count


# ---- PNG sequences ---------------------------------------------------------------------------


def _write_png_sequence(
    path: Path,
    first: np.ndarray,
    rest: Iterator[np.ndarray],
    size: tuple[int, int],
    metadata: Mapping[str, str] | None,
    provenance: Mapping[str, Any] | None,
    pace: _Pace,
) -> Path:
    """Write `<stem>/<stem>_00001.png`, ... into a temporary folder, then put it in place
    of the folder (a previous sequence of the same name is replaced whole)."""
    folder = png_sequence_folder(path)
    _check_replaceable(folder)
    packet = xmp_packet(provenance) if provenance else None
    tmp = _temp_name(folder)
    os.mkdir(tmp)  # the umask gives its permissions, as for any new folder
    try:
        for number, frame in enumerate(itertools.chain([first], rest), 1):
            pace.check()
            data = encode_png(_resized(frame, size), metadata)
            (tmp / f"{folder.name}_{number:05d}.png").write_bytes(
                add_xmp_png(data, packet) if packet else data
            )
            pace.done(number)
        _replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _check_replaceable(folder: Path) -> None:
    """Refuse to replace a file, a link, or a folder holding anything but a sequence's frames."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise VideoWriteError(f"cannot write the PNG sequence {folder}: a file has that name")
    if folder.is_dir():
        frame = re.compile(rf"{re.escape(folder.name)}_\d+\.png")
        others = sorted(
            entry.name for entry in os.scandir(folder) if not frame.fullmatch(entry.name)
        )
        if others:
            raise VideoWriteError(
                f"cannot write the PNG sequence into {folder}: the folder holds other files "
                f"({others[0]}); choose another name"
            )


def _temp_name(folder: Path) -> Path:
    return folder.parent / f".{folder.name[:150]}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _replace_folder(tmp: Path, folder: Path) -> None:
    if not folder.exists():
        os.rename(tmp, folder)
        return
    old = _temp_name(folder)
    os.rename(folder, old)
    try:
        os.rename(tmp, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _resized(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS))
