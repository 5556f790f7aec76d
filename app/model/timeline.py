"""The video timeline as values, tracks of clips cut from media items, and the store of
the media's data; Qt-free.

Every time is a `fractions.Fraction` of a second, so cutting at a frame, splitting and
moving never drift. Every type is a frozen dataclass: an edit (app/model/timeline_edits.py)
returns a new Timeline, and undo puts the old value back, which makes undo exact.

- A `MediaItem` describes one piece of media (a generated video, a picture, a generated or
  imported sound); its frames, pixels or samples live in the document's `MediaStore`,
  keyed by the item's id (app/model/timeline_media.py makes items and reads files).
- A `Clip` shows part of a media item: from `in_point` to `out_point` (source times) at
  `start` on the timeline. A still (an image clip) has in_point 0 and out_point its
  duration on screen.
- A `Track` holds clips that never overlap, sorted by start. Video tracks take video and
  image clips, image tracks image clips, audio tracks audio clips. Visual tracks are drawn
  bottom first: a later track covers an earlier one.
- The timeline's `fps` (default 24) is the frame rate of its export and of frame snapping;
  its `size` is set by the first visual clip added (1280x720 until then).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

MediaKind = Literal["video", "image", "audio"]
TrackKind = Literal["video", "image", "audio"]

DEFAULT_FPS = Fraction(24)
DEFAULT_SIZE = (1280, 720)
DEFAULT_STILL = Fraction(3)  # seconds a picture stays on screen when first added
ACCEPTS: dict[str, frozenset[str]] = {  # the media kinds each kind of track takes
    "video": frozenset({"video", "image"}),
    "image": frozenset({"image"}),
    "audio": frozenset({"audio"}),
}
VISUAL = frozenset({"video", "image"})


class TimelineError(ValueError):
    """An edit the timeline cannot take (an overlap, a time out of range); the message is
    one sentence for the designer."""


@dataclass(frozen=True)
class MediaItem:
    """One piece of media the timeline can cut clips from (its data: the MediaStore).

    `length` counts frames (video) or samples (audio); images have none. `file` is the
    file it was imported from (None: made in Atelier); the project keeps a copy either way.
    `provenance` is the JSON text of a generated output's provenance record (its watermark,
    task, safety; empty: not generated), which a timeline export names in its metadata.
    """

    id: str
    kind: MediaKind
    name: str
    size: tuple[int, int] | None = None  # (width, height) of video and image
    fps: Fraction | None = None  # video
    rate: int | None = None  # audio samples per second
    channels: int = 0  # audio
    length: int = 0  # frames (video) or samples (audio)
    file: str | None = None
    provenance: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ACCEPTS:
            raise TimelineError(f"media kind {self.kind!r} is not video, image or audio")
        if self.kind in VISUAL and (self.size is None or min(self.size) < 1):
            raise TimelineError(f"{self.kind} media {self.name!r} needs a size")
        if self.kind == "video" and (self.fps is None or self.fps <= 0 or self.length < 1):
            raise TimelineError(f"video {self.name!r} needs a frame rate and frames")
        if self.kind == "audio" and (not self.rate or self.rate < 1 or self.length < 1):
            raise TimelineError(f"sound {self.name!r} needs a sample rate and samples")
        if self.kind == "audio" and self.channels < 1:
            raise TimelineError(f"sound {self.name!r} needs at least one channel")

    @property
    def duration(self) -> Fraction | None:
        """Seconds of source (None for a picture, which lasts as long as its clip)."""
        if self.kind == "video":
            assert self.fps is not None
            return self.length / self.fps
        if self.kind == "audio":
            assert self.rate is not None
            return Fraction(self.length, self.rate)
        return None

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the array holding its data: (T, H, W, 3) uint8 frames, (H, W, 4)
        uint8 pixels or (C, N) float32 samples."""
        if self.kind == "audio":
            return (self.channels, self.length)
        assert self.size is not None
        width, height = self.size
        return (self.length, height, width, 3) if self.kind == "video" else (height, width, 4)


