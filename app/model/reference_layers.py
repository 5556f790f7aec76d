"""Reference layers at work: turning a pixel layer into a reference picture and back, its
weight, and the pictures a job takes from the document. Qt-free.

A reference layer keeps the layer's id, name, pixels and visibility; only its kind changes,
so "Use as reference" is one undoable swap of the layer object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

import numpy as np

from app.model import history_names as names
from app.model.commands import Command
from app.model.control_layers import shown_layers
from app.model.document import Document
from app.model.layers import (
    MAX_CONTROL_STRENGTH,
    Layer,
    RasterLayer,
    ReferenceLayer,
    SteeringLayer,
)
from app.model.tiles import Rect

DEFAULT_WEIGHT = 0.6


class SwapLayer(Command):
    """Put `layer` where the layer with the same id is; undo puts the old one back."""

    def __init__(self, layer: Layer, label: str) -> None:
        self.other, self.label = layer, label

    def do(self, doc: Document) -> Rect | None:
        self.other = doc.replace(self.other.id, self.other)
        return self.other.bounds()

    undo = do


def use_as_reference(doc: Document, layer_id: str) -> SwapLayer:
    """The command that makes a pixel layer a reference picture (weight DEFAULT_WEIGHT)."""
    layer = doc.find(layer_id)
    if not isinstance(layer, RasterLayer) or isinstance(layer, SteeringLayer):
        raise ValueError(f"layer {layer.name!r} is not a pixel layer to use as a reference")
    reference = ReferenceLayer(**{**_raster_fields(layer), "recipe": None}, weight=DEFAULT_WEIGHT)
    return SwapLayer(reference, names.CONVERT_TO_REFERENCE)


def use_as_picture(doc: Document, layer_id: str) -> SwapLayer:
    """The command that makes a reference layer an ordinary pixel layer again."""
    layer = doc.find(layer_id)
    if not isinstance(layer, ReferenceLayer):
        raise ValueError(f"layer {layer.name!r} is not a reference")
    return SwapLayer(RasterLayer(**_raster_fields(layer)), names.CONVERT_TO_PICTURE)


def _raster_fields(layer: RasterLayer) -> dict[str, object]:
    """What a pixel layer is made of (id, name, pixels, visibility...), shared as it is."""
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(RasterLayer)}


class SetReferenceWeight(Command):
    """Change a reference layer's weight; a slider drag (one merge_key) is one undo step."""

    label = names.CHANGE_REFERENCE_WEIGHT

    def __init__(self, layer_id: str, weight: float, merge_key: Hashable | None = None) -> None:
        if not 0.0 <= weight <= MAX_CONTROL_STRENGTH:
            raise ValueError(f"a reference's weight must be within 0..{MAX_CONTROL_STRENGTH:g}")
        self.layer_id, self.weight, self.merge_key = layer_id, weight, merge_key
        self.before: float | None = None

    def do(self, doc: Document) -> Rect | None:
        layer = self._layer(doc)
        self.before, layer.weight = layer.weight, self.weight
        return None

    def undo(self, doc: Document) -> Rect | None:
        assert self.before is not None
        self._layer(doc).weight = self.before
        return None

    def _layer(self, doc: Document) -> ReferenceLayer:
        layer = doc.find(self.layer_id)
        if not isinstance(layer, ReferenceLayer):
            raise ValueError(f"layer {layer.name!r} is not a reference")
        return layer

    def merge(self, later: Command) -> bool:
        if not isinstance(later, SetReferenceWeight) or later.layer_id != self.layer_id:
            return False
        self.weight = later.weight
        return True


def active_references(doc: Document) -> list[ReferenceLayer]:
    """The reference layers that steer a job now: shown (with every group above them) and
    holding some pixels; bottom first."""
    return [
        layer
        for layer in shown_layers(doc.layers)
        if isinstance(layer, ReferenceLayer) and layer.pixels.tiles
    ]


def reference_picture(layer: ReferenceLayer) -> np.ndarray:
    """The layer's picture: (h, w, 3) uint8 RGB of its content's bounds, transparent parts
    over white."""
    box = layer.pixels.bbox() or layer.pixels.rect
    rgba = layer.pixels.read(box).astype(np.float32)
    alpha = rgba[..., 3:4] / 255
    rgb = rgba[..., :3] * alpha + 255 * (1 - alpha)
    return (rgb + 0.5).astype(np.uint8)
