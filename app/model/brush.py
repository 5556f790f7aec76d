"""Painting tools: brush and eraser strokes made of dabs, flood fill, colour picking.

Tools change a layer's pixels at once (so the canvas shows them while the pointer moves)
through a copy-on-write TileEdit, and hand back one PixelEdit (a tile delta) to record on
the History: a whole stroke is one undo step.

A stroke does not build up past the brush opacity where its dabs overlap: it keeps the
stroke's coverage per tile (the maximum of its dabs) and recomputes touched pixels from the
layer as it was before the stroke. On RGBA layers the brush paints its colour "over" the
pixels (straight alpha) and the eraser lowers alpha; on mask layers the brush raises the
mask towards 255 and the eraser lowers it towards 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from app.model import history_names as names
from app.model.commands import PixelEdit
from app.model.document import Document
from app.model.layers import MaskLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import TILE, Key, Rect, TileEdit, tile_parts, union_rects

F32 = np.float32


@dataclass(frozen=True)
class Brush:
    """Brush settings; `size` is the diameter in pixels at full pressure."""

    size: float = 20.0
    hardness: float = 0.8  # 0: soft all the way to the centre, 1: hard edge (anti-aliased)
    opacity: float = 1.0  # the most a stroke covers, however often its dabs overlap
    color: tuple[int, int, int] = (0, 0, 0)
    spacing: float = 0.1  # distance between dabs, as a fraction of the current size
    eraser: bool = False
    pressure_size: bool = True  # pressure scales the size
    pressure_opacity: bool = False  # pressure scales the opacity

    def dab_size(self, pressure: float) -> float:
        return max(1.0, self.size * (pressure if self.pressure_size else 1.0))

    def dab_strength(self, pressure: float) -> float:
        return min(1.0, max(0.0, pressure)) if self.pressure_opacity else 1.0


def dab_mask(x: float, y: float, size: float, hardness: float) -> tuple[Rect, np.ndarray]:
    """The coverage (0..1 float32) of a round dab centred at (x, y), and where it lies."""
    radius = size / 2
    rect = Rect.bounds(
        math.floor(x - radius), math.floor(y - radius), math.ceil(x + radius), math.ceil(y + radius)
    )
    ys = np.arange(rect.y, rect.bottom, dtype=F32) + F32(0.5 - y)
    xs = np.arange(rect.x, rect.right, dtype=F32) + F32(0.5 - x)
    distance = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    edge = max(radius * (1 - hardness), 1.0)  # width of the falloff, at least 1 px (AA)
    t = np.clip((radius - distance) / F32(edge), 0, 1)
    return rect, t * t * (3 - 2 * t)  # smoothstep


class Stroke:
    """One brush or eraser stroke on a raster or mask layer; feed it pointer positions."""

    def __init__(
        self,
        layer: RasterLayer | MaskLayer,
        brush: Brush,
        selection: Selection | None = None,
        label: str | None = None,
    ) -> None:
        self.layer, self.brush, self.selection = layer, brush, selection
        self.label = label or (names.ERASE_STROKE if brush.eraser else names.PAINT_STROKE)
        self.edit = TileEdit(layer.pixels)
        self.dabs = 0
        self._coverage: dict[Key, np.ndarray] = {}
        self._last: tuple[float, float, float] | None = None
        self._travelled = 0.0  # distance since the last dab

    def add_point(self, x: float, y: float, pressure: float = 1.0) -> Rect | None:
        """Extend the stroke to (x, y), placing dabs every `spacing`; returns what changed."""
        if self._last is None:
            self._last = (x, y, pressure)
            return self.dab(x, y, pressure)
        x0, y0, p0 = self._last
        length = math.hypot(x - x0, y - y0)
        rects, done = [], 0.0
        while length > 0:
            t = done / length
            step = max(0.5, self.brush.spacing * self.brush.dab_size(p0 + (pressure - p0) * t))
            need = max(0.0, step - self._travelled)
            if done + need > length:
                break
            done += need
            self._travelled = 0.0
            t = done / length
            rects.append(self.dab(x0 + (x - x0) * t, y0 + (y - y0) * t, p0 + (pressure - p0) * t))
        self._travelled += length - done
        self._last = (x, y, pressure)
        return union_rects(rects)

    def dab(self, x: float, y: float, pressure: float = 1.0) -> Rect | None:
        """Place one dab; returns the rectangle of pixels it changed."""
        brush = self.brush
        rect, cover = dab_mask(x, y, brush.dab_size(pressure), brush.hardness)
        rect_in = rect.intersect(self.layer.pixels.rect)
        if rect_in.is_empty:
            return None
        cover = cover[rect_in.slices(rect.x, rect.y)]
        cover *= F32(brush.dab_strength(pressure))
        if self.selection is not None:
            cover *= self.selection.crop(rect_in).astype(F32) * F32(1 / 255)
        for key, part in tile_parts(rect_in):
            self._paint(key, part, cover[part.slices(rect_in.x, rect_in.y)])
        self.dabs += 1
        return rect_in

    def _paint(self, key: Key, part: Rect, cover: np.ndarray) -> None:
        local = part.slices(key[0] * TILE, key[1] * TILE)
        coverage = self._coverage.get(key)
        if coverage is None:
            coverage = self._coverage[key] = np.zeros((TILE, TILE), F32)
        np.maximum(coverage[local], cover, out=coverage[local])
        tile = self.edit.writable(key)
        before = self.edit.original(key)
        if before is None:
            old = np.full((part.h, part.w, tile.shape[2]), self.layer.pixels.fill, np.uint8)
        else:
            old = before[local]
        strength = coverage[local] * F32(self.brush.opacity)
        tile[local] = apply_paint(old, strength, self.brush.color, self.brush.eraser)

    def finish(self) -> PixelEdit | None:
        """End the stroke: the applied command to record (None if it changed nothing)."""
        self._coverage.clear()
        delta = self.edit.finish()
        return PixelEdit(self.layer.id, delta, self.label) if delta.tiles else None


def apply_paint(
    pixels: np.ndarray, strength: np.ndarray, color: tuple[int, int, int], eraser: bool
) -> np.ndarray:
    """`pixels` (h, w, 4 RGBA or h, w, 1 mask) painted with per-pixel strength 0..1."""
    s = strength[..., None]
    if pixels.shape[2] == 1:
        value = pixels.astype(F32)
        out = value * (1 - s) if eraser else value + (255 - value) * s
        return (out + 0.5).astype(np.uint8)
    a = pixels[..., 3:4].astype(F32) * F32(1 / 255)
    if eraser:
        out_a = a * (1 - s)
        rgb = pixels[..., :3]
    else:
        out_a = s + a * (1 - s)
        mix = np.asarray(color, F32) * s + pixels[..., :3].astype(F32) * (a * (1 - s))
        safe = np.where(out_a > 0, out_a, 1)
        rgb = np.where(out_a > 0, mix / safe + 0.5, pixels[..., :3]).clip(0, 255)
    return np.concatenate([rgb.astype(np.uint8), (out_a * 255 + 0.5).astype(np.uint8)], axis=2)


def paint_stroke(
    layer: RasterLayer | MaskLayer,
    brush: Brush,
    points: Iterable[tuple[float, float, float]],
    selection: Selection | None = None,
) -> tuple[PixelEdit | None, Rect | None]:
    """Paint a whole stroke through (x, y, pressure) points; the command and dirty rect."""
    stroke = Stroke(layer, brush, selection)
    dirty = union_rects(stroke.add_point(*point) for point in points)
    return stroke.finish(), dirty


# ---- fill and colour picking -----------------------------------------------------------------


def fill_region(
    pixels: np.ndarray, x: int, y: int, tolerance: int = 32, contiguous: bool = True
) -> np.ndarray:
    """(h, w) bool: the pixels whose every channel is within `tolerance` of the one at
    (x, y); only those connected to it (4-neighbours) when `contiguous`."""
    seed = pixels[y, x].astype(np.int16)
    diff = np.abs(pixels.astype(np.int16) - seed).max(axis=2)
    similar = (diff <= tolerance).astype(np.uint8)
    if not contiguous:
        return similar.astype(bool)
    flood = np.zeros((similar.shape[0] + 2, similar.shape[1] + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(similar, flood, (x, y), 1, 0, 0, flags)
    return flood[1:-1, 1:-1].astype(bool)


def flood_fill(
    layer: RasterLayer | MaskLayer,
    x: int,
    y: int,
    color: tuple[int, int, int],
    tolerance: int = 32,
    opacity: float = 1.0,
    selection: Selection | None = None,
    sample: np.ndarray | None = None,
) -> tuple[PixelEdit | None, Rect | None]:
    """Fill the area around (x, y) that looks like it; `sample` (h, w, c) is what to look at
    (default: the layer; pass doc.composite() to sample all layers). Returns the applied
    command and the changed rectangle."""
    raster = layer.pixels
    if not raster.rect.intersect(Rect(x, y, 1, 1)).area:
        return None, None
    region = fill_region(raster.to_array() if sample is None else sample, x, y, tolerance)
    strength = region.astype(F32) * F32(opacity)
    if selection is not None:
        strength *= selection.mask.astype(F32) * F32(1 / 255)
    rows, cols = np.flatnonzero(strength.any(axis=1)), np.flatnonzero(strength.any(axis=0))
    if rows.size == 0:
        return None, None
    rect = Rect.bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    edit = TileEdit(raster)
    for key, part in tile_parts(rect):
        tile = edit.writable(key)
        local = part.slices(key[0] * TILE, key[1] * TILE)
        tile[local] = apply_paint(tile[local], strength[part.slices()], color, eraser=False)
    return PixelEdit(layer.id, edit.finish(), names.FILL_AREA), rect


def pick_color(doc: Document, x: int, y: int) -> tuple[int, int, int, int]:
    """The visible colour (RGBA) at a canvas pixel, for the colour picker."""
    r, g, b, a = doc.composite(Rect(x, y, 1, 1))[0, 0]
    return int(r), int(g), int(b), int(a)
