"""The Audio panel's edits as undoable commands, rendering a sound with its settings, and
placing a sound on the timeline; Qt-free.

Each edit is an `AudioEdit` (a `ValueEdit` of `doc.audio`, app/model/commands.py) pushed
on the document's History like every other edit: undo puts the old AudioLibrary back.
Edits only change settings; `render` applies them to the untouched source the same way
the timeline mixes a clip (app/model/timeline_render.py: linear fades, gain in dB), so a
sound dragged onto the timeline sounds there exactly as in the panel.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from fractions import Fraction

import numpy as np

from app.model import history_names as names
from app.model.audio_clips import (
    MAX_GAIN_DB,
    MIN_GAIN_DB,
    AudioClip,
    AudioError,
    AudioLibrary,
    on_samples,
)
from app.model.audio_loudness import DEFAULT_TARGET_LUFS, gain_to_target
from app.model.commands import Command, Macro, ValueEdit
from app.model.layers import new_id
from app.model.timeline import Clip, MediaStore, Timeline, Track
from app.model.timeline_edits import AddClip, AddMedia, AddTrack, SetFades, SetGain
from app.model.timeline_render import mix_audio


class AudioEdit(ValueEdit):
    """One undoable change of `doc.audio`; subclasses say what in `changed`."""

    attribute = "audio"

    def changed(self, library: AudioLibrary) -> AudioLibrary:
        """The library after this edit (AudioError when it cannot be made)."""
        raise NotImplementedError


class AddSound(AudioEdit):
    """Put a sound at the end of the list (its source's samples must be in `doc.media`)."""

    label = names.ADD_SOUND

    def __init__(self, clip: AudioClip) -> None:
        super().__init__()
        self.clip = clip

    def changed(self, library: AudioLibrary) -> AudioLibrary:
        if library.get(self.clip.id) is not None:
            raise AudioError(f"the sound {self.clip.name!r} is in the list already")
        return library.with_clip(self.clip)


class DeleteSound(AudioEdit):
    """Take a sound out of the list (its source stays in the document's media)."""

    label = names.DELETE_SOUND

    def __init__(self, clip_id: str) -> None:
        super().__init__()
        self.clip_id = clip_id

    def changed(self, library: AudioLibrary) -> AudioLibrary:
        return library.without(self.clip_id)


class _SoundEdit(AudioEdit):
    """An edit of one sound's settings: `remade(clip)` gives its new value."""

    def __init__(self, clip_id: str, merge_key: Hashable | None = None) -> None:
        super().__init__(merge_key)
        self.clip_id = clip_id

    def changed(self, library: AudioLibrary) -> AudioLibrary:
        return library.with_clip(self.remade(library.find(self.clip_id)))

    def remade(self, clip: AudioClip) -> AudioClip:
        raise NotImplementedError


class TrimSound(_SoundEdit):
    """Keep the source from `start` to `end` seconds (on its samples); the fades shorten
    to fit."""

    label = names.TRIM_SOUND

    def __init__(
        self, clip_id: str, start: Fraction, end: Fraction, merge_key: Hashable | None = None
    ) -> None:
        super().__init__(clip_id, merge_key)
        self.start, self.end = start, end

    def remade(self, clip: AudioClip) -> AudioClip:
        start, end = on_samples(self.start, clip.rate), on_samples(self.end, clip.rate)
        if not 0 <= start < end <= clip.source_duration:
            raise AudioError("keep some of the sound: its start before its end, within it")
        fade_in = min(clip.fade_in, end - start)
        fade_out = min(clip.fade_out, end - start - fade_in)
        return replace(
            clip, start=start, end=end, fade_in=fade_in, fade_out=fade_out, loudness_target=None
        )


class SetSoundFades(_SoundEdit):
    """A sound's fade in and fade out in seconds (together at most its trimmed length)."""

    label = names.CHANGE_SOUND_FADES

    def __init__(
        self,
        clip_id: str,
        fade_in: Fraction,
        fade_out: Fraction,
        merge_key: Hashable | None = None,
    ) -> None:
        super().__init__(clip_id, merge_key)
        self.fade_in, self.fade_out = fade_in, fade_out

    def remade(self, clip: AudioClip) -> AudioClip:
        fade_in = on_samples(self.fade_in, clip.rate)
        fade_out = on_samples(self.fade_out, clip.rate)
        return replace(clip, fade_in=fade_in, fade_out=fade_out, loudness_target=None)


class SetSoundGain(_SoundEdit):
    """A sound's gain in dB (MIN_GAIN_DB..MAX_GAIN_DB; -6 dB halves it)."""

    label = names.CHANGE_SOUND_GAIN

    def __init__(self, clip_id: str, gain_db: float, merge_key: Hashable | None = None) -> None:
        super().__init__(clip_id, merge_key)
        self.gain_db = float(gain_db)

    def remade(self, clip: AudioClip) -> AudioClip:
        return replace(clip, gain_db=self.gain_db, loudness_target=None)


class NormaliseSound(_SoundEdit):
    """Set a sound's gain so that it renders at `target` LUFS (its trim and fades as they
    are); made by `normalise`, which measures it."""

    label = names.NORMALISE_SOUND

    def __init__(self, clip_id: str, gain_db: float, target: float) -> None:
        super().__init__(clip_id)
        self.gain_db, self.target = gain_db, target

    def remade(self, clip: AudioClip) -> AudioClip:
        return replace(clip, gain_db=self.gain_db, loudness_target=self.target)


def normalise(
    clip: AudioClip, media: MediaStore, target: float = DEFAULT_TARGET_LUFS
) -> NormaliseSound:
    """The edit that brings `clip` to `target` LUFS, measured as ITU-R BS.1770-4 says on
    the sound as it renders at 0 dB (app/model/audio_loudness.py). AudioError when it is
    silent, shorter than 0.4 s, or needs more gain than MAX_GAIN_DB."""
    try:
        gain = gain_to_target(render(clip, media, gain_db=0.0), clip.rate, target)
    except ValueError as exc:  # LoudnessError, a ValueError
        raise AudioError(f"cannot normalise {clip.name!r}: {exc}") from None
    if not MIN_GAIN_DB <= gain <= MAX_GAIN_DB:
        raise AudioError(
            f"cannot normalise {clip.name!r} to {target:g} LUFS: it needs {gain:+.1f} dB, "
            f"beyond {MIN_GAIN_DB:g}..{MAX_GAIN_DB:+g} dB"
        )
    return NormaliseSound(clip.id, gain, target)


# ---- rendering -------------------------------------------------------------------------------


def as_timeline_clip(clip: AudioClip, start: Fraction = Fraction(0), clip_id: str = "") -> Clip:
    """The timeline clip that plays `clip` as the panel renders it, from `start`."""
    assert clip.end is not None
    return Clip(
        clip_id or clip.id,
        clip.item.id,
        start,
        clip.start,
        clip.end,
        fade_in=clip.fade_in,
        fade_out=clip.fade_out,
        gain_db=clip.gain_db,
    )


def render(clip: AudioClip, media: MediaStore, gain_db: float | None = None) -> np.ndarray:
    """The sound as it plays and exports: (C, N) float32 at its source's rate and channels,
    N its trimmed length in samples, faded, with its gain (or `gain_db`), within -1..1.
    The source is never changed."""
    if gain_db is not None:
        clip = replace(clip, gain_db=gain_db)
    track = Track("sound", "audio", "Sound", (as_timeline_clip(clip),))
    timeline = Timeline((track,), (clip.item,))
    return mix_audio(timeline, media, clip.rate, clip.item.channels)


# ---- onto the timeline -----------------------------------------------------------------------


def place_on_timeline(
    timeline: Timeline,
    clip: AudioClip,
    track_id: str | None = None,
    start: Fraction | None = None,
) -> tuple[Command, str]:
    """One undo step that puts `clip` on the timeline as it sounds in the panel (its trim,
    fades and gain) and the new clip's id: on track `track_id` from `start` when that is
    an audio track with room there, else at the same time on the first audio track with
    room, else at the end of the first audio track (a new one when there is none)."""
    commands: list[Command] = []
    track = _track_with_room(timeline, clip, track_id, start) if start is not None else None
    if track is not None:
        assert start is not None
        track_id = track.id
    else:
        audio = next((t for t in timeline.tracks if t.kind == "audio"), None)
        if audio is None:
            track_id, start = new_id(), Fraction(0)
            commands.append(AddTrack("audio", track_id=track_id))
        else:
            track_id, start = audio.id, audio.end
    clip_id = new_id()
    commands += [
        AddMedia(clip.item),
        AddClip(clip.item, track_id, start, clip.start, clip.end, clip_id=clip_id),
    ]
    if clip.fade_in or clip.fade_out:
        commands.append(SetFades(clip_id, clip.fade_in, clip.fade_out))
    if clip.gain_db:
        commands.append(SetGain(clip_id, clip.gain_db))
    return Macro(names.ADD_CLIP, commands), clip_id


def _track_with_room(
    timeline: Timeline, clip: AudioClip, track_id: str | None, start: Fraction
) -> Track | None:
    """The audio track `track_id`, else the first audio track, free from `start` for the
    sound's length (None: none is)."""
    audio = [t for t in timeline.tracks if t.kind == "audio"]
    end = start + clip.duration
    for track in [t for t in audio if t.id == track_id] + audio:
        if all(c.end <= start or c.start >= end for c in track.clips):
            return track
    return None
