"""Timeline edits as undoable commands, and the snapping a timeline panel drags with.

Each edit is a `TimelineEdit`, a Command (a `ValueEdit`, app/model/commands.py) like the
layer edits: pushed on the document's History, Edit > Undo undoes it. Its
`changed(timeline)` makes the new Timeline value from the old one at the first do; undo
puts the old value back and redo the new one, so both are exact. An edit that cannot be
made (an overlap, a time out of the media) raises TimelineError before anything changes.
Give a `merge_key` (one per drag) to make the steps of one drag a single undo step.

Times are Fractions of a second; round them to frames with `quantize` or `snap` first.
Clips on a track never overlap: a move, trim or add that would overlap is refused.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import replace
from fractions import Fraction

from app.model import history_names as names
from app.model.commands import ValueEdit
from app.model.layers import new_id
from app.model.timeline import (
    ACCEPTS,
    DEFAULT_STILL,
    VISUAL,
    Clip,
    MediaItem,
    Timeline,
    TimelineError,
    Track,
    TrackKind,
    as_time,
    quantize,
)

MIN_GAIN_DB, MAX_GAIN_DB = -60.0, 24.0
_TRACK_NAMES = {"video": "Video", "image": "Image", "audio": "Audio"}


class TimelineEdit(ValueEdit):
    """One undoable change of `doc.timeline`; subclasses say what in `changed`."""

    attribute = "timeline"

    def changed(self, timeline: Timeline) -> Timeline:
        """The timeline after this edit (TimelineError when it cannot be made)."""
        raise NotImplementedError


# ---- tracks and media ------------------------------------------------------------------------


class AddTrack(TimelineEdit):
    """A new empty track of `kind` at `index` (default: on top), named "Video 2" and so on."""

    label = names.ADD_TRACK

    def __init__(
        self, kind: TrackKind, index: int | None = None, name: str = "", track_id: str = ""
    ) -> None:
        super().__init__()
        if kind not in ACCEPTS:
            raise TimelineError(f"track kind {kind!r} is not video, image or audio")
        self.kind, self.index, self.name = kind, index, name
        self.track_id = track_id or new_id()

    def changed(self, timeline: Timeline) -> Timeline:
        count = sum(track.kind == self.kind for track in timeline.tracks)
        name = self.name or f"{_TRACK_NAMES[self.kind]} {count + 1}"
        tracks = list(timeline.tracks)
        index = len(tracks) if self.index is None else self.index
        tracks.insert(index, Track(self.track_id, self.kind, name))
        return replace(timeline, tracks=tuple(tracks))


class DeleteTrack(TimelineEdit):
    """Remove a track and its clips (their media stay in the timeline's media)."""

    label = names.DELETE_TRACK

    def __init__(self, track_id: str) -> None:
        super().__init__()
        self.track_id = track_id

    def changed(self, timeline: Timeline) -> Timeline:
        timeline.track(self.track_id)
        return replace(timeline, tracks=tuple(t for t in timeline.tracks if t.id != self.track_id))


class AddMedia(TimelineEdit):
    """Put a media item among the timeline's media (its data must be in `doc.media`)."""

    label = names.ADD_MEDIA

    def __init__(self, item: MediaItem) -> None:
        super().__init__()
        self.item = item

    def changed(self, timeline: Timeline) -> Timeline:
        return timeline.with_media(self.item)


class SetVideoFormat(TimelineEdit):
    """Change the timeline's frame rate and/or picture size."""

    label = names.CHANGE_VIDEO_FORMAT

    def __init__(self, fps: Fraction | None = None, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        if fps is not None and as_time(fps) <= 0:
            raise TimelineError("the frame rate must be positive")
        if size is not None and min(size) < 1:
            raise TimelineError("the video size must be positive")
        self.fps, self.size = fps, size

    def changed(self, timeline: Timeline) -> Timeline:
        fps = as_time(self.fps) if self.fps is not None else timeline.fps
        return replace(timeline, fps=fps, size=self.size or timeline.size)


class OpenTimeline(TimelineEdit):
    """Replace the whole timeline (one read from an .otio file; its media's data must be
    in `doc.media`)."""

    label = names.OPEN_TIMELINE

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def changed(self, timeline: Timeline) -> Timeline:
        return self.timeline


# ---- clips -----------------------------------------------------------------------------------


class AddClip(TimelineEdit):
    """A clip of `item` on a track at `start`: its source from `in_point` to `out_point`
    (default: the whole media; a picture for DEFAULT_STILL seconds). The item joins the
    timeline's media; the first visual clip sets the timeline's size when none is set."""

    label = names.ADD_CLIP

    def __init__(
        self,
        item: MediaItem,
        track_id: str,
        start: Fraction,
        in_point: Fraction = Fraction(0),
        out_point: Fraction | None = None,
        clip_id: str = "",
    ) -> None:
        super().__init__()
        self.item, self.track_id, self.start = item, track_id, as_time(start)
        self.in_point = Fraction(0) if item.kind == "image" else as_time(in_point)
        default = item.duration if item.duration is not None else DEFAULT_STILL
        self.out_point = as_time(out_point) if out_point is not None else default
        self.clip_id = clip_id or new_id()

    def changed(self, timeline: Timeline) -> Timeline:
        timeline = timeline.with_media(self.item)
        if timeline.size is None and self.item.kind in VISUAL:
            timeline = replace(timeline, size=self.item.size)
        clip = Clip(self.clip_id, self.item.id, self.start, self.in_point, self.out_point)
        track = timeline.track(self.track_id)
        return timeline.with_track(track.with_clips([*track.clips, clip]))


class _ClipEdit(TimelineEdit):
    """An edit of one clip: `remade(timeline, track, clip)` gives the track's new clips."""

    def __init__(self, clip_id: str, merge_key: Hashable | None = None) -> None:
        super().__init__(merge_key)
        self.clip_id = clip_id

    def changed(self, timeline: Timeline) -> Timeline:
        track, clip = timeline.find(self.clip_id)
        others = [c for c in track.clips if c.id != clip.id]
        remade = self.remade(timeline, track, clip)
        return timeline.with_track(track.with_clips([*others, *remade]))

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        raise NotImplementedError


class MoveClip(TimelineEdit):
    """Move a clip to `start`, and onto another track when `track_id` is given."""

    label = names.MOVE_CLIP

    def __init__(
        self,
        clip_id: str,
        start: Fraction,
        track_id: str | None = None,
        merge_key: Hashable | None = None,
    ) -> None:
        super().__init__(merge_key)
        self.clip_id, self.start, self.track_id = clip_id, as_time(start), track_id

    def changed(self, timeline: Timeline) -> Timeline:
        source, clip = timeline.find(self.clip_id)
        target = timeline.track(self.track_id or source.id)
        if timeline.item(clip.media_id).kind not in ACCEPTS[target.kind]:
            raise TimelineError(f"track {target.name!r} cannot hold this clip")
        others = [c for c in source.clips if c.id != clip.id]
        timeline = timeline.with_track(source.with_clips(others))
        target = timeline.track(target.id)
        moved = replace(clip, start=self.start)
        return timeline.with_track(target.with_clips([*target.clips, moved]))


class TrimStart(_ClipEdit):
    """Move a clip's start edge to timeline time `start`, its end staying where it is (the
    source's in point moves with it)."""

    label = names.TRIM_CLIP_START

    def __init__(self, clip_id: str, start: Fraction, merge_key: Hashable | None = None) -> None:
        super().__init__(clip_id, merge_key)
        self.start = as_time(start)

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        if self.start >= clip.end:
            raise TimelineError("a clip's start must stay before its end")
        return [_span(timeline, clip, self.start, clip.end)]


class TrimEnd(_ClipEdit):
    """Move a clip's end edge to timeline time `end`, its start staying where it is."""

    label = names.TRIM_CLIP_END

    def __init__(self, clip_id: str, end: Fraction, merge_key: Hashable | None = None) -> None:
        super().__init__(clip_id, merge_key)
        self.end = as_time(end)

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        if self.end <= clip.start:
            raise TimelineError("a clip's end must stay after its start")
        return [_span(timeline, clip, clip.start, self.end)]


class SplitClip(_ClipEdit):
    """Cut a clip in two at timeline time `at`: the first part keeps the clip's id and fade
    in, the second (`new_clip_id`) its fade out."""

    label = names.SPLIT_CLIP

    def __init__(self, clip_id: str, at: Fraction, new_clip_id: str = "") -> None:
        super().__init__(clip_id)
        self.at, self.new_clip_id = as_time(at), new_clip_id or new_id()

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        if not clip.start < self.at < clip.end:
            raise TimelineError("split a clip at a time within it")
        first = _span(timeline, clip, clip.start, self.at, fade_out=Fraction(0))
        second = _span(timeline, clip, self.at, clip.end, fade_in=Fraction(0))
        return [first, replace(second, id=self.new_clip_id)]


class DeleteClip(_ClipEdit):
    """Remove a clip, leaving a gap where it was."""

    label = names.DELETE_CLIP

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        return []


class RippleDelete(TimelineEdit):
    """Remove a clip and close its gap: the later clips of its track move left by its
    duration."""

    label = names.RIPPLE_DELETE_CLIP

    def __init__(self, clip_id: str) -> None:
        super().__init__()
        self.clip_id = clip_id

    def changed(self, timeline: Timeline) -> Timeline:
        track, clip = timeline.find(self.clip_id)
        kept = [
            replace(c, start=c.start - clip.duration) if c.start >= clip.end else c
            for c in track.clips
            if c.id != clip.id
        ]
        return timeline.with_track(track.with_clips(kept))


class SetStillDuration(_ClipEdit):
    """How long a picture's clip stays on screen (its start stays)."""

    label = names.CHANGE_STILL_DURATION

    def __init__(self, clip_id: str, duration: Fraction, merge_key: Hashable | None = None) -> None:
        super().__init__(clip_id, merge_key)
        self.duration = as_time(duration)

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        if timeline.item(clip.media_id).kind != "image":
            raise TimelineError("only a picture's clip has a still duration")
        if self.duration <= 0:
            raise TimelineError("a still must last longer than 0 s")
        return [_span(timeline, clip, clip.start, clip.start + self.duration)]


class SetOpacity(_ClipEdit):
    """A visual clip's opacity, 0..1."""

    label = names.CHANGE_CLIP_OPACITY

    def __init__(self, clip_id: str, opacity: float, merge_key: Hashable | None = None) -> None:
        super().__init__(clip_id, merge_key)
        if not 0.0 <= opacity <= 1.0:
            raise TimelineError(f"opacity must be within 0..1, got {opacity}")
        self.opacity = float(opacity)

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        if timeline.item(clip.media_id).kind not in VISUAL:
            raise TimelineError("only video and picture clips have an opacity")
        return [replace(clip, opacity=self.opacity)]


class SetFades(_ClipEdit):
    """A clip's fade in and fade out, in seconds (together at most the clip's duration)."""

    label = names.CHANGE_CLIP_FADES

    def __init__(
        self,
        clip_id: str,
        fade_in: Fraction,
        fade_out: Fraction,
        merge_key: Hashable | None = None,
    ) -> None:
        super().__init__(clip_id, merge_key)
        self.fade_in, self.fade_out = as_time(fade_in), as_time(fade_out)

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        return [replace(clip, fade_in=self.fade_in, fade_out=self.fade_out)]


class SetGain(_ClipEdit):
    """A sound clip's gain in decibels (MIN_GAIN_DB..MAX_GAIN_DB; -6 dB halves it)."""

    label = names.CHANGE_CLIP_GAIN

    def __init__(self, clip_id: str, gain_db: float, merge_key: Hashable | None = None) -> None:
        super().__init__(clip_id, merge_key)
        if not MIN_GAIN_DB <= gain_db <= MAX_GAIN_DB:
            raise TimelineError(f"gain must be within {MIN_GAIN_DB:g}..{MAX_GAIN_DB:g} dB")
        self.gain_db = float(gain_db)

    def remade(self, timeline: Timeline, track: Track, clip: Clip) -> list[Clip]:
        if timeline.item(clip.media_id).kind != "audio":
            raise TimelineError("only sound clips have a gain")
        return [replace(clip, gain_db=self.gain_db)]


def _span(
    timeline: Timeline,
    clip: Clip,
    start: Fraction,
    end: Fraction,
    fade_in: Fraction | None = None,
    fade_out: Fraction | None = None,
) -> Clip:
    """The part of `clip` (or its extension) shown from timeline time `start` to `end`,
    its fades (default: the clip's) shortened to fit. A picture's source starts at 0."""
    if start < 0:
        raise TimelineError("a clip cannot start before 0 s")
    still = timeline.item(clip.media_id).kind == "image"
    in_point = Fraction(0) if still else clip.source_time(start)
    if in_point < 0:
        raise TimelineError("the clip's media does not begin that early")
    duration = end - start
    fade_in = min(clip.fade_in if fade_in is None else fade_in, duration)
    fade_out = min(clip.fade_out if fade_out is None else fade_out, duration - fade_in)
    return replace(
        clip,
        start=start,
        in_point=in_point,
        out_point=in_point + duration,
        fade_in=fade_in,
        fade_out=fade_out,
    )


# ---- snapping --------------------------------------------------------------------------------


def snap_points(
    timeline: Timeline, playhead: Fraction | None = None, exclude: Iterable[str] = ()
) -> list[Fraction]:
    """The times a dragged edge snaps to: 0, every clip's start and end (but those of the
    clips in `exclude`, the ones being dragged) and the playhead, sorted."""
    skip = set(exclude)
    points = {Fraction(0)}
    for _, clip in timeline.clips():
        if clip.id not in skip:
            points.update((clip.start, clip.end))
    if playhead is not None:
        points.add(as_time(playhead))
    return sorted(points)


def snap(
    t: Fraction, points: Iterable[Fraction], tolerance: Fraction, fps: Fraction | None = None
) -> Fraction:
    """The point nearest `t` within `tolerance` seconds, else `t` rounded to a frame at
    `fps` (unchanged when fps is None)."""
    t = as_time(t)
    near = min(points, key=lambda p: abs(p - t), default=None)
    if near is not None and abs(near - t) <= tolerance:
        return near
    return quantize(t, fps) if fps is not None else t


def snap_clip_start(
    timeline: Timeline,
    clip_id: str,
    start: Fraction,
    tolerance: Fraction,
    playhead: Fraction | None = None,
) -> Fraction:
    """Where to put a dragged clip that would start at `start`: moved so that its start or
    its end lies on the nearest snap point within `tolerance`, else on a frame boundary."""
    _, clip = timeline.find(clip_id)
    start = as_time(start)
    points = snap_points(timeline, playhead, exclude=[clip_id])
    candidates = [(snap(start, points, tolerance), start)]
    candidates.append((snap(start + clip.duration, points, tolerance), start + clip.duration))
    snapped = [(abs(to - at), to - at) for to, at in candidates if to in points]
    if not snapped:
        return max(Fraction(0), quantize(start, timeline.fps))
    return max(Fraction(0), start + min(snapped)[1])
