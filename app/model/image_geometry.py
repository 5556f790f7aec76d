"""Image > Resize image, Rotate and Flip: the whole canvas changes, every layer with it.

Each is one undoable `ReplaceCanvas` command: every pixel layer (attached and standalone
masks included) and the selection get the new geometry, and the canvas its new size.
Rotations and flips move whole tiles' pixels exactly (no resampling); resizing resamples
in premultiplied alpha (so transparent edges get no dark fringe), INTER_AREA when a side
shrinks and bilinear when it grows, one layer at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import cv2
import numpy as np

from app.model import history_names as names
from app.model.commands import CanvasGeometry, ReplaceCanvas, pixel_layers
from app.model.document import MAX_CANVAS_SIDE, Document
from app.model.selection import Selection
from app.model.tiles import Rect, TiledRaster, tile_rect


class Turn(Enum):
    """A rotation of the whole image by quarter turns, clockwise on screen."""

    CLOCKWISE = 1
    HALF = 2
    COUNTER_CLOCKWISE = 3

    @property
    def label(self) -> str:
        return {
            Turn.CLOCKWISE: names.ROTATE_IMAGE_CLOCKWISE,
            Turn.HALF: names.ROTATE_IMAGE_HALF,
            Turn.COUNTER_CLOCKWISE: names.ROTATE_IMAGE_COUNTER_CLOCKWISE,
        }[self]


# ---- pixels ----------------------------------------------------------------------------------


def turned_size(size: tuple[int, int], turn: Turn) -> tuple[int, int]:
    return size if turn is Turn.HALF else (size[1], size[0])


def _turned_rect(rect: Rect, size: tuple[int, int], turn: Turn) -> Rect:
    """Where `rect` of a canvas of `size` lands after the turn."""
    width, height = size
    if turn is Turn.CLOCKWISE:
        return Rect(height - rect.bottom, rect.x, rect.h, rect.w)
    if turn is Turn.COUNTER_CLOCKWISE:
        return Rect(rect.y, width - rect.right, rect.h, rect.w)
    return Rect(width - rect.right, height - rect.bottom, rect.w, rect.h)


def _turned_pixels(pixels: np.ndarray, turn: Turn) -> np.ndarray:
    """np.rot90 turns counter-clockwise for positive k; a clockwise turn is k = -1."""
    return np.rot90(pixels, k=-turn.value, axes=(0, 1))


def turn_raster(raster: TiledRaster, turn: Turn) -> TiledRaster:
    """The raster rotated by `turn`, tile by tile (only stored tiles are touched)."""
    return _moved_tiles(
        raster,
        turned_size(raster.size, turn),
        lambda part: _turned_rect(part, raster.size, turn),
        lambda pixels: _turned_pixels(pixels, turn),
    )


def flip_raster(raster: TiledRaster, horizontal: bool) -> TiledRaster:
    """The raster mirrored left-right (`horizontal`) or top-bottom, tile by tile."""
    return _moved_tiles(
        raster,
        raster.size,
        lambda part: _flipped_rect(part, raster.size, horizontal),
        lambda pixels: np.flip(pixels, axis=1 if horizontal else 0),
    )


def _moved_tiles(
    raster: TiledRaster,
    size: tuple[int, int],
    place: Callable[[Rect], Rect],
    change: Callable[[np.ndarray], np.ndarray],
) -> TiledRaster:
    """A raster of `size` holding each stored tile's pixels, `change`d, at `place`(its rect)."""
    out = TiledRaster(*size, raster.channels, raster.fill)
    for key, tile in raster.tiles.items():
        part = tile_rect(key).intersect(raster.rect)
        moved = place(part)
        out.write(moved.x, moved.y, change(tile[: part.h, : part.w]))
    out.clear_dirty()
    return out


def _flipped_rect(rect: Rect, size: tuple[int, int], horizontal: bool) -> Rect:
    if horizontal:
        return Rect(size[0] - rect.right, rect.y, rect.w, rect.h)
    return Rect(rect.x, size[1] - rect.bottom, rect.w, rect.h)


