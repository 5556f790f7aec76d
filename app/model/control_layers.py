"""Control layers at work: each one's control map (cached), the controls a job takes from the
document, and the commands that add, convert and change control layers. Qt-free.

A control layer's map is its kind's preprocessor (plugins.diffusion.control_maps) run on the
layer's whole pixels, so a map made from a photo (canny, line art) sees the whole picture.
It is computed again only when the pixels or the kind change: the cache keys each map by
a checksum of the layer's tiles, so an in-place brush stroke, an undo or a move all count.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np

from app.model import history_names as names
from app.model.commands import AddLayer, Command
from app.model.document import Document
from app.model.layers import (
    CONTROL_LABELS,
    ControlLayer,
    ControlSettings,
    GroupLayer,
    Layer,
    RasterLayer,
)
from app.model.tiles import Rect, TiledRaster
from plugins.diffusion.control_maps import control_map

MAP_CACHE_SIZE = 16  # maps kept (one per control layer; a few canvases' worth)
SETTINGS = ("kind", "model", "strength", "start", "end")

_maps: OrderedDict[str, tuple[Hashable, np.ndarray]] = OrderedDict()


# ---- maps ------------------------------------------------------------------------------------


def control_map_of(layer: ControlLayer) -> np.ndarray:
    """The layer's control map, (h, w, 3) uint8 over the whole canvas (read-only: shared by
    the canvas preview and every request until the pixels or the kind change)."""
    key = _fingerprint(layer)
    cached = _maps.get(layer.id)
    if cached is not None and cached[0] == key:
        _maps.move_to_end(layer.id)
        return cached[1]
    made = control_map(layer.control.kind, layer.pixels.to_array())
    made.setflags(write=False)
    _maps[layer.id] = (key, made)
    while len(_maps) > MAP_CACHE_SIZE:
        _maps.popitem(last=False)
    return made


def cached_map(layer: ControlLayer) -> np.ndarray | None:
    """The layer's map when it is made already for its pixels and kind as they are now
    (cheap: a checksum, no preprocessing); None when it would have to be made again."""
    cached = _maps.get(layer.id)
    return cached[1] if cached is not None and cached[0] == _fingerprint(layer) else None


def _fingerprint(layer: ControlLayer) -> Hashable:
    """What the map depends on: the kind, the canvas size and each tile's checksum."""
    raster = layer.pixels
    tiles = tuple(sorted((key, zlib.crc32(tile)) for key, tile in raster.tiles.items()))
    return layer.control.kind, raster.size, tiles


def map_crop(layer: ControlLayer, rect: Rect) -> np.ndarray:
    """The layer's map inside `rect` (canvas pixels), black where `rect` leaves the canvas
    (an outpaint's new border, a picture larger than a blank canvas)."""
    full = control_map_of(layer)
    out = np.zeros((rect.h, rect.w, 3), np.uint8)
    inside = rect.intersect(Rect(0, 0, full.shape[1], full.shape[0]))
    if not inside.is_empty:
        out[inside.slices(rect.x, rect.y)] = full[inside.slices()]
    return out


def active_controls(doc: Document) -> list[ControlLayer]:
    """The control layers that steer a job now: shown (with every group above them) and
    holding some pixels; bottom first."""
    return [
        layer
        for layer in shown_layers(doc.layers)
        if isinstance(layer, ControlLayer) and layer.pixels.tiles
    ]


def shown_layers(layers: list[Layer]) -> Iterator[Layer]:
    """The layers shown, with every group above them shown too, bottom first."""
    for layer in layers:
        if layer.visible:
            yield layer
            if isinstance(layer, GroupLayer):
                yield from shown_layers(layer.children)


# ---- commands --------------------------------------------------------------------------------


def new_control_layer(size: tuple[int, int], kind: str, count: int = 1) -> ControlLayer:
    """An empty control layer of `kind` for a canvas of `size`, named "Scribble control"
    (with a number after the first one)."""
    label = ControlSettings(kind).label
    name = f"{label} control" if count <= 1 else f"{label} control {count}"
    return ControlLayer.blank(size, name=name, control=ControlSettings(kind))


def add_control_layer(
    doc: Document, kind: str, group_id: str | None = None, index: int | None = None
) -> AddLayer:
    """The command that adds an empty control layer of `kind` (above `index` in a group)."""
    count = 1 + sum(
        isinstance(lay, ControlLayer) and lay.control.kind == kind for lay in doc.walk()
    )
    layer = new_control_layer(doc.size, kind, count)
    return AddLayer(layer, group_id, index, names.ADD_CONTROL_LAYER)


def convert_to_control(
    doc: Document, layer_id: str, kind: str, pixels: TiledRaster | None = None
) -> AddLayer:
    """The command that adds a control layer of `kind` holding a copy of a pixel layer's
    pixels (shared tiles), or `pixels` made from them (a photo's depth map), just above
    it; the layer itself stays as it is."""
    source = doc.find(layer_id)
    if not isinstance(source, RasterLayer) or isinstance(source, ControlLayer):
        raise ValueError(f"layer {source.name!r} is not a pixel layer to make a control from")
    group, index = doc.position(layer_id)
    control = ControlLayer(
        pixels=source.pixels.copy() if pixels is None else pixels,
        name=f"{CONTROL_LABELS[kind]} of {source.name}",
        control=ControlSettings(kind),
    )
    group_id = None if group is doc.root else group.id
    return AddLayer(control, group_id, index + 1, names.CONVERT_TO_CONTROL_LAYER)


class SetControl(Command):
    """Change a control layer's settings (kind, model, strength, start, end). Give a
    merge_key (one per slider drag) to make the steps of a drag one undo step."""

    def __init__(self, layer_id: str, merge_key: Hashable | None = None, **changes: Any) -> None:
        unknown = set(changes) - set(SETTINGS)
        if unknown or not changes:
            raise ValueError(
                f"can set {', '.join(SETTINGS)}; got {', '.join(changes) or 'nothing'}"
            )
        self.layer_id, self.changes, self.merge_key = layer_id, changes, merge_key
        self.label = names.control_settings(set(changes))
        self.before: ControlSettings | None = None

    def do(self, doc: Document) -> Rect | None:
        layer = self._layer(doc)
        new = ControlSettings(**{**_settings_dict(layer.control), **self.changes})
        self.before, layer.control = layer.control, new
        return self._shown_change(doc)

    def undo(self, doc: Document) -> Rect | None:
        assert self.before is not None
        self._layer(doc).control = self.before
        return self._shown_change(doc)

    def _shown_change(self, doc: Document) -> Rect | None:
        """What the canvas redraws: all of it for a new kind (its map may differ anywhere),
        nothing for the other settings (they do not show)."""
        return doc.rect if "kind" in self.changes else None

    def _layer(self, doc: Document) -> ControlLayer:
        layer = doc.find(self.layer_id)
        if not isinstance(layer, ControlLayer):
            raise ValueError(f"layer {layer.name!r} is not a control layer")
        return layer

    def merge(self, later: Command) -> bool:
        if not isinstance(later, SetControl) or later.layer_id != self.layer_id:
            return False
        self.changes = {**self.changes, **later.changes}
        self.label = names.control_settings(set(self.changes))
        return True


def _settings_dict(settings: ControlSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in SETTINGS}
