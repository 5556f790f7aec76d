"""Verify a file: is Atelier's watermark in it, what its metadata claims, its safety record.

A picture may carry several marks (a repaint keeps the input's outside its new area; an
exported canvas holds its layers'): the record lists each with where it lies, and each
recorded area is read on its own (`Report.areas`); the file agrees with its metadata when
every mark found is one the record lists.

Shared by `atelier verify` and the GUI's Verify panel. Images (PNG, JPEG, WebP) are read
with Pillow; video (MP4, MOV, WebM, MKV) and audio (WAV, FLAC, MP3, M4A, OGG) are
decoded with the ffmpeg that imageio-ffmpeg ships. Nothing here needs torch or Qt.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.model.image_files import (
    MAX_IMAGE_FILE_BYTES,
    ImageReadError,
    check_pixel_count,
    image_texts,
    pillow_image,
)
from engine.untrusted import MiB, UntrustedInputError, parse_json, read_file_bytes
from plugins.ffmpeg_writing import ffmpeg_exe
from plugins.provenance import content_credentials
from plugins.provenance.mark_areas import Box, Mark, areas, read_area, recorded_marks
from plugins.provenance.media_tags import TAG_SOURCE, TAG_WATERMARK, read_media_claims
from plugins.provenance.xmp import parse_xmp, read_xmp

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".aac"}
MAX_VIDEO_FRAMES = 240
MAX_AUDIO_SECONDS = 600
# The whole file is read (C2PA hashes all of it); a device, a FIFO or a huge sparse file
# must be refused before that, so each kind has a size bound.
MAX_BYTES = {"image": MAX_IMAGE_FILE_BYTES, "video": 1024 * MiB, "audio": 1024 * MiB}


class UnreadableFile(OSError):
    """The file cannot be read as an image, video or audio file."""


@dataclass(frozen=True)
class AreaReading:
    """A recorded mark read where the record says it lies: in its boxes (or the whole
    picture) less `skip`, the boxes of the marks listed before it."""

    mark: Mark
    skip: tuple[Box, ...]
    found: Any  # watermark.Detection; None when the area is too small to read


@dataclass
class Report:
    """What `verify_file` found in one file."""

    path: Path
    kind: str = ""  # image, video, audio
    error: str = ""  # set when the file could not be read at all
    watermark: Any = None  # watermark.Detection
    watermark_note: str = ""  # why the watermark could not be checked
    claims: dict[str, Any] = field(default_factory=dict)  # parameters, recipe, xmp, c2pa
    provenance: dict[str, Any] | None = None  # Atelier's record, from XMP or C2PA
    marks: list[Mark] = field(default_factory=list)  # the marks the record lists
    areas: list[AreaReading] = field(default_factory=list)  # each read where it lies

    @property
    def readable(self) -> bool:
        return not self.error

    @property
    def found_payloads(self) -> list[int]:
        """Every payload read in the file: in the whole picture, then in each area."""
        seen = [self.watermark, *(reading.found for reading in self.areas)]
        payloads = [
            d.payload for d in seen if d is not None and d.present and d.payload is not None
        ]
        return list(dict.fromkeys(payloads))

    @property
    def agrees(self) -> bool | None:
        """Whether every mark read in the file is one its record lists; None when it has no
        record or no mark was read."""
        if not self.marks or not self.found_payloads:
            return None
        recorded = {mark.payload for mark in self.marks}
        return all(payload in recorded for payload in self.found_payloads)

    @property
    def unrecorded(self) -> list[int]:
        """The payloads read in the file that its record does not list."""
        recorded = {mark.payload for mark in self.marks}
        return [payload for payload in self.found_payloads if payload not in recorded]

    @property
    def marked(self) -> bool:
        """Whether the file carries Atelier's watermark: read in the whole picture, or in
        one of the areas its record names (two marks of about the same strength can hide
        each other in the whole picture)."""
        from plugins.provenance import watermark

        seen = [self.watermark, *(reading.found for reading in self.areas)]
        return any(
            found is not None
            and found.present
            and (found.payload is None or watermark.is_atelier(found.payload))
            for found in seen
        )


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return ""


def verify_file(path: str | os.PathLike[str]) -> Report:
    """Check one file; an unreadable one gives a report whose `error` says why."""
    path = Path(path)
    report = Report(path, kind_of(path))
    rgb = None
    try:
        if not report.kind:
            raise UnreadableFile(
                f"{path.name}: not a file Atelier verifies (images: PNG, JPEG, WebP; "
                "video: MP4, MOV, WebM, MKV; audio: WAV, FLAC, MP3, M4A, OGG)"
            )
        data = read_file_bytes(path, f"verifying as {report.kind}", MAX_BYTES[report.kind])
        if report.kind == "image":
            rgb = _check_image(report, data)
        else:
            _check_media(report, data)
    except UntrustedInputError as exc:
        report.error = str(exc)
        return report
    except OSError as exc:
        report.error = str(exc) if isinstance(exc, UnreadableFile) else f"{path}: {_reason(exc)}"
        return report
    _read_c2pa(report, data)
    report.marks = recorded_marks(report.provenance)
    if rgb is not None:
        report.areas = read_areas(rgb, report.marks)
    return report


def read_areas(rgb: np.ndarray, marks: list[Mark]) -> list[AreaReading]:
    """Each recorded mark read in its area; none when the record names one mark over the
    whole picture (the whole picture's reading is that one)."""
    if len(marks) == 1 and marks[0].boxes is None:
        return []
    return [
        AreaReading(mark, skip, read_area(rgb, mark.boxes, skip, rescaled=False))
        for mark, skip in areas(marks)
    ]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# ---- images ----------------------------------------------------------------------------------


def _check_image(report: Report, data: bytes) -> np.ndarray:
    """Read the image's metadata and look for the mark; its pixels (RGB)."""
    try:
        texts = image_texts(data, report.path)
        with pillow_image(data, report.path) as image:
            check_pixel_count(image, report.path)
            rgb = np.asarray(image.convert("RGB"))
    except ImageReadError as exc:
        raise UnreadableFile(str(exc)) from None
    if "parameters" in texts:
        report.claims["parameters"] = texts["parameters"]
    if "atelier" in texts:
        report.claims["recipe"] = _recipe(texts["atelier"], report.path)
    _read_xmp(report, lambda: read_xmp(data))
    from plugins.provenance import watermark

    report.watermark = watermark.detect_image(rgb)
    return rgb


def _recipe(chunk: str, path: Path) -> Any:
    """The recipe in Atelier's chunk; None when the chunk is not what Atelier writes."""
    try:
        data = parse_json(chunk, f"the Atelier chunk of {path.name}")
    except ValueError:
        return None
    return data.get("recipe") if isinstance(data, dict) else None


def _read_xmp(report: Report, find: Callable[[], str | None]) -> None:
    """Parse the XMP packet that `find` digs out of the file (a broken one is noted)."""
    try:
        packet = find()
        if packet is None:
            return
        claims = parse_xmp(packet)
    except (ValueError, struct.error, IndexError) as exc:
        report.claims["xmp"] = {"error": str(exc) or type(exc).__name__}
        return
    report.provenance = claims.pop("provenance") or report.provenance
    recipe = claims.pop("recipe")
    if isinstance(recipe, dict) and not isinstance(report.claims.get("recipe"), dict):
        report.claims["recipe"] = recipe  # a sound's: its XMP is the one place for it
    report.claims["xmp"] = claims


# ---- video and audio -------------------------------------------------------------------------


def _check_media(report: Report, data: bytes) -> None:
    from plugins.provenance import watermark

    try:
        claims = read_media_claims(data)
    except (ValueError, struct.error, IndexError) as exc:
        claims = {"xmp": None, "tags": {}}
        report.claims["xmp"] = {"error": f"broken container metadata ({exc})"}
    _read_xmp(report, lambda: claims["xmp"])
    tags = claims["tags"]
    if tags.get(TAG_SOURCE):
        report.claims["tags"] = {
            "digital_source_type": tags.get(TAG_SOURCE),
            "watermark_id": tags.get(TAG_WATERMARK),
        }
    if report.kind == "video":
        frames = read_video_frames(report.path)
        report.watermark = watermark.detect_frames(frames)
    else:
        samples, rate = read_audio(report.path)
        report.watermark = watermark.detect_audio(samples, rate)


def read_video_frames(path: Path, limit: int = MAX_VIDEO_FRAMES) -> np.ndarray:
    """Up to `limit` frames from the start of a video, as (T, H, W, 3) uint8."""
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        width, height = meta["size"]
        frames = []
        for raw in reader:
            frames.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
            if len(frames) >= limit:
                break
        reader.close()
    except (OSError, RuntimeError, StopIteration, KeyError) as exc:
        raise UnreadableFile(f"{path.name}: not a readable video ({exc})") from None
    if not frames:
        raise UnreadableFile(f"{path.name}: the video has no frames")
    return np.stack(frames)


_LAYOUTS = {"mono": 1, "stereo": 2, "quad": 4, "5.1": 6, "5.1(side)": 6, "7.1": 8}


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """The samples (C, N float32) and sample rate of an audio file, decoded by ffmpeg."""
    command = [ffmpeg_exe(), "-v", "info", "-nostdin", "-i", str(path)]
    command += ["-t", str(MAX_AUDIO_SECONDS)]
    command += ["-f", "f32le", "-acodec", "pcm_f32le", "-"]
    try:
        result = subprocess.run(command, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnreadableFile(f"{path.name}: ffmpeg could not decode it ({exc})") from None
    info = result.stderr.decode("utf-8", "replace")
    stream = re.search(r"Stream #\S+.*?Audio: [^,]+, (\d+) Hz, ([^,]+)", info)
    if result.returncode != 0 or stream is None:
        last = info.strip().splitlines()[-1:] or ["no audio stream"]
        raise UnreadableFile(f"{path.name}: not a readable audio file ({last[0]})")
    rate, layout = int(stream.group(1)), stream.group(2).strip()
    channels = _LAYOUTS.get(layout) or int((re.match(r"(\d+) channels", layout) or [0, 1])[1])
    samples = np.frombuffer(result.stdout, np.float32)
    samples = samples[: len(samples) // channels * channels].reshape(-1, channels).T
    if samples.shape[1] == 0:
        raise UnreadableFile(f"{path.name}: the audio file holds no samples")
    return np.ascontiguousarray(samples), rate


# ---- Content Credentials -----------------------------------------------------------------


def _read_c2pa(report: Report, data: bytes) -> None:
    mime = content_credentials.mime_for(report.path)
    if mime is None:
        report.claims["c2pa"] = {"present": False, "note": "not a format C2PA reads"}
        return
    try:
        summary = content_credentials.read(data, mime)
    except content_credentials.ContentCredentialsError as exc:
        report.claims["c2pa"] = {"present": False, "error": str(exc)}
        return
    report.claims["c2pa"] = summary
    if summary.get("atelier") and report.provenance is None:
        report.provenance = summary["atelier"]


def exit_code(reports: list[Report]) -> int:
    """0 when every file carries Atelier's watermark, 3 when one does not, 2 when one
    could not be read."""
    if any(not r.readable for r in reports):
        return 2
    return 0 if all(r.marked for r in reports) else 3
