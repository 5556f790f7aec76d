"""Exporting the timeline as one video file: its frames and mixed sound through the one
streaming writer (plugins/video_export write_video); Qt- and torch-free, shared by the
Timeline panel and `atelier export`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from app.model.timeline import VISUAL, MediaStore, Timeline
from app.model.timeline_render import frame_count, frames, mix_audio
from plugins.provenance.marking import timeline_export_record
from plugins.video_export.encoding import Quality, video_kind, write_video

AUDIO_RATE = 48000
AUDIO_CHANNELS = 2
EMPTY = "the timeline is empty: add clips to it in the Timeline panel first"


@dataclass(frozen=True)
class ExportSettings:
    """What to write: the file (its suffix picks the format), the frame rate and size
    (None: the timeline's), the quality, and the span (end None: the timeline's end)."""

    path: Path
    fps: Fraction | None = None
    size: tuple[int, int] | None = None
    quality: Quality = "medium"
    start: Fraction = Fraction(0)
    end: Fraction | None = None


def export_span(timeline: Timeline, settings: ExportSettings) -> tuple[Fraction, Fraction]:
    """The (start, end) seconds written; ValueError when that holds no frame."""
    if not any(track.clips for track in timeline.tracks):
        raise ValueError(EMPTY)
    end = timeline.duration if settings.end is None else min(settings.end, timeline.duration)
    if settings.start < 0 or end <= settings.start:
        raise ValueError(
            f"nothing to export from {float(settings.start):g} s to {float(end):g} s "
            f"(the timeline lasts {float(timeline.duration):g} s)"
        )
    return settings.start, end


def export_frame_count(timeline: Timeline, settings: ExportSettings) -> int:
    """How many frames the export writes."""
    start, end = export_span(timeline, settings)
    return frame_count(end - start, settings.fps or timeline.fps)


def export_provenance(timeline: Timeline, start: Fraction, end: Fraction) -> dict | None:
    """The provenance record of the film cut from `start` to `end`: the marks and tasks
    of the generated clips in it (None: none was generated)."""
    shown = [
        (track, clip) for track, clip in timeline.clips() if start < clip.end and clip.start < end
    ]
    records = {clip.id: _record(timeline.item(clip.media_id).provenance) for _, clip in shown}
    generated = [
        (timeline.item(clip.media_id).name, records[clip.id])
        for _, clip in shown
        if records[clip.id] is not None
    ]
    pictures = [clip.id for track, clip in shown if track.kind in VISUAL]
    all_generated = bool(pictures) and all(records[clip_id] for clip_id in pictures)
    return timeline_export_record(generated, all_generated)


def _record(text: str) -> dict | None:
    """A media item's provenance record, or None (none, or not a JSON object)."""
    try:
        record = json.loads(text) if text else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def export_timeline(
    timeline: Timeline,
    media: MediaStore,
    settings: ExportSettings,
    on_progress: Callable[[int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> Path:
    """Write the timeline's frames (and its sound, where it has any and the format takes
    it) to `settings.path`; the path written. ValueError for an empty timeline or bad
    settings, OSError when it cannot be written or a clip's media cannot be read,
    ExportCancelledError when cancelled; nothing is left behind then."""
    video_kind(Path(settings.path))  # a wrong suffix is refused before any work
    start, end = export_span(timeline, settings)
    fps = settings.fps or timeline.fps
    size = settings.size or timeline.frame_size
    total = frame_count(end - start, fps)
    has_sound = any(track.kind == "audio" and track.clips for track in timeline.tracks)
    sound = None
    if has_sound and video_kind(Path(settings.path)) in ("mp4", "webm"):
        sound = mix_audio(timeline, media, AUDIO_RATE, AUDIO_CHANNELS, start, end)
    return write_video(
        Path(settings.path),
        frames(timeline, media, fps, size, start, end),
        fps=fps,
        audio=sound,
        audio_rate=AUDIO_RATE,
        quality=settings.quality,
        metadata={"comment": "Made with Atelier's timeline"},
        provenance=export_provenance(timeline, start, end),
        on_progress=on_progress,
        is_cancelled=is_cancelled,
        total_frames=total,
    )
