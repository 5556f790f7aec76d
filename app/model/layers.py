"""Layers of a document: raster (pixels + recipe), control (pixels + control settings),
reference (a picture + its weight), group (children) and mask layers."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from app.model.tiles import Rect, TiledRaster, union_rects
from engine.control_models import CONTROL_KINDS


class BlendMode(StrEnum):
    """How a layer's colours combine with what is below it (W3C compositing formulas)."""

    NORMAL = "normal"
    MULTIPLY = "multiply"
    SCREEN = "screen"
    OVERLAY = "overlay"
    DARKEN = "darken"
    LIGHTEN = "lighten"


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(eq=False)
class Layer:
    """What every layer has: a stable id, a name, visibility, opacity and a blend mode."""

    name: str = "Layer"
    visible: bool = True
    opacity: float = 1.0
    blend: BlendMode = BlendMode.NORMAL
    id: str = field(default_factory=new_id)

    def __post_init__(self) -> None:
        self.blend = BlendMode(self.blend)
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be within 0..1, got {self.opacity}")

    def duplicate(self) -> Layer:
        """A copy with a new id (tiles are shared copy-on-write, so this is cheap)."""
        twin = self.snapshot()
        for layer in twin.walk():
            layer.id = new_id()
        twin.name = f"{self.name} copy"
        return twin

    def snapshot(self) -> Layer:
        """An independent copy with the same ids, sharing the immutable tiles."""
        raise NotImplementedError

    def walk(self) -> Iterator[Layer]:
        """This layer, then (for groups) its descendants, and attached masks."""
        yield self

    def bounds(self) -> Rect | None:
        """Where this layer may hold visible pixels (tile-granular); None if empty."""
        return None


@dataclass(eq=False)
class MaskLayer(Layer):
    """A single-channel 0..255 mask: a layer mask (attached to a layer) or a painted mask
    (e.g. for inpainting) that is not composited into the image."""

    pixels: TiledRaster = field(default_factory=lambda: TiledRaster(1, 1, 1))
    name: str = "Mask"

    @classmethod
    def blank(cls, size: tuple[int, int], fill: int = 0, **props: Any) -> MaskLayer:
        """An empty mask; fill=255 reveals everything (the usual layer mask)."""
        return cls(pixels=TiledRaster(size[0], size[1], 1, fill), **props)

    @classmethod
    def from_array(cls, mask: np.ndarray, fill: int = 0, **props: Any) -> MaskLayer:
        return cls(pixels=TiledRaster.from_array(mask, fill), **props)

    def snapshot(self) -> MaskLayer:
        return dataclasses.replace(self, pixels=self.pixels.copy())

    def bounds(self) -> Rect | None:
        return self.pixels.rect if self.pixels.fill else self.pixels.tiles_bbox()


@dataclass(eq=False)
class RasterLayer(Layer):
    """Pixels (RGBA, straight alpha) plus the recipe that generated them, if any.

    recipe: {"task", "version", "params", "model": {"name", "hash"}, "seed", ...}, JSON-able;
    kept so "regenerate this layer" and "reuse settings" work, also after save and reopen.
    """

    pixels: TiledRaster = field(default_factory=lambda: TiledRaster(1, 1))
    recipe: dict[str, Any] | None = None
    mask: MaskLayer | None = None

    @classmethod
    def blank(cls, size: tuple[int, int], **props: Any) -> RasterLayer:
        return cls(pixels=TiledRaster(size[0], size[1]), **props)

    @classmethod
    def from_array(
        cls,
        rgba: np.ndarray,
        size: tuple[int, int] | None = None,
        x: int = 0,
        y: int = 0,
        **props: Any,
    ) -> RasterLayer:
        """A layer of canvas `size` (default: the image's) with `rgba` placed at (x, y)."""
        if size is None or (size == (rgba.shape[1], rgba.shape[0]) and x == y == 0):
            return cls(pixels=TiledRaster.from_array(_rgba(rgba)), **props)
        layer = cls.blank(size, **props)
        layer.pixels.write(x, y, _rgba(rgba))
        layer.pixels.clear_dirty()
        return layer

    def snapshot(self) -> RasterLayer:
        mask = self.mask.snapshot() if self.mask else None
        recipe = copy.deepcopy(self.recipe)
        return dataclasses.replace(self, pixels=self.pixels.copy(), recipe=recipe, mask=mask)

    def walk(self) -> Iterator[Layer]:
        yield self
        if self.mask is not None:
            yield self.mask

    def bounds(self) -> Rect | None:
        return self.pixels.tiles_bbox()


