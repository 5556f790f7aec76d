"""The Audio panel's sounds as values: each keeps its source whole with its edit settings
(trim, fades, gain, the loudness it was normalised to), and the document's list of them
(`doc.audio`); Qt-free.

Edits never change a sound's samples: an `AudioClip` names its source, a `MediaItem`
whose samples are in the document's MediaStore (`doc.media`, shared with the timeline),
and rendering (app/model/audio_edits.py `render`) applies its settings. Every time is a
`Fraction` of a second on the source's sample grid, so a trim is exact to the sample.
Like the timeline, `AudioLibrary` is a frozen value: an edit makes a new one and undo puts
the old one back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from app.model.timeline import MediaItem, as_time

SOUND_MIME = "application/x-atelier-sound"  # a drag of a sound from the Audio panel: its id
MIN_GAIN_DB, MAX_GAIN_DB = -60.0, 24.0  # the timeline's clip gain range


class AudioError(ValueError):
    """An edit a sound cannot take (a trim past its end, fades longer than it); the
    message is one sentence for the designer."""


def on_samples(t: Fraction | int, rate: int) -> Fraction:
    """Time `t` rounded to the nearest sample at `rate`."""
    return Fraction(round(as_time(t) * rate), rate)


@dataclass(frozen=True)
class AudioClip:
    """A sound in the Audio panel: `item`'s source from `start` to `end` (seconds; end None
    means the source's end), faded in and out over `fade_in` and `fade_out` seconds, with
    `gain_db` of gain. `loudness_target` is the LUFS the gain was last normalised to (None
    once another edit changes the loudness). `meta` is the JSON text of the job output's
    meta that files carry (its recipe, the model's licence; empty: not generated); its
    provenance record is the item's."""

    id: str
    item: MediaItem
    start: Fraction = Fraction(0)
    end: Fraction | None = None
    fade_in: Fraction = Fraction(0)
    fade_out: Fraction = Fraction(0)
    gain_db: float = 0.0
    loudness_target: float | None = None
    meta: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.item.kind != "audio" or self.item.duration is None:
            raise AudioError(f"{self.item.name!r} is not a sound")
        for name in ("start", "fade_in", "fade_out"):
            object.__setattr__(self, name, as_time(getattr(self, name)))
        end = self.item.duration if self.end is None else as_time(self.end)
        object.__setattr__(self, "end", end)
        if not 0 <= self.start < end <= self.item.duration:
            raise AudioError("a sound's trim must keep some of it, within its length")
        if self.fade_in < 0 or self.fade_out < 0 or self.fade_in + self.fade_out > self.duration:
            raise AudioError("the fades must fit within the trimmed sound")
        if not MIN_GAIN_DB <= self.gain_db <= MAX_GAIN_DB:
            raise AudioError(f"gain must be within {MIN_GAIN_DB:g}..{MAX_GAIN_DB:g} dB")

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def rate(self) -> int:
        assert self.item.rate is not None
        return self.item.rate

    @property
    def source_duration(self) -> Fraction:
        assert self.item.duration is not None
        return self.item.duration

    @property
    def duration(self) -> Fraction:
        """Seconds of the trimmed sound."""
        assert self.end is not None
        return self.end - self.start

    @property
    def first_sample(self) -> int:
        """The source sample the trimmed sound begins with."""
        return math.floor(self.start * self.rate)

    def provenance(self) -> dict[str, Any] | None:
        """The source's provenance record (None: not generated)."""
        return _json_object(self.item.provenance)

    def output_meta(self) -> dict[str, Any]:
        """What an export writes of it: the job output's meta and the provenance record
        (empty: not generated)."""
        meta = _json_object(self.meta) or {}
        record = self.provenance()
        return {**meta, "provenance": record} if record else meta


def _json_object(text: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def meta_text(meta: Mapping[str, Any]) -> str:
    """A job output's meta as the JSON an AudioClip keeps: all but the provenance record
    (its media item keeps that); empty when nothing is left."""
    kept = {key: value for key, value in meta.items() if key != "provenance"}
    return json.dumps(kept, sort_keys=True, default=str) if kept else ""


@dataclass(frozen=True)
class AudioLibrary:
    """The document's sounds, newest last."""

    clips: tuple[AudioClip, ...] = ()

    def __post_init__(self) -> None:
        ids = [clip.id for clip in self.clips]
        if len(ids) != len(set(ids)):
            raise AudioError("two sounds share an id")

    def find(self, clip_id: str) -> AudioClip:
        for clip in self.clips:
            if clip.id == clip_id:
                return clip
        raise AudioError(f"no sound {clip_id!r} in the document")

    def get(self, clip_id: str | None) -> AudioClip | None:
        return next((clip for clip in self.clips if clip.id == clip_id), None)

    def with_clip(self, clip: AudioClip) -> AudioLibrary:
        """This library with the sound of the same id replaced by `clip` (added at the end
        when there is none)."""
        if self.get(clip.id) is None:
            return replace(self, clips=(*self.clips, clip))
        return replace(self, clips=tuple(clip if c.id == clip.id else c for c in self.clips))

    def without(self, clip_id: str) -> AudioLibrary:
        self.find(clip_id)
        return replace(self, clips=tuple(c for c in self.clips if c.id != clip_id))

    @property
    def media(self) -> tuple[MediaItem, ...]:
        """The sources of its sounds, each once, in order."""
        seen: dict[str, MediaItem] = {}
        for clip in self.clips:
            seen.setdefault(clip.item.id, clip.item)
        return tuple(seen.values())
