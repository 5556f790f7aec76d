"""Generated video and sound waiting in the results strip, and applying one as a clip at
the end of the timeline; Qt-free.

A task whose outputs are VideoData or AudioData gives `clip_placement` as its request's
placement (app/model/requests.py): each such output becomes a `ClipCandidate`. Applying
one puts its media into the document's MediaStore and adds a clip of all of it at the end
of the first track that takes it (a new track when there is none), in one undo step.
`append_clip` is the same rule for media the Timeline panel adds (a file, a canvas layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from app.model import history_names as names
from app.model.commands import Command, Macro
from app.model.document import Document
from app.model.layers import new_id
from app.model.timeline import ACCEPTS, MediaItem, Timeline, Track, TrackKind
from app.model.timeline_edits import AddClip, AddMedia, AddTrack
from app.model.timeline_media import add_output, frame_rate
from engine.protocol import AudioData, VideoData

NAME_CHARS = 40


@dataclass(frozen=True, eq=False)
class ClipCandidate:
    """A job's video or sound, to be added to the timeline; titled after its task."""

    output: VideoData | AudioData
    title: str = "Clip"

    @property
    def kind(self) -> str:
        """ "video" or "audio"."""
        return "video" if isinstance(self.output, VideoData) else "audio"

    @property
    def recipe(self) -> dict | None:
        recipe = self.output.meta.get("recipe")
        return dict(recipe) if isinstance(recipe, dict) else None

    @property
    def duration(self) -> Fraction:
        """Seconds of video or sound."""
        if isinstance(self.output, VideoData):
            return len(self.output.frames) / frame_rate(self.output.fps)
        return Fraction(self.output.samples.shape[1], self.output.rate)

    @property
    def caption(self) -> str:
        """What the strip writes under it: "16 frames" or "3.2 s"."""
        if isinstance(self.output, VideoData):
            count = len(self.output.frames)
            return f"{count} frame{'s' if count != 1 else ''}"
        return f"{float(self.duration):.1f} s"

    def thumbnail(self) -> np.ndarray | None:
        """The first frame as (H, W, 4) uint8 RGBA (None for sound)."""
        if not isinstance(self.output, VideoData):
            return None
        first = self.output.frames[0]
        alpha = np.full((*first.shape[:2], 1), 255, np.uint8)
        return np.concatenate([first[..., :3], alpha], axis=2)

    def clip_name(self) -> str:
        """The media's name: the task's title and the prompt, cut short."""
        prompt = str((self.recipe or {}).get("params", {}).get("prompt", "")).strip()
        if len(prompt) > NAME_CHARS:
            prompt = prompt[: NAME_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
        return f"{self.title}: {prompt}" if prompt else self.title


def clip_placement(output: Any) -> ClipCandidate | None:
    """A request's placement for video and sound outputs: each becomes a ClipCandidate;
    anything else has no place here (None)."""
    if isinstance(output, VideoData) and len(output.frames) > 0:
        return ClipCandidate(output)
    if isinstance(output, AudioData) and output.samples.ndim == 2 and output.samples.shape[1]:
        return ClipCandidate(output)
    return None


def apply_clip_command(doc: Document, candidate: ClipCandidate) -> tuple[Command, str]:
    """The undoable command that adds the candidate's media to `doc.media` and a clip of
    it at the end of the timeline, and the new clip's id."""
    item = add_output(doc.media, candidate.output, candidate.clip_name())
    return append_clip(doc.timeline, item)


def append_clip(timeline: Timeline, item: MediaItem) -> tuple[Command, str]:
    """One undo step that adds `item` (its data already in the document's MediaStore) as
    a clip at the end of the first track of its kind, else the first that takes it, else
    a new track; and the new clip's id."""
    commands: list[Command] = []
    track = _track_for(timeline, item.kind)
    if track is None:
        track_id = new_id()
        kind: TrackKind = "audio" if item.kind == "audio" else "video"
        commands.append(AddTrack(kind, track_id=track_id))
        start = Fraction(0)
    else:
        track_id, start = track.id, track.end
    clip_id = new_id()
    commands += [AddMedia(item), AddClip(item, track_id, start, clip_id=clip_id)]
    return Macro(names.ADD_CLIP, commands), clip_id


def _track_for(timeline: Timeline, kind: str) -> Track | None:
    own = [t for t in timeline.tracks if t.kind == kind]
    takes = [t for t in timeline.tracks if kind in ACCEPTS[t.kind]]
    return (own or takes or [None])[0]
