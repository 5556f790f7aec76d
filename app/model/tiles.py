"""Tiled rasters: pixels in sparse 256x256 tiles, edited copy-on-write with undoable deltas.

Pixels are uint8 with *straight* (not premultiplied) alpha, the way PNG files and the
engine's ImageData hold them, so saving, loading and handing pixels to the engine are
exact copies. Compositing premultiplies on the fly, in float32.

A tile absent from `TiledRaster.tiles` holds the raster's `fill` value everywhere
(0 for RGBA: transparent). Tiles are never changed in place once they are in a raster:
an edit (`TileEdit`) replaces each touched tile by a fresh copy and keeps the old one, so
duplicated layers, snapshots and the undo history share tiles for free. Edge tiles are
full-size; pixels beyond the canvas edge are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

TILE = 256
Key = tuple[int, int]  # (column, row) of a tile


@dataclass(frozen=True, slots=True)
class Rect:
    """An integer rectangle: x, y of the top-left pixel, width, height."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def bounds(cls, x0: int, y0: int, x1: int, y1: int) -> Rect:
        """The rectangle from (x0, y0) inclusive to (x1, y1) exclusive (empty if inverted)."""
        return cls(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def size(self) -> tuple[int, int]:
        return self.w, self.h

    @property
    def is_empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    @property
    def area(self) -> int:
        return 0 if self.is_empty else self.w * self.h

    def intersect(self, other: Rect) -> Rect:
        return Rect.bounds(
            max(self.x, other.x),
            max(self.y, other.y),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
        )

    def union(self, other: Rect | None) -> Rect:
        if other is None or other.is_empty:
            return self
        if self.is_empty:
            return other
        return Rect.bounds(
            min(self.x, other.x),
            min(self.y, other.y),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def translated(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def slices(self, origin_x: int = 0, origin_y: int = 0) -> tuple[slice, slice]:
        """(rows, columns) slices of this rectangle in an array whose [0, 0] is at origin."""
        y, x = self.y - origin_y, self.x - origin_x
        return slice(y, y + self.h), slice(x, x + self.w)


def union_rects(rects: Iterable[Rect | None]) -> Rect | None:
    """The smallest rectangle covering all given non-empty rectangles; None if there are none."""
    out: Rect | None = None
    for rect in rects:
        if rect is not None and not rect.is_empty:
            out = rect if out is None else out.union(rect)
    return out


def tile_rect(key: Key) -> Rect:
    return Rect(key[0] * TILE, key[1] * TILE, TILE, TILE)


def tile_keys(rect: Rect) -> Iterator[Key]:
    """The keys of the tiles that overlap `rect`, row by row."""
    if rect.is_empty:
        return
    for ty in range(rect.y // TILE, (rect.bottom - 1) // TILE + 1):
        for tx in range(rect.x // TILE, (rect.right - 1) // TILE + 1):
            yield tx, ty


def tile_parts(rect: Rect) -> Iterator[tuple[Key, Rect]]:
    """For each tile overlapping `rect`: its key and the part of `rect` inside it."""
    for key in tile_keys(rect):
        yield key, rect.intersect(tile_rect(key))


def keys_rect(keys: Iterable[Key]) -> Rect | None:
    """The rectangle covering the given tiles."""
    return union_rects(tile_rect(k) for k in keys)


class TiledRaster:
    """A width x height raster of `channels` uint8 channels in sparse TILE x TILE tiles."""

    __slots__ = ("width", "height", "channels", "fill", "tiles", "_dirty")

    def __init__(
        self,
        width: int,
        height: int,
        channels: int = 4,
        fill: int = 0,
        tiles: dict[Key, np.ndarray] | None = None,
    ) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"a raster needs a positive size, got {width}x{height}")
        self.width, self.height, self.channels, self.fill = width, height, channels, fill
        self.tiles: dict[Key, np.ndarray] = dict(tiles or {})
        self._dirty: set[Key] = set()

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def rect(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tiles.values())

    def copy(self) -> TiledRaster:
        """A copy sharing the (immutable) tiles: costs nothing until one of them is edited."""
        return TiledRaster(self.width, self.height, self.channels, self.fill, self.tiles)

    def blank_tile(self) -> np.ndarray:
        return np.full((TILE, TILE, self.channels), self.fill, np.uint8)

    # ---- reading ---------------------------------------------------------------------------

    def read(self, rect: Rect | None = None) -> np.ndarray:
        """A (h, w, channels) copy of the pixels in `rect` (the whole raster by default);
        pixels outside the canvas read as `fill`."""
        rect = rect or self.rect
        out = np.full((max(rect.h, 0), max(rect.w, 0), self.channels), self.fill, np.uint8)
        for key, part in tile_parts(rect.intersect(self.rect)):
            tile = self.tiles.get(key)
            if tile is not None:
                out[part.slices(rect.x, rect.y)] = tile[part.slices(key[0] * TILE, key[1] * TILE)]
        return out

    def to_array(self) -> np.ndarray:
        return self.read(self.rect)

    @classmethod
    def from_array(cls, array: np.ndarray, fill: int = 0) -> TiledRaster:
        """A raster holding `array` ((h, w, c) or (h, w) uint8); tiles equal to fill stay absent."""
        array = array[..., None] if array.ndim == 2 else array
        raster = cls(array.shape[1], array.shape[0], array.shape[2], fill)
        raster.write(0, 0, array)
        raster.clear_dirty()
        return raster

    def bbox(self) -> Rect | None:
        """The exact bounds of the pixels that differ from `fill`; None when there are none."""
        box: Rect | None = None
        for key, tile in self.tiles.items():
            rows = (tile != self.fill).any(axis=(1, 2))
            if not rows.any():
                continue
            cols = (tile != self.fill).any(axis=(0, 2))
            y0, y1 = np.flatnonzero(rows)[[0, -1]]
            x0, x1 = np.flatnonzero(cols)[[0, -1]]
            found = Rect.bounds(int(x0), int(y0), int(x1) + 1, int(y1) + 1)
            box = found.translated(key[0] * TILE, key[1] * TILE).union(box)
        return box.intersect(self.rect) if box else None

    def tiles_bbox(self) -> Rect | None:
        """The bounds of the stored tiles (cheap, tile-granular)."""
        box = keys_rect(self.tiles)
        return box.intersect(self.rect) if box else None

    # ---- writing ---------------------------------------------------------------------------

    def write(self, x: int, y: int, pixels: np.ndarray) -> TileDelta:
        """Replace the pixels at (x, y) with `pixels` (clipped to the canvas); returns the
        delta that undoes it."""
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        if pixels.shape[2] != self.channels or pixels.dtype != np.uint8:
            raise ValueError(
                f"expected (h, w, {self.channels}) uint8 pixels, got {pixels.shape} {pixels.dtype}"
            )
        edit = TileEdit(self)
        target = Rect(x, y, pixels.shape[1], pixels.shape[0])
        for key, part in tile_parts(target.intersect(self.rect)):
            tile = edit.writable(key)
            tile[part.slices(key[0] * TILE, key[1] * TILE)] = pixels[part.slices(x, y)]
        return edit.finish()

    def translated(self, dx: int, dy: int, size: tuple[int, int] | None = None) -> TiledRaster:
        """A new raster of `size` (default: the same) with these pixels moved by (dx, dy);
        whole-tile moves share the tiles instead of copying them."""
        width, height = size or self.size
        out = TiledRaster(width, height, self.channels, self.fill)
        aligned = dx % TILE == 0 and dy % TILE == 0
        for key, tile in self.tiles.items():
            part = tile_rect(key).intersect(self.rect)
            moved = part.translated(dx, dy)
            if aligned and part.area == TILE * TILE and out.rect.intersect(moved) == moved:
                out.tiles[(key[0] + dx // TILE, key[1] + dy // TILE)] = tile
            else:
                out.write(moved.x, moved.y, tile[: part.h, : part.w])
        out.clear_dirty()
        return out

    # ---- dirty tracking --------------------------------------------------------------------

    def mark_dirty(self, keys: Iterable[Key]) -> None:
        self._dirty.update(keys)

    def dirty_keys(self) -> Iterator[Key]:
        """The tiles changed since the last clear_dirty(), row by row."""
        yield from sorted(self._dirty, key=lambda k: (k[1], k[0]))

    def dirty_rect(self) -> Rect | None:
        box = keys_rect(self._dirty)
        return box.intersect(self.rect) if box else None

    def clear_dirty(self) -> None:
        self._dirty.clear()


class TileDelta:
    """The touched tiles of one edit, holding for each the version *not* in the raster.

    `swap()` exchanges them with the raster's, so the same delta undoes and redoes; a step
    costs one copy of only the tiles it touched. None stands for an absent tile.
    """

    __slots__ = ("raster", "tiles")

    def __init__(self, raster: TiledRaster, tiles: dict[Key, np.ndarray | None]) -> None:
        self.raster, self.tiles = raster, tiles

    @property
    def rect(self) -> Rect | None:
        box = keys_rect(self.tiles)
        return box.intersect(self.raster.rect) if box else None

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tiles.values() if t is not None)

    def swap(self) -> Rect | None:
        """Undo (or redo) the edit; returns the changed rectangle."""
        stored = self.raster.tiles
        for key, tile in self.tiles.items():
            self.tiles[key] = stored.pop(key, None)
            if tile is not None:
                stored[key] = tile
        self.raster.mark_dirty(self.tiles)
        return self.rect

    def absorb(self, later: TileDelta) -> None:
        """Merge a delta applied after this one into it (both already applied)."""
        if later.raster is not self.raster:
            raise ValueError("cannot merge deltas of two different rasters")
        for key, tile in later.tiles.items():
            self.tiles.setdefault(key, tile)


class TileEdit:
    """Copy-on-write access to a raster's tiles during one edit; finish() gives its delta."""

    __slots__ = ("raster", "before")

    def __init__(self, raster: TiledRaster) -> None:
        self.raster = raster
        self.before: dict[Key, np.ndarray | None] = {}

    def original(self, key: Key) -> np.ndarray | None:
        """The tile as it was before this edit (None = absent)."""
        return self.before[key] if key in self.before else self.raster.tiles.get(key)

    def writable(self, key: Key) -> np.ndarray:
        """The tile at key, copied on first use so it may be changed in place."""
        if key not in self.before:
            old = self.raster.tiles.get(key)
            self.before[key] = old
            self.raster.tiles[key] = self.raster.blank_tile() if old is None else old.copy()
        self.raster.mark_dirty((key,))
        return self.raster.tiles[key]

    def finish(self) -> TileDelta:
        """Drop tiles that became all `fill` (kept sparse) and return the delta."""
        tiles = self.raster.tiles
        for key in list(self.before):
            if not (tiles[key] != self.raster.fill).any():
                del tiles[key]
                if self.before[key] is None:
                    del self.before[key]  # nothing changed: absent before and after
        delta = TileDelta(self.raster, self.before)
        self.before = {}
        return delta