def check_image_size(size: tuple[int, int]) -> tuple[int, int]:
    """`size` as ints, or a ValueError saying which limit it breaks."""
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"An image needs at least 1 pixel each way, not {width} x {height}.")
    if max(width, height) > MAX_CANVAS_SIDE:
        raise ValueError(
            f"{width} x {height} is too large: a side may be at most {MAX_CANVAS_SIDE} pixels."
        )
    return width, height


def scaled_size(size: tuple[int, int], percent: float) -> tuple[int, int]:
    """`size` scaled by `percent`, each side rounded and at least 1 pixel."""
    return tuple(max(1, round(side * percent / 100)) for side in size)  # type: ignore[return-value]


def proportional_side(size: tuple[int, int], side: int, given: str) -> int:
    """The other side that keeps `size`'s aspect when the `given` side ("width" or
    "height") becomes `side` (at least 1 pixel)."""
    width, height = size
    if given == "width":
        return max(1, round(side * height / width))
    return max(1, round(side * width / height))


def _interpolation(old: tuple[int, int], new: tuple[int, int]) -> int:
    shrinks = new[0] < old[0] or new[1] < old[1]
    return cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR


def _resample(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, c) float32 resized to `size`, keeping the channel axis when c == 1."""
    old = (array.shape[1], array.shape[0])
    out = cv2.resize(array, size, interpolation=_interpolation(old, size))
    return out.reshape(size[1], size[0], array.shape[2])


def resize_raster(raster: TiledRaster, size: tuple[int, int]) -> TiledRaster:
    """The raster resampled to `size`. RGBA is resampled premultiplied, so the colour of
    transparent pixels does not bleed into the edges."""
    if not raster.tiles:
        return TiledRaster(*size, raster.channels, raster.fill)
    pixels = raster.to_array().astype(np.float32)
    if raster.channels == 4:
        pixels[..., :3] *= pixels[..., 3:] / 255
        pixels = _resample(pixels, size)
        alpha = pixels[..., 3:]
        np.divide(pixels[..., :3] * 255, alpha, out=pixels[..., :3], where=alpha > 0)
        pixels[..., :3][alpha[..., 0] <= 0] = 0
    else:
        pixels = _resample(pixels, size)
    out = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return TiledRaster.from_array(out, raster.fill)


def resize_selection(selection: Selection, size: tuple[int, int]) -> Selection | None:
    mask = _resample(selection.mask.astype(np.float32)[..., None], size)[..., 0]
    resized = Selection(np.clip(np.rint(mask), 0, 255).astype(np.uint8))
    return None if resized.is_empty else resized


# ---- commands --------------------------------------------------------------------------------


class RotateImage(ReplaceCanvas):
    """Rotate the whole image (canvas, layers, masks, selection) by quarter turns."""

    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self.turn, self.label = turn, turn.label

    def remade(self, doc: Document) -> CanvasGeometry:
        rasters = {lay.id: turn_raster(lay.pixels, self.turn) for lay in pixel_layers(doc)}
        sel = doc.selection
        turned = (
            Selection(np.ascontiguousarray(_turned_pixels(sel.mask, self.turn)))
            if sel is not None
            else None
        )
        return turned_size(doc.size, self.turn), rasters, turned


class FlipImage(ReplaceCanvas):
    """Mirror the whole image left-right (horizontal) or top-bottom."""

    def __init__(self, horizontal: bool) -> None:
        super().__init__()
        self.horizontal = horizontal
        self.label = names.FLIP_IMAGE_HORIZONTALLY if horizontal else names.FLIP_IMAGE_VERTICALLY

    def remade(self, doc: Document) -> CanvasGeometry:
        rasters = {lay.id: flip_raster(lay.pixels, self.horizontal) for lay in pixel_layers(doc)}
        sel = doc.selection
        if sel is None:
            return doc.size, rasters, None
        flipped = np.ascontiguousarray(np.flip(sel.mask, axis=1 if self.horizontal else 0))
        return doc.size, rasters, Selection(flipped)


class ResizeImage(ReplaceCanvas):
    """Scale the whole image to `size`: every layer, mask and the selection."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = check_image_size(size)
        self.label = names.resize_image(*self.size)

    def remade(self, doc: Document) -> CanvasGeometry:
        rasters = {lay.id: resize_raster(lay.pixels, self.size) for lay in pixel_layers(doc)}
        sel = doc.selection
        return self.size, rasters, resize_selection(sel, self.size) if sel is not None else None
