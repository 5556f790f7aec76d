"""The timeline as OpenTimelineIO (.otio), so Kdenlive, DaVinci Resolve and other editors
open the cut with its media, and .otio files opened as a timeline; Qt-free.

Export writes `<name>.otio` and, next to it, `<name>_media/` holding every media item as
a file the clips reference by absolute file URL: an imported file copied as it was, a
generated video as high-quality H.264 MP4 (CRF 12, by the one video writer, write_video),
a picture as PNG, a sound as 24-bit WAV. Tracks keep their order and kind (image tracks
are video tracks marked as such), gaps are Gaps, each clip's source range is its in and
out points; every time is a RationalTime at the timeline's frame rate, exact for times on
frame boundaries. Atelier's own values (opacity, fades, gain, ids, the frame size) ride
in `metadata["atelier"]`, which other editors keep and ignore.

Import reads a .otio (bounded in size and depth), its tracks, gaps, clips and source
ranges, imports each referenced file as a media item (app/model/timeline_media.py) and
builds a Timeline; clips whose media is missing or unreadable are left out, each with a
warning.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
import wave
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import opentimelineio as otio

from app.model.document import MAX_CANVAS_SIDE
from app.model.image_files import encode_png
from app.model.layers import new_id
from app.model.timeline import (
    ACCEPTS,
    VISUAL,
    Clip,
    MediaItem,
    MediaStore,
    Timeline,
    TimelineError,
    Track,
    quantize,
)
from app.model.timeline_media import MediaFileError, frame_rate, import_file
from engine.file_writing import write_atomic
from engine.untrusted import (
    MAX_JSON_BYTES,
    UntrustedInputError,
    display_path,
    parse_json,
    read_file_bytes,
)
from plugins.video_export.encoding import write_video

SUFFIX = ".otio"
MP4_CRF = 12  # visually lossless H.264 that every editor decodes


class OtioError(Exception):
    """A timeline could not be exported or imported; the message names the file."""


# ---- export ----------------------------------------------------------------------------------


def export_otio(timeline: Timeline, media: MediaStore, path: str | os.PathLike[str]) -> Path:
    """Write `timeline` as OpenTimelineIO to `path` (.otio) and its media to the folder
    `<stem>_media` beside it. Raises OtioError naming what could not be written."""
    path = Path(path)
    folder = path.with_name(f"{path.stem}_media")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files = {item.id: _write_media(item, media, folder) for item in timeline.media}
        text = otio.adapters.write_to_string(_otio_timeline(timeline, files, path.stem))
        write_atomic(path, text.encode("utf-8"))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise OtioError(f"cannot export {display_path(path)}: {exc}") from None
    return path


def _otio_timeline(timeline: Timeline, files: dict[str, Path], name: str) -> otio.schema.Timeline:
    rate = float(timeline.fps)
    result = otio.schema.Timeline(name=name, global_start_time=otio.opentime.RationalTime(0, rate))
    result.metadata["atelier"] = {
        "fps": _text(timeline.fps),
        "size": list(timeline.size) if timeline.size else None,
    }
    for track in timeline.tracks:
        kind = otio.schema.TrackKind.Audio if track.kind == "audio" else otio.schema.TrackKind.Video
        out = otio.schema.Track(name=track.name, kind=kind)
        out.metadata["atelier"] = {"id": track.id, "kind": track.kind}
        at = Fraction(0)
        for clip in track.clips:
            if clip.start > at:
                out.append(otio.schema.Gap(source_range=_range(at, clip.start - at, timeline.fps)))
            item = timeline.item(clip.media_id)
            out.append(_otio_clip(clip, item, files[item.id], timeline.fps))
            at = clip.end
        result.tracks.append(out)
    return result


def _otio_clip(clip: Clip, item: MediaItem, file: Path, fps: Fraction) -> otio.schema.Clip:
    reference = otio.schema.ExternalReference(target_url=file.resolve().as_uri())
    if item.duration is not None:
        reference.available_range = _range(Fraction(0), item.duration, fps)
    reference.metadata["atelier"] = {"id": item.id, "kind": item.kind, "file": item.file}
    out = otio.schema.Clip(
        name=item.name,
        media_reference=reference,
        source_range=_range(clip.in_point, clip.duration, fps),
    )
    out.metadata["atelier"] = {
        "id": clip.id,
        "opacity": clip.opacity,
        "fade_in": _text(clip.fade_in),
        "fade_out": _text(clip.fade_out),
        "gain_db": clip.gain_db,
    }
    return out


def _range(start: Fraction, duration: Fraction, fps: Fraction) -> otio.opentime.TimeRange:
    rate = float(fps)
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(float(start * fps), rate),
        otio.opentime.RationalTime(float(duration * fps), rate),
    )


def _text(time: Fraction) -> str:
    return f"{time.numerator}/{time.denominator}"


def _write_media(item: MediaItem, media: MediaStore, folder: Path) -> Path:
    """`item`'s data as a file in `folder`: an imported file copied, else encoded."""
    source = media.file(item.id)
    if source is not None:
        target = folder / f"{Path(item.name).stem}-{item.id[:8]}{source.suffix.lower()}"
        shutil.copyfile(source, target)
        return target
    stem = folder / f"{Path(item.name).stem or item.kind}-{item.id[:8]}"
    data = media.data(item)
    if item.kind == "image":
        write_atomic(stem.with_suffix(".png"), encode_png(data))
        return stem.with_suffix(".png")
    if item.kind == "audio":
        assert item.rate is not None
        return _write_wav(stem.with_suffix(".wav"), data, item.rate)
    assert item.fps is not None
    return write_video(stem.with_suffix(".mp4"), data, fps=item.fps, quality=MP4_CRF)


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """24-bit PCM WAV of (C, N) float samples."""
    ints = np.rint(np.clip(samples.T, -1.0, 1.0) * 8388607).astype("<i4")
    pcm = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()  # the low three bytes
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(3)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


