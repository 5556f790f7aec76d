"""The shape of a project's manifest.json, checked before anything is built from it.

pydantic models with strict types: canvas sides within MAX_CANVAS_SIDE, finite opacity in
0..1, ids that are safe as file names, a layer tree of known kinds (control layers with a
known control kind and settings in range, reference layers with a weight in range). Unknown keys are
ignored (a newer Atelier may add some); `tree_problem` bounds the tree's depth and size.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
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
