"""Reference layers at work: turning a pixel layer into a reference picture and back, its
weight and IP-Adapter, and the pictures a job takes from the document. Qt-free.

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
    layer = reference_layer(doc, layer_id)
    return SwapLayer(RasterLayer(**_raster_fields(layer)), names.CONVERT_TO_PICTURE)


def _raster_fields(layer: RasterLayer) -> dict[str, object]:
    """What a pixel layer is made of (id, name, pixels, visibility...), shared as it is."""
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(RasterLayer)}


class SetReferenceValue(Command):
    """Set the reference layer's `attribute` to `value`; undo puts the old value back, and
    steps with the same non-None merge_key become one."""

    attribute = ""

    def __init__(self, layer_id: str, value: object, merge_key: Hashable | None = None) -> None:
        self.layer_id, self.value, self.merge_key = layer_id, value, merge_key
        self.before: object = None

    def do(self, doc: Document) -> Rect | None:
        layer = reference_layer(doc, self.layer_id)
        self.before = getattr(layer, self.attribute)
        setattr(layer, self.attribute, self.value)
        return None

    def undo(self, doc: Document) -> Rect | None:
        setattr(reference_layer(doc, self.layer_id), self.attribute, self.before)
        return None

    def merge(self, later: Command) -> bool:
        if type(later) is not type(self) or later.layer_id != self.layer_id:
            return False
        self.value = later.value
        return True


class SetReferenceWeight(SetReferenceValue):
    """Change a reference layer's weight; a slider drag (one merge_key) is one undo step."""

    label = names.CHANGE_REFERENCE_WEIGHT
    attribute = "weight"

    def __init__(self, layer_id: str, weight: float, merge_key: Hashable | None = None) -> None:
        if not 0.0 <= weight <= MAX_CONTROL_STRENGTH:
            raise ValueError(f"a reference's weight must be within 0..{MAX_CONTROL_STRENGTH:g}")
        super().__init__(layer_id, weight, merge_key)


class SetReferenceModel(SetReferenceValue):
    """Choose a reference layer's IP-Adapter by its store name ("": the first installed that
    fits the checkpoint)."""

    label = names.CHANGE_REFERENCE_MODEL
    attribute = "model"

    def __init__(self, layer_id: str, model: str) -> None:
        super().__init__(layer_id, model)


def reference_layer(doc: Document, layer_id: str) -> ReferenceLayer:
    """The reference layer `layer_id`; ValueError when that layer is not one."""
    layer = doc.find(layer_id)
    if not isinstance(layer, ReferenceLayer):
        raise ValueError(f"layer {layer.name!r} is not a reference")
    return layer


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
