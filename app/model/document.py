"""The document: canvas size, the layer tree, the selection; find layers by id, composite."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from app.model.audio_clips import AudioLibrary
from app.model.compositing import composite
from app.model.layers import GroupLayer, Layer, RasterLayer, new_id
from app.model.selection import Selection
from app.model.tiles import Rect, union_rects
from app.model.timeline import MediaStore, Timeline

MAX_CANVAS_SIDE = 16384  # the largest canvas File > New makes and a project may hold


class LayerNotFound(KeyError):
    """No layer with that id in the document."""


class Document:
    """A canvas of `size` (width, height) holding a tree of layers (bottom first).

    Edit it through commands (app.model.commands) pushed on a History, so every change can
    be undone; the methods here are the primitives those commands use. `revision` grows
    with every change (autosave watches it). `timeline` is the video timeline (a value,
    app/model/timeline.py, replaced by its edits), `audio` the Audio panel's sounds (a
    value, app/model/audio_clips.py) and `media` the store of both's media data.
    """

    def __init__(
        self,
        size: tuple[int, int],
        layers: list[Layer] | None = None,
        timeline: Timeline | None = None,
        *,
        media: MediaStore | None = None,
        id: str | None = None,
        audio: AudioLibrary | None = None,
    ) -> None:
        width, height = size
        if width <= 0 or height <= 0:
            raise ValueError(f"a document needs a positive size, got {width}x{height}")
        self.size = (int(width), int(height))
        self.root = GroupLayer(name="root", children=list(layers or []))
        self.timeline = timeline if timeline is not None else Timeline()
        self.media = media if media is not None else MediaStore()
        self.audio = audio if audio is not None else AudioLibrary()
        self.selection: Selection | None = None
        self.id = id or new_id()
        self.revision = 0

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def rect(self) -> Rect:
        return Rect(0, 0, *self.size)

    @property
    def layers(self) -> list[Layer]:
        """The top-level layers, bottom first."""
        return self.root.children

    # ---- finding layers --------------------------------------------------------------------

    def walk(self) -> Iterator[Layer]:
        """Every layer (attached masks included), depth first, bottom first."""
        for layer in self.root.children:
            yield from layer.walk()

    def find(self, layer_id: str) -> Layer:
        for layer in self.walk():
            if layer.id == layer_id:
                return layer
        raise LayerNotFound(layer_id)

    def get(self, layer_id: str) -> Layer | None:
        try:
            return self.find(layer_id)
        except LayerNotFound:
            return None

    def group(self, group_id: str | None) -> GroupLayer:
        """The group with that id; None means the root."""
        if group_id is None:
            return self.root
        group = self.find(group_id)
        if not isinstance(group, GroupLayer):
            raise ValueError(f"layer {group.name!r} is not a group")
        return group

    def position(self, layer_id: str) -> tuple[GroupLayer, int]:
        """The group holding the layer (the root for top-level layers) and its index there."""
        for group in self._groups():
            for index, child in enumerate(group.children):
                if child.id == layer_id:
                    return group, index
        raise LayerNotFound(layer_id)

    def owner_of_mask(self, mask_id: str) -> Layer | None:
        """The layer a mask is attached to, or None for a standalone mask."""
        return next((lay for lay in self.walk() if _mask_id(lay) == mask_id), None)

    def _groups(self) -> Iterator[GroupLayer]:
        yield self.root
        for layer in self.walk():
            if isinstance(layer, GroupLayer):
                yield layer

    # ---- primitives for commands -----------------------------------------------------------

    def insert(self, layer: Layer, group_id: str | None = None, index: int | None = None) -> None:
        children = self.group(group_id).children
        children.insert(len(children) if index is None else index, layer)

    def detach(self, layer_id: str) -> tuple[Layer, str | None, int]:
        """Take a layer out of the tree; returns it, its group id (None: root) and index."""
        group, index = self.position(layer_id)
        layer = group.children.pop(index)
        return layer, (None if group is self.root else group.id), index

    def replace(self, layer_id: str, layer: Layer) -> Layer:
        """Put `layer` where the layer with `layer_id` is; returns the one taken out."""
        group, index = self.position(layer_id)
        old, group.children[index] = group.children[index], layer
        return old

    # ---- pixels ----------------------------------------------------------------------------

    def composite(self, rect: Rect | None = None, *, premultiplied: bool = False) -> np.ndarray:
        """The visible image (h, w, 4 uint8) inside `rect` (default: the whole canvas)."""
        return composite(self.layers, rect or self.rect, premultiplied=premultiplied)

    def take_dirty(self) -> Rect | None:
        """The region changed since the last call (union over all layers' dirty tiles)."""
        rects = []
        for layer in self.walk():
            pixels = getattr(layer, "pixels", None)
            if pixels is not None:
                rects.append(pixels.dirty_rect())
                pixels.clear_dirty()
        return union_rects(rects)

    def raster_layers(self) -> list[RasterLayer]:
        return [layer for layer in self.walk() if isinstance(layer, RasterLayer)]

    def snapshot(self) -> Document:
        """An independent copy with the same ids sharing the immutable tiles (for saving in
        the background while editing goes on)."""
        layers = [layer.snapshot() for layer in self.layers]
        twin = Document(
            self.size, layers, self.timeline, media=self.media, id=self.id, audio=self.audio
        )
        twin.selection, twin.revision = self.selection, self.revision
        return twin


def _mask_id(layer: Layer) -> str | None:
    mask = getattr(layer, "mask", None)
    return mask.id if mask is not None else None
