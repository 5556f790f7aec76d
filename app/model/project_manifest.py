"""The shape of a project's manifest.json, checked before anything is built from it.

pydantic models with strict types: canvas sides within MAX_CANVAS_SIDE, finite opacity in
0..1, ids that are safe as file names, a layer tree of known kinds (control layers with a
known control kind and settings in range, reference layers with a weight in range), a
timeline of bounded tracks, clips and media with times as exact "num/den" fractions, the
Audio panel's sounds with their settings.
Unknown keys are ignored (a newer Atelier may add some); `tree_problem` bounds the tree's
depth and size.
"""

from __future__ import annotations

from fractions import Fraction as _Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
)

from app.model.document import MAX_CANVAS_SIDE
from app.model.layers import CONTROL_LABELS, MAX_CONTROL_STRENGTH, BlendMode

MAX_LAYERS = 4_000  # layers, groups and masks together
MAX_GROUP_DEPTH = 32

Id = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")]
Side = Annotated[int, Field(strict=True, ge=1, le=MAX_CANVAS_SIDE)]
Offset = Annotated[int, Field(strict=True, ge=0, lt=MAX_CANVAS_SIDE)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PixelsEntry(_Entry):
    """Where a layer's PNG is and which part of the canvas it covers."""

    file: StrictStr
    x: Offset
    y: Offset
    width: Side
    height: Side


class _LayerEntry(_Entry):
    id: Id
    name: StrictStr
    visible: StrictBool
    opacity: Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]
    blend: BlendMode


class MaskEntry(_LayerEntry):
    type: Literal["mask"]
    fill: Annotated[int, Field(strict=True, ge=0, le=255)]
    pixels: PixelsEntry | None


class RasterEntry(_LayerEntry):
    type: Literal["raster"]
    recipe: dict[str, Any] | None = None
    pixels: PixelsEntry | None
    mask: MaskEntry | None = None


Fraction = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]


class ControlSettingsEntry(_Entry):
    """A control layer's settings (app.model.layers.ControlSettings)."""

    kind: Literal[tuple(CONTROL_LABELS)]  # type: ignore[valid-type]
    model: StrictStr = ""
    strength: Annotated[
        float, Field(strict=True, ge=0, le=MAX_CONTROL_STRENGTH, allow_inf_nan=False)
    ] = 1.0
    start: Fraction = 0.0
    end: Fraction = 1.0


class ControlEntry(_LayerEntry):
    type: Literal["control"]
    control: ControlSettingsEntry
    pixels: PixelsEntry | None
    mask: MaskEntry | None = None


class ReferenceEntry(_LayerEntry):
    type: Literal["reference"]
    weight: Annotated[float, Field(strict=True, ge=0, le=MAX_CONTROL_STRENGTH, allow_inf_nan=False)]
    model: StrictStr = ""  # its IP-Adapter; older projects have none ("": automatic)
    pixels: PixelsEntry | None
    mask: MaskEntry | None = None


class GroupEntry(_LayerEntry):
    type: Literal["group"]
    children: list[LayerEntry]
    mask: MaskEntry | None = None


LayerEntry = Annotated[
    MaskEntry | RasterEntry | ControlEntry | ReferenceEntry | GroupEntry,
    Field(discriminator="type"),
]


# ---- the timeline (app/model/timeline.py) ----------------------------------------------------

MAX_TRACKS = 256
MAX_CLIPS = 100_000  # on one track
MAX_MEDIA = 4_000  # media items; each is one file in the project
MAX_TIME = 10**7  # seconds (115 days), and the largest numerator or denominator is 10**15
MAX_FRAMES = 10**7
MAX_SAMPLES = 10**10
MAX_RATE = 768_000  # audio samples per second
MAX_CHANNELS = 64


def _time(value: Any) -> _Fraction:
    """A time as a "num/den" text (or an integer text) or a [num, den] pair of integers,
    0..MAX_TIME seconds, with terms of at most 15 digits."""
    if isinstance(value, str) and len(value) <= 40:
        num, _, den = value.partition("/")
        terms = [num, den or "1"]
        if not all(t.isascii() and t.isdigit() for t in terms):
            raise ValueError('a time is written "num/den"')
        value = [int(t) for t in terms]
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(type(t) is int and 0 <= t <= 10**15 for t in value)
        and value[1] > 0
    ):
        raise ValueError('a time is "num/den" or [num, den] with 0 <= num and 0 < den')
    time = _Fraction(value[0], value[1])
    if time > MAX_TIME:
        raise ValueError(f"a time must be at most {MAX_TIME} s")
    return time


Time = Annotated[_Fraction, BeforeValidator(_time)]


