"""Edits as commands: each does one change to a Document and can undo it exactly.

Every command's do() and undo() return the canvas rectangle to redraw (None: nothing
visible changed). Pixel edits keep tile deltas (only the touched tiles), never whole
images; structural edits keep the layer objects they took out, which share tiles.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from app.model import history_names as names
from app.model.compositing import bake, tile_keys_of
from app.model.document import Document
from app.model.layers import (
    BlendMode,
    GroupLayer,
    Layer,
    MaskLayer,
    RasterLayer,
    SteeringLayer,
)
from app.model.selection import Selection
from app.model.tiles import Rect, TileDelta, TiledRaster, union_rects


class Command:
    """One undoable edit. `merge_key`: consecutive commands with the same non-None key
    (the dabs of one stroke, the steps of one slider drag) become one undo step."""

    label = names.EDIT_DOCUMENT
    merge_key: Hashable | None = None

    def do(self, doc: Document) -> Rect | None:
        raise NotImplementedError

    def undo(self, doc: Document) -> Rect | None:
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        """Memory this command keeps alive for undo/redo (tile deltas, removed layers)."""
        return 0

    def merge(self, later: Command) -> bool:
        """Fold `later` (already done) into this command; False when they cannot merge."""
        return False


class ValueEdit(Command):
    """A change of one of the document's values that edits replace whole (a frozen value
    such as `doc.timeline` or `doc.audio`, named by `attribute`): `changed(old)` makes the
    new value at the first do; undo puts the old value back and redo the new one, so both
    are exact. Steps with the same `merge_key` become one undo step."""

    attribute = ""

    def __init__(self, merge_key: Hashable | None = None) -> None:
        self.merge_key = merge_key
        self.before: Any = None
        self.after: Any = None

    def changed(self, value: Any) -> Any:
        """The value after this edit (raise a ValueError when it cannot be made)."""
        raise NotImplementedError

    def do(self, doc: Document) -> Rect | None:
        if self.after is None:
            old = getattr(doc, self.attribute)
            self.before, self.after = old, self.changed(old)
        setattr(doc, self.attribute, self.after)
        return None  # nothing on the canvas changed

    def undo(self, doc: Document) -> Rect | None:
        assert self.before is not None
        setattr(doc, self.attribute, self.before)
        return None

    def merge(self, later: Command) -> bool:
        if not isinstance(later, type(self)) or later.before is not self.after:
            return False
        self.after = later.after
        return True


# ---- pixels ----------------------------------------------------------------------------------


class PixelEdit(Command):
    """A change to a layer's pixels, kept as the tile delta of the touched tiles.

    Made by the tools *after* they changed the pixels (applied=True), so pushing it on the
    history records it without doing it again; undo and redo swap the tiles.
    """

    def __init__(
        self,
        layer_id: str,
        delta: TileDelta,
        label: str = names.PAINT_PIXELS,
        merge_key: Hashable | None = None,
        applied: bool = True,
    ) -> None:
        self.layer_id, self.delta, self.label = layer_id, delta, label
        self.merge_key, self.applied = merge_key, applied

    @property
    def rect(self) -> Rect | None:
        return self.delta.rect

    @property
    def nbytes(self) -> int:
        return self.delta.nbytes

    def do(self, doc: Document) -> Rect | None:
        return self._set(True)

    def undo(self, doc: Document) -> Rect | None:
        return self._set(False)

    def _set(self, applied: bool) -> Rect | None:
        if self.applied == applied:
            return self.delta.rect
        self.applied = applied
        return self.delta.swap()

    def merge(self, later: Command) -> bool:
        if not isinstance(later, PixelEdit) or later.delta.raster is not self.delta.raster:
            return False
        self.delta.absorb(later.delta)
        return True


def write_pixels(
    doc: Document,
    layer_id: str,
    x: int,
    y: int,
    pixels: np.ndarray,
    label: str = names.PASTE_PICTURE,
) -> PixelEdit:
    """Write pixels into a raster or mask layer at (x, y); returns the applied command."""
    layer = doc.find(layer_id)
    if not isinstance(layer, RasterLayer | MaskLayer):
        raise ValueError(f"layer {layer.name!r} has no pixels")
    return PixelEdit(layer_id, layer.pixels.write(x, y, pixels), label)


# ---- the layer tree --------------------------------------------------------------------------


class AddLayer(Command):
    """Insert a layer (into a group; default: on top of the root). Applying a generation
    result is an AddLayer of a RasterLayer carrying its recipe."""

    def __init__(
        self, layer: Layer, group_id: str | None = None, index: int | None = None, label: str = ""
    ) -> None:
        self.layer, self.group_id, self.index = layer, group_id, index
        self.label = label or (
            names.ADD_MASK_LAYER if isinstance(layer, MaskLayer) else names.ADD_LAYER
        )
        self.done = False

    def do(self, doc: Document) -> Rect | None:
        doc.insert(self.layer, self.group_id, self.index)
        self.done = True
        return self.layer.bounds()

    def undo(self, doc: Document) -> Rect | None:
        doc.detach(self.layer.id)
        self.done = False
        return self.layer.bounds()

    @property
    def nbytes(self) -> int:
        return 0 if self.done else layer_nbytes(self.layer)  # when done, the document has it


class RemoveLayer(Command):
    def __init__(self, layer_id: str) -> None:
        self.layer_id = layer_id
        self.label = names.DELETE_LAYER
        self.removed: tuple[Layer, str | None, int] | None = None
        self.done = False

    def do(self, doc: Document) -> Rect | None:
        self.removed = doc.detach(self.layer_id)
        self.done = True
        return self.removed[0].bounds()

    def undo(self, doc: Document) -> Rect | None:
        assert self.removed is not None
        layer, group_id, index = self.removed
        doc.insert(layer, group_id, index)
        self.done = False
        return layer.bounds()

    @property
    def nbytes(self) -> int:
        return layer_nbytes(self.removed[0]) if self.removed and self.done else 0


class MoveLayer(Command):
    """Reorder a layer, or move it into another group (group_id None: the root)."""

    label = names.RESTACK_LAYER

    def __init__(self, layer_id: str, index: int, group_id: str | None = None) -> None:
        self.layer_id, self.index, self.group_id = layer_id, index, group_id
        self.origin: tuple[str | None, int] | None = None

    def do(self, doc: Document) -> Rect | None:
        target = doc.group(self.group_id)  # raises before anything changes
        if any(lay is target for lay in doc.find(self.layer_id).walk()):
            raise ValueError("cannot move a group into itself")
        layer, group_id, index = doc.detach(self.layer_id)
        self.origin = (group_id, index)
        doc.insert(layer, self.group_id, self.index)
        return layer.bounds()

    def undo(self, doc: Document) -> Rect | None:
        assert self.origin is not None
        layer, _, _ = doc.detach(self.layer_id)
        doc.insert(layer, *self.origin)
        return layer.bounds()


_PROPS = ("name", "visible", "opacity", "blend")


class SetLayerProps(Command):
    """Change name, visible, opacity and/or blend of a layer. Give a merge_key (e.g. one per
    slider drag) to make the steps of a drag one undo step."""

    def __init__(self, layer_id: str, merge_key: Hashable | None = None, **changes: Any) -> None:
        unknown = set(changes) - set(_PROPS)
        if unknown or not changes:
            raise ValueError(f"can set {', '.join(_PROPS)}; got {', '.join(changes) or 'nothing'}")
        if "blend" in changes:
            changes["blend"] = BlendMode(changes["blend"])
        if "opacity" in changes and not 0.0 <= changes["opacity"] <= 1.0:
            raise ValueError(f"opacity must be within 0..1, got {changes['opacity']}")
        self.layer_id, self.changes, self.merge_key = layer_id, changes, merge_key
        self.label = names.layer_properties(set(changes), changes.get("visible"))
        self.before: dict[str, Any] = {}

    def do(self, doc: Document) -> Rect | None:
        layer = doc.find(self.layer_id)
        self.before = {k: getattr(layer, k) for k in self.changes}
        return self._apply(doc, self.changes)

    def undo(self, doc: Document) -> Rect | None:
        return self._apply(doc, self.before)

    def _apply(self, doc: Document, values: dict[str, Any]) -> Rect | None:
        layer = doc.find(self.layer_id)
        for key, value in values.items():
            setattr(layer, key, value)
        if set(values) == {"name"}:
            return None
        owner = doc.owner_of_mask(layer.id)  # an attached mask changes its layer's look
        return union_rects([layer.bounds(), owner.bounds() if owner else None])

    def merge(self, later: Command) -> bool:
        if not isinstance(later, SetLayerProps) or later.layer_id != self.layer_id:
            return False
        self.changes = {**self.changes, **later.changes}
        self.label = names.layer_properties(set(self.changes), self.changes.get("visible"))
        self.before = {**later.before, **self.before}
        return True


class DuplicateLayer(AddLayer):
    """Add a copy of a layer just above it (the copy shares tiles until edited)."""

    def __init__(self, doc: Document, layer_id: str) -> None:
        group, index = doc.position(layer_id)
        group_id = None if group is doc.root else group.id
        original = group.children[index]
        super().__init__(original.duplicate(), group_id, index + 1, names.DUPLICATE_LAYER)


class SetMask(Command):
    """Attach a layer mask to a raster or group layer, or remove it (mask=None)."""

    def __init__(self, layer_id: str, mask: MaskLayer | None) -> None:
        self.layer_id, self.mask = layer_id, mask
        self.label = names.ADD_LAYER_MASK if mask is not None else names.REMOVE_LAYER_MASK

    def do(self, doc: Document) -> Rect | None:
        layer = doc.find(self.layer_id)
        if not isinstance(layer, RasterLayer | GroupLayer):
            raise ValueError(f"layer {layer.name!r} cannot have a mask")
        self.mask, layer.mask = layer.mask, self.mask
        return layer.bounds()

    undo = do

    @property
    def nbytes(self) -> int:
        return layer_nbytes(self.mask) if self.mask else 0


# ---- merging ---------------------------------------------------------------------------------


class MergeDown(Command):
    """Merge a layer into the one below it. The result keeps the lower layer's id, name and
    blend mode; both opacities and masks are baked into its pixels."""

    label = names.MERGE_DOWN

    def __init__(self, layer_id: str) -> None:
        self.layer_id = layer_id
        self.swap: tuple[Layer, Layer, Layer] | None = None  # upper, lower, merged
        self.done = False

    def do(self, doc: Document) -> Rect | None:
        if self.swap is None:
            self.swap = self._merge(doc)
        upper, lower, merged = self.swap
        doc.detach(upper.id)
        doc.replace(lower.id, merged)
        self.done = True
        return union_rects([upper.bounds(), lower.bounds()])

    def _merge(self, doc: Document) -> tuple[Layer, Layer, Layer]:
        group, index = doc.position(self.layer_id)
        if index == 0:
            raise ValueError("there is no layer below to merge into")
        upper, lower = group.children[index], group.children[index - 1]
        if isinstance(upper, MaskLayer) or isinstance(lower, MaskLayer):
            raise ValueError("mask layers cannot be merged")
        if isinstance(upper, SteeringLayer) or isinstance(lower, SteeringLayer):
            raise ValueError(
                "control and reference layers cannot be merged: they steer, they are not paint"
            )
        base = lower.snapshot()
        base.blend, base.visible = BlendMode.NORMAL, True
        if isinstance(lower, RasterLayer) and lower.opacity == 1 and lower.mask is None:
            # only the tiles under the upper layer change; the others stay shared
            pixels = bake([base, upper], doc.size, tile_keys_of(upper), lower.pixels)
        else:
            pixels = bake([base, upper], doc.size)
        merged = RasterLayer(pixels=pixels, name=lower.name, blend=lower.blend, id=lower.id)
        return upper, lower, merged

    def undo(self, doc: Document) -> Rect | None:
        assert self.swap is not None
        upper, lower, merged = self.swap
        doc.replace(merged.id, lower)
        group, index = doc.position(lower.id)
        group.children.insert(index + 1, upper)
        self.done = False
        return union_rects([upper.bounds(), lower.bounds()])

    @property
    def nbytes(self) -> int:
        if self.swap is None:
            return 0
        upper, lower, merged = self.swap
        kept = [upper, lower] if self.done else [merged]
        return sum(layer_nbytes(lay) for lay in kept)


class Flatten(Command):
    """Replace all layers by one raster layer of the visible image. Standalone mask layers
    (e.g. an inpaint mask) and control and reference layers stay, above it."""

    label = names.FLATTEN_IMAGE

    def __init__(self) -> None:
        self.other: list[Layer] | None = None

    def do(self, doc: Document) -> Rect | None:
        if self.other is None:
            image = RasterLayer(pixels=bake(doc.layers, doc.size), name="Background")
            kept = [lay for lay in doc.layers if isinstance(lay, MaskLayer | SteeringLayer)]
            self.other = [image, *kept]
        return self._swap(doc)

    def _swap(self, doc: Document) -> Rect | None:
        assert self.other is not None
        self.other, doc.root.children = doc.root.children, self.other
        return doc.rect

    undo = _swap

    @property
    def nbytes(self) -> int:
        return sum(layer_nbytes(lay) for lay in self.other or [])


# ---- canvas and selection --------------------------------------------------------------------


# a canvas's geometry: its size, each pixel layer's raster by id, the selection
CanvasGeometry = tuple[tuple[int, int], dict[str, TiledRaster], Selection | None]


class ReplaceCanvas(Command):
    """Give the canvas, every pixel layer (attached masks included) and the selection a new
    geometry in one step; the old ones are kept for undo. Subclasses say how in `remade`."""

    def __init__(self) -> None:
        self.other: CanvasGeometry | None = None

    def remade(self, doc: Document) -> CanvasGeometry:
        """(new size, new raster by layer id, new selection) for `doc` as it is now."""
        raise NotImplementedError

    def do(self, doc: Document) -> Rect | None:
        if self.other is None:
            self.other = self.remade(doc)
        return self._swap(doc)

    def _swap(self, doc: Document) -> Rect | None:
        assert self.other is not None
        size, rasters, selection = self.other
        old = {}
        for layer in doc.walk():
            if layer.id in rasters:
                old[layer.id], layer.pixels = layer.pixels, rasters[layer.id]
        self.other = (doc.size, old, doc.selection)
        doc.size, doc.selection = size, selection
        return doc.rect

    undo = _swap

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.other[1].values()) if self.other else 0


def pixel_layers(doc: Document) -> list[RasterLayer | MaskLayer]:
    """Every layer that holds pixels: raster layers, mask layers and attached masks."""
    return [lay for lay in doc.walk() if isinstance(lay, RasterLayer | MaskLayer)]


class ResizeCanvas(ReplaceCanvas):
    """Crop or extend the canvas to `size`, moving the pixels by `offset` (outpaint: extend
    left by 256 with size=(w+256, h), offset=(256, 0))."""

    label = names.RESIZE_CANVAS

    def __init__(self, size: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        if size[0] <= 0 or size[1] <= 0:
            raise ValueError(f"a canvas needs a positive size, got {size[0]}x{size[1]}")
        self.size, self.offset = (int(size[0]), int(size[1])), offset

    def remade(self, doc: Document) -> CanvasGeometry:
        dx, dy = self.offset
        rasters = {lay.id: lay.pixels.translated(dx, dy, self.size) for lay in pixel_layers(doc)}
        sel = doc.selection
        moved = _moved_selection(sel, dx, dy, self.size) if sel is not None else None
        return self.size, rasters, moved


def _moved_selection(sel: Selection, dx: int, dy: int, size: tuple[int, int]) -> Selection:
    mask = sel.crop(Rect(-dx, -dy, *size))
    return Selection(mask)


class OffsetLayer(Command):
    """Move a raster or mask layer's pixels by (dx, dy) (the move tool)."""

    label = names.MOVE_LAYER

    def __init__(self, layer_id: str, dx: int, dy: int) -> None:
        self.layer_id, self.dx, self.dy = layer_id, dx, dy
        self.other: Any = None

    def do(self, doc: Document) -> Rect | None:
        layer = doc.find(self.layer_id)
        if not isinstance(layer, RasterLayer | MaskLayer):
            raise ValueError(f"layer {layer.name!r} has no pixels to move")
        if self.other is None:
            self.other = layer.pixels.translated(self.dx, self.dy)
        return self._swap(doc)

    def _swap(self, doc: Document) -> Rect | None:
        layer = doc.find(self.layer_id)
        before = layer.bounds()
        self.other, layer.pixels = layer.pixels, self.other
        return union_rects([before, layer.bounds()])

    undo = _swap

    @property
    def nbytes(self) -> int:
        return self.other.nbytes if self.other is not None else 0


class SetSelection(Command):
    """Replace the document's selection (None: select nothing / deselect)."""

    def __init__(self, selection: Selection | None, label: str = names.SELECT_AREA) -> None:
        self.selection, self.label = selection, label

    def do(self, doc: Document) -> Rect | None:
        self.selection, doc.selection = doc.selection, self.selection
        return None

    undo = do

    @property
    def nbytes(self) -> int:
        return self.selection.nbytes if self.selection is not None else 0


class Macro(Command):
    """Several commands as one undo step (e.g. outpaint: extend the canvas, add a layer)."""

    def __init__(self, label: str, commands: Sequence[Command]) -> None:
        self.label, self.commands = label, list(commands)

    def do(self, doc: Document) -> Rect | None:
        return union_rects([c.do(doc) for c in self.commands])

    def undo(self, doc: Document) -> Rect | None:
        return union_rects([c.undo(doc) for c in reversed(self.commands)])

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.commands)


# ---- helpers ---------------------------------------------------------------------------------


def layer_nbytes(layer: Layer) -> int:
    return sum(lay.pixels.nbytes for lay in layer.walk() if hasattr(lay, "pixels"))