@dataclass(frozen=True)
class Clip:
    """Part of a media item on a track: source `in_point`..`out_point` shown from `start`.

    `opacity` (0..1) and the fades apply to visual clips, `gain_db` and the fades to audio
    clips; fades are seconds at the clip's start and end (they never overlap).
    """

    id: str
    media_id: str
    start: Fraction
    in_point: Fraction
    out_point: Fraction
    opacity: float = 1.0
    fade_in: Fraction = Fraction(0)
    fade_out: Fraction = Fraction(0)
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        for name in ("start", "in_point", "out_point", "fade_in", "fade_out"):
            object.__setattr__(self, name, as_time(getattr(self, name)))
        if self.start < 0 or self.in_point < 0:
            raise TimelineError("a clip cannot start before 0 s")
        if self.out_point <= self.in_point:
            raise TimelineError("a clip must last longer than 0 s")
        if self.fade_in < 0 or self.fade_out < 0 or self.fade_in + self.fade_out > self.duration:
            raise TimelineError("the fades must fit within the clip")

    @property
    def duration(self) -> Fraction:
        return self.out_point - self.in_point

    @property
    def end(self) -> Fraction:
        """The timeline time just after the clip."""
        return self.start + self.duration

    def source_time(self, t: Fraction) -> Fraction:
        """The source time shown at timeline time `t`."""
        return self.in_point + (t - self.start)

    def covers(self, t: Fraction) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Track:
    """Clips of one kind that never overlap, sorted by start."""

    id: str
    kind: TrackKind
    name: str
    clips: tuple[Clip, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ACCEPTS:
            raise TimelineError(f"track kind {self.kind!r} is not video, image or audio")
        for before, after in zip(self.clips, self.clips[1:], strict=False):
            if after.start < before.end:
                raise TimelineError(f"two clips overlap on track {self.name!r}")

    def with_clips(self, clips: list[Clip] | tuple[Clip, ...]) -> Track:
        """This track holding `clips` (sorted here; overlaps raise TimelineError)."""
        return replace(self, clips=tuple(sorted(clips, key=lambda c: c.start)))

    @property
    def end(self) -> Fraction:
        return self.clips[-1].end if self.clips else Fraction(0)


@dataclass(frozen=True)
class Timeline:
    """Tracks (visual ones drawn bottom first), the media they cut from, the frame rate and
    the picture size (None until the first visual clip sets it: DEFAULT_SIZE)."""

    tracks: tuple[Track, ...] = ()
    media: tuple[MediaItem, ...] = ()
    fps: Fraction = DEFAULT_FPS
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise TimelineError("the frame rate must be positive")
        media = self._media_by_id
        if len(media) != len(self.media):
            raise TimelineError("two media items share an id")
        ids = [t.id for t in self.tracks] + [c.id for _, c in self.clips()]
        if len(ids) != len(set(ids)):
            raise TimelineError("two tracks or clips share an id")
        for track in self.tracks:
            for clip in track.clips:
                item = media.get(clip.media_id)
                if item is None:
                    raise TimelineError(f"a clip on track {track.name!r} has no media")
                if item.kind not in ACCEPTS[track.kind]:
                    raise TimelineError(f"track {track.name!r} cannot hold {item.kind}")
                if item.duration is not None and clip.out_point > item.duration:
                    raise TimelineError(f"a clip reaches past the end of {item.name!r}")

    # ---- looking things up -------------------------------------------------------------

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the picture the timeline shows and exports."""
        return self.size or DEFAULT_SIZE

    @property
    def duration(self) -> Fraction:
        """Seconds from 0 to the end of the last clip."""
        return max((track.end for track in self.tracks), default=Fraction(0))

    def clips(self) -> Iterator[tuple[Track, Clip]]:
        """Every clip with its track, track by track."""
        for track in self.tracks:
            for clip in track.clips:
                yield track, clip

    @cached_property
    def _media_by_id(self) -> dict[str, MediaItem]:
        return {item.id: item for item in self.media}

    def item(self, media_id: str) -> MediaItem:
        try:
            return self._media_by_id[media_id]
        except KeyError:
            raise TimelineError(f"no media {media_id!r} in the timeline") from None

    def track(self, track_id: str) -> Track:
        for track in self.tracks:
            if track.id == track_id:
                return track
        raise TimelineError(f"no track {track_id!r} in the timeline")

    def find(self, clip_id: str) -> tuple[Track, Clip]:
        """The clip with that id and the track holding it."""
        for track, clip in self.clips():
            if clip.id == clip_id:
                return track, clip
        raise TimelineError(f"no clip {clip_id!r} in the timeline")

    # ---- new values --------------------------------------------------------------------

    def with_track(self, track: Track) -> Timeline:
        """This timeline with the track of the same id replaced by `track`."""
        tracks = tuple(track if t.id == track.id else t for t in self.tracks)
        return replace(self, tracks=tracks)

    def with_media(self, item: MediaItem) -> Timeline:
        """This timeline with `item` among its media (unchanged when it is there already)."""
        if item.id in self._media_by_id:
            return self
        return replace(self, media=(*self.media, item))


def as_time(value: Fraction | int | str) -> Fraction:
    """A time as an exact Fraction: ints and "num/den" texts are taken, floats refused
    (0.1 s is not exactly a binary float; use Fraction(1, 10))."""
    if isinstance(value, float):
        raise TypeError(f"times are exact fractions, not floats ({value!r})")
    return value if isinstance(value, Fraction) else Fraction(value)


def quantize(t: Fraction, fps: Fraction) -> Fraction:
    """`t` rounded to the nearest frame boundary at `fps` (halves round to even)."""
    return Fraction(round(Fraction(t) * fps)) / fps


class MediaStore:
    """The data of a document's media items by id (`doc.media`): arrays, or a file's path
    and what decodes it when first needed (app/model/timeline_media.py).

    It only grows, and never changes what an id holds, so the undo history and a snapshot
    saved in the background share it; its arrays are read-only. A project saves the data
    of the items its timeline lists.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._files: dict[str, tuple[Path, Callable[[], np.ndarray]]] = {}
        self._lock = threading.Lock()  # one decode at a time

    def __contains__(self, media_id: object) -> bool:
        return media_id in self._arrays or media_id in self._files

    def add(self, item: MediaItem, data: np.ndarray) -> None:
        """Keep `data` for `item` (its shape and type must be what the item says). The
        store keeps the array itself: do not change it afterwards."""
        dtype = np.float32 if item.kind == "audio" else np.uint8
        if data.shape != item.shape or data.dtype != dtype:
            raise ValueError(
                f"the data of {item.name!r} is {data.shape} {data.dtype}, "
                f"not {item.shape} {np.dtype(dtype)}"
            )
        view = np.ascontiguousarray(data).view()
        view.flags.writeable = False
        self._arrays.setdefault(item.id, view)

    def add_file(self, item: MediaItem, path: Path, load: Callable[[], np.ndarray]) -> None:
        """Keep `item`'s data in the file at `path`; `load()` decodes it when first needed."""
        self._files.setdefault(item.id, (Path(path), load))

    def file(self, media_id: str) -> Path | None:
        """The file holding an imported item's data (None: made in Atelier)."""
        found = self._files.get(media_id)
        return found[0] if found else None

    def data(self, item: MediaItem) -> np.ndarray:
        """`item`'s frames, pixels or samples (read-only), decoding its file the first time.
        Raises KeyError when the store lacks it; a decoding error when its file is
        unreadable."""
        found = self._arrays.get(item.id)
        if found is not None:
            return found
        _, load = self._files[item.id]
        with self._lock:
            if item.id not in self._arrays:
                self.add(item, load())
            return self._arrays[item.id]