# ---- import ----------------------------------------------------------------------------------


def import_otio(path: str | os.PathLike[str], media: MediaStore) -> tuple[Timeline, list[str]]:
    """The timeline in the .otio file at `path`, its media files imported into `media`,
    and a warning for each clip left out. Raises OtioError when the file is unusable."""
    path = Path(path)
    shown = display_path(path)
    try:
        text = read_file_bytes(path, "a timeline", MAX_JSON_BYTES)
        parse_json(text, "the timeline")  # bounded size and depth before OTIO reads it
        source = otio.adapters.read_from_string(text.decode("utf-8"), "otio_json")
    except UntrustedInputError as exc:
        raise OtioError(f"cannot import {shown}: {exc.reason}") from None
    except OSError as exc:
        raise OtioError(f"cannot import {shown}: {exc.strerror or exc}") from None
    except (ValueError, TypeError, RuntimeError, otio.exceptions.OTIOError) as exc:
        raise OtioError(f"cannot import {shown}: not an OpenTimelineIO file ({exc})") from None
    if not isinstance(source, otio.schema.Timeline):
        raise OtioError(f"cannot import {shown}: it holds no timeline")
    try:
        return _Import(path, media).timeline(source)
    except TimelineError as exc:
        raise OtioError(f"cannot import {shown}: {exc}") from None