MAX_PROVENANCE = 256 * 1024  # characters of a generated media item's provenance JSON
Gain = Annotated[float, Field(strict=True, ge=-60, le=24, allow_inf_nan=False)]  # dB


class MediaItemEntry(_Entry):
    """A media item and where its data is: `media/<id>.npz` (made in Atelier: one array
    "data", compressed) or `media/<id><suffix>` (an imported file, as it was)."""

    id: Id
    kind: Literal["video", "image", "audio"]
    name: Annotated[str, StringConstraints(strict=True, max_length=1000)]
    width: Side | None = None
    height: Side | None = None
    fps: Time | None = None
    rate: Annotated[int, Field(strict=True, ge=1, le=MAX_RATE)] | None = None
    channels: Annotated[int, Field(strict=True, ge=0, le=MAX_CHANNELS)] = 0
    length: Annotated[int, Field(strict=True, ge=0, le=MAX_SAMPLES)] = 0
    file: Annotated[str, StringConstraints(strict=True, max_length=4096)] | None = None
    suffix: Annotated[str, StringConstraints(strict=True, pattern=r"^\.[a-z0-9]{1,5}$")] | None = (
        None  # an imported file's; None: the data is media/<id>.npz
    )
    provenance: Annotated[str, StringConstraints(strict=True, max_length=MAX_PROVENANCE)] = ""


class ClipEntry(_Entry):
    id: Id
    media: Id
    start: Time
    in_point: Time
    out_point: Time
    opacity: Fraction = 1.0
    fade_in: Time = _Fraction(0)
    fade_out: Time = _Fraction(0)
    gain_db: Gain = 0.0


class TrackEntry(_Entry):
    id: Id
    kind: Literal["video", "image", "audio"]
    name: Annotated[str, StringConstraints(strict=True, max_length=1000)]
    clips: Annotated[list[ClipEntry], Field(max_length=MAX_CLIPS)]


class TimelineEntry(_Entry):
    fps: Time
    width: Side | None = None
    height: Side | None = None
    tracks: Annotated[list[TrackEntry], Field(max_length=MAX_TRACKS)]
    media: Annotated[list[MediaItemEntry], Field(max_length=MAX_MEDIA)]


# ---- the Audio panel's sounds (app/model/audio_clips.py) -------------------------------------

MAX_SOUNDS = 4_000


class SoundEntry(_Entry):
    """A sound: its source (a media item of the timeline's or the audio's list) and its
    settings."""

    id: Id
    media: Id
    start: Time
    end: Time
    fade_in: Time = _Fraction(0)
    fade_out: Time = _Fraction(0)
    gain_db: Gain = 0.0
    loudness_target: (
        Annotated[float, Field(strict=True, ge=-70, le=0, allow_inf_nan=False)] | None
    ) = None
    meta: Annotated[str, StringConstraints(strict=True, max_length=MAX_PROVENANCE)] = ""


class AudioEntry(_Entry):
    clips: Annotated[list[SoundEntry], Field(max_length=MAX_SOUNDS)]
    media: Annotated[list[MediaItemEntry], Field(max_length=MAX_MEDIA)]  # not the timeline's


class DocumentEntry(_Entry):
    id: Id
    width: Side
    height: Side


class ProjectExtra(_Entry):
    """What other parts of Atelier keep in a project (unknown keys are ignored)."""

    recovery_of: StrictStr | None = None


class Manifest(_Entry):
    """manifest.json, checked: what `load_project` builds a document from."""

    format: Literal["atelier-project"]
    version: StrictInt
    document: DocumentEntry
    layers: list[LayerEntry]
    selection: StrictStr | None = None
    extra: ProjectExtra = ProjectExtra()
    timeline: TimelineEntry | None = None  # none: an empty timeline
    audio: AudioEntry | None = None  # none: no sounds in the Audio panel


GroupEntry.model_rebuild()


def tree_problem(manifest: Manifest) -> str | None:
    """Why the layer tree is unusable (groups nested more than MAX_GROUP_DEPTH deep, more
    than MAX_LAYERS layers), or None."""
    count, stack = 0, [(entry, 1) for entry in manifest.layers]
    while stack:
        entry, depth = stack.pop()
        count += 1 + (getattr(entry, "mask", None) is not None)
        if depth > MAX_GROUP_DEPTH:
            return f"its layer groups are nested more than {MAX_GROUP_DEPTH} deep"
        if count > MAX_LAYERS:
            return f"it has more than {MAX_LAYERS} layers"
        if isinstance(entry, GroupEntry):
            stack.extend((child, depth + 1) for child in entry.children)
    return None