# The kinds of control a control layer can be (engine.control_models.CONTROL_KINDS, the
# one list), with their names in menus.
CONTROL_LABELS = dict(
    zip(
        CONTROL_KINDS,
        ("Scribble", "Line art", "Soft edge", "Canny", "Depth", "Pose"),
        strict=True,
    )
)
MAX_CONTROL_STRENGTH = 2.0


@dataclass(frozen=True)
class ControlSettings:
    """How a control layer steers a job: its kind, its model ("" = automatic: the first
    installed for the checkpoint's family), its strength and the fractions of the denoising
    steps it acts in (start..end)."""

    kind: str = "scribble"
    model: str = ""
    strength: float = 1.0
    start: float = 0.0
    end: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_LABELS:
            raise ValueError(
                f"unknown control kind {self.kind!r}; one of {', '.join(CONTROL_LABELS)}"
            )
        if not 0.0 <= self.strength <= MAX_CONTROL_STRENGTH:
            raise ValueError(f"control strength must be within 0..{MAX_CONTROL_STRENGTH:g}")
        if not 0.0 <= self.start <= self.end <= 1.0:
            raise ValueError("a control's steps must run from start to end within 0..1")

    @property
    def label(self) -> str:
        """The kind as menus name it: "Line art"."""
        return CONTROL_LABELS[self.kind]


@dataclass(eq=False)
class SteeringLayer(RasterLayer):
    """Pixels that steer generation instead of being part of the picture: never in the
    composite (export, copy merged, the pictures jobs send), never merged; each shown one
    with pixels goes with every job (plugins.diffusion.requests)."""


@dataclass(eq=False)
class ControlLayer(SteeringLayer):
    """Pixels the designer draws or imports, turned into a control map (its kind's
    preprocessor, app.model.control_layers) that steers where things go. The canvas shows
    its map as a preview; each shown control layer becomes one control of a job."""

    control: ControlSettings = field(default_factory=ControlSettings)
    name: str = "Control"


@dataclass(eq=False)
class ReferenceLayer(SteeringLayer):
    """A picture whose style or subject steers a job (an IP-Adapter reference image) by
    `weight` (0..MAX_CONTROL_STRENGTH), through the IP-Adapter `model` ("": the first
    installed that fits the checkpoint). Its pixels are the picture; the canvas does not
    show it (its thumbnail does)."""

    weight: float = 0.6
    model: str = ""
    name: str = "Reference"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.weight <= MAX_CONTROL_STRENGTH:
            raise ValueError(f"a reference's weight must be within 0..{MAX_CONTROL_STRENGTH:g}")


@dataclass(eq=False)
class GroupLayer(Layer):
    """Child layers (bottom first) composited on their own, then onto what is below."""

    children: list[Layer] = field(default_factory=list)
    mask: MaskLayer | None = None
    name: str = "Group"

    def snapshot(self) -> GroupLayer:
        mask = self.mask.snapshot() if self.mask else None
        kids = [child.snapshot() for child in self.children]
        return dataclasses.replace(self, children=kids, mask=mask)

    def walk(self) -> Iterator[Layer]:
        yield self
        if self.mask is not None:
            yield self.mask
        for child in self.children:
            yield from child.walk()

    def bounds(self) -> Rect | None:
        return union_rects(c.bounds() for c in self.children if not isinstance(c, MaskLayer))


def _rgba(pixels: np.ndarray) -> np.ndarray:
    """(h, w, 4) uint8 from RGBA, RGB or grey uint8 pixels."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    if pixels.shape[2] == 3:
        alpha = np.full(pixels.shape[:2] + (1,), 255, np.uint8)
        pixels = np.concatenate([pixels, alpha], axis=2)
    if pixels.shape[2] != 4:
        raise ValueError(f"expected RGBA, RGB or grey pixels, got shape {pixels.shape}")
    return pixels