class _Import:
    """Builds a Timeline from an OTIO timeline, importing each media file once."""

    def __init__(self, path: Path, media: MediaStore) -> None:
        self.folder, self.media = path.parent, media
        self.items: dict[tuple[str, str], MediaItem] = {}
        self.warnings: list[str] = []
        self.ids: set[str] = set()

    def timeline(self, source: otio.schema.Timeline) -> tuple[Timeline, list[str]]:
        own = _metadata(source)
        fps = _fps(own.get("fps"), source)
        tracks = [
            self._track(track, fps)
            for track in source.tracks
            if isinstance(track, otio.schema.Track)
        ]
        size = _size(own.get("size"))
        if size is None:
            visual = [c for t in tracks if t.kind in VISUAL for c in t.clips]
            first = min(visual, key=lambda c: c.start, default=None)
            size = self._item_of(first.media_id).size if first else None
        items = tuple(self.items.values())
        return Timeline(tuple(tracks), items, fps, size), self.warnings

    def _track(self, source: otio.schema.Track, fps: Fraction) -> Track:
        own = _metadata(source)
        audio = source.kind == otio.schema.TrackKind.Audio
        kind = "audio" if audio else ("image" if own.get("kind") == "image" else "video")
        clips, at = [], Fraction(0)
        for child in source:
            if isinstance(child, otio.schema.Transition):
                continue  # takes no time on its track
            duration = _time(child.duration(), fps)
            if isinstance(child, otio.schema.Clip):
                clip = self._clip(child, kind, at, fps)
                if clip is not None:
                    clips.append(clip)
            at += duration
        return Track(self._id(own.get("id")), kind, source.name or kind.title(), tuple(clips))

    def _clip(
        self, source: otio.schema.Clip, kind: str, start: Fraction, fps: Fraction
    ) -> Clip | None:
        file = _file_of(source.media_reference, self.folder)
        name = source.name or "clip"
        if file is None:
            self.warnings.append(f"{name}: left out, it references no media file")
            return None
        try:
            item = self._import(file, "audio" if kind == "audio" else None)
            if item.kind not in ACCEPTS[kind]:
                raise TimelineError(f"a {kind} track cannot hold {item.kind}")
            source_range = source.source_range or source.available_range()
            in_point = _time(source_range.start_time, fps)
            duration = _time(source_range.duration, fps)
            if item.duration is not None:  # an editor's range may reach a frame past the end
                duration = min(duration, item.duration - in_point)
            if item.kind == "image":
                in_point = Fraction(0)
            clip = Clip(new_id(), item.id, start, in_point, in_point + duration)
            return self._with_settings(clip, source)
        except (MediaFileError, TimelineError, ValueError) as exc:
            self.warnings.append(f"{name}: left out, {exc}")
            return None

    def _with_settings(self, clip: Clip, source: otio.schema.Clip) -> Clip:
        """`clip` with the opacity, fades, gain and id Atelier saved, where they are valid."""
        own = _metadata(source)
        try:
            changed = Clip(
                self._id(own.get("id")),
                clip.media_id,
                clip.start,
                clip.in_point,
                clip.out_point,
                _unit(own.get("opacity"), 1.0),
                Fraction(own.get("fade_in", "0")),
                Fraction(own.get("fade_out", "0")),
                float(own.get("gain_db", 0.0)),
            )
        except (TimelineError, ValueError, TypeError, ZeroDivisionError):
            return clip
        return changed if -60 <= changed.gain_db <= 24 else clip

    def _id(self, text: Any) -> str:
        """An id Atelier saved, kept when it is safe as a file name and not taken."""
        safe = isinstance(text, str) and 0 < len(text) <= 128 and text.isascii()
        if not safe or not all(c.isalnum() or c in "_-" for c in text) or text in self.ids:
            text = new_id()
        self.ids.add(text)
        return text

    def _import(self, file: Path, kind: str | None) -> MediaItem:
        key = (str(file), kind or "")
        if key not in self.items:
            self.items[key] = import_file(self.media, file, kind)
        return self.items[key]

    def _item_of(self, media_id: str) -> MediaItem:
        return next(item for item in self.items.values() if item.id == media_id)


def _metadata(thing: Any) -> dict[str, Any]:
    own = thing.metadata.get("atelier") if hasattr(thing, "metadata") else None
    return dict(own) if isinstance(own, Mapping) else {}


def _fps(text: Any, source: otio.schema.Timeline) -> Fraction:
    """The frame rate Atelier saved, else that of the first clip's range, else 24."""
    try:
        fps = Fraction(text) if isinstance(text, str) else None
    except (ValueError, ZeroDivisionError):
        fps = None
    if fps is not None and 0 < fps <= 1000:
        return fps
    for clip in source.find_clips():
        if clip.source_range is not None and 0 < clip.source_range.duration.rate <= 1000:
            return frame_rate(clip.source_range.duration.rate)
    return Fraction(24)


def _time(time: otio.opentime.RationalTime, fps: Fraction) -> Fraction:
    """An OTIO time in seconds as a Fraction; at the timeline's rate, frame counts stay
    exact."""
    if not np.isfinite(time.value) or not 0 < time.rate < 1e7:
        raise ValueError(f"the time {time} is not a time")
    rate = frame_rate(time.rate)
    seconds = Fraction(time.value).limit_denominator(10**6) / rate
    return quantize(seconds, fps) if rate == fps else seconds


def _file_of(reference: Any, folder: Path) -> Path | None:
    """The local file an external reference points at (file URL, absolute or relative
    path), or None."""
    url = getattr(reference, "target_url", None)
    if not isinstance(reference, otio.schema.ExternalReference) or not url:
        return None
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http and such: not a local file
        return None
    file = Path(urllib.parse.unquote(url))
    return file if file.is_absolute() else folder / file


def _size(value: Any) -> tuple[int, int] | None:
    """A (width, height) Atelier saved, when it is one."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return None
    ok = all(type(side) is int and 0 < side <= MAX_CANVAS_SIDE for side in value)
    return (value[0], value[1]) if ok else None


def _unit(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and 0 <= value <= 1 else default
