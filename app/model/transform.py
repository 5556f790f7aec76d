"""Move, scale and rotate a layer's pixels or the selection's contents, as one undoable edit.

A transform lifts the source pixels (the whole layer, or the selected pixels cut with the
selection's soft alpha), resamples them with OpenCV (premultiplied, so edges keep their
colour; INTER_AREA first when shrinking) and lays them over what stayed behind. The edit is
kept as a tile delta of the touched tiles; the selection moves with its contents.
Matrices are 2x3 affine maps in canvas coordinates (pixel corners at integers).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from app.model import history_names as names
from app.model.commands import Command
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.selection import Selection
from app.model.tiles import Rect, TileDelta, union_rects

NOTHING = "There is nothing to transform: the layer is empty where the selection is."
NOT_RASTER = "Choose a pixel layer to transform (groups and masks cannot be transformed)."


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def scale_rotate(
    centre: tuple[float, float], scale_x: float, scale_y: float, degrees: float
) -> np.ndarray:
    """Scale by (scale_x, scale_y), then rotate by `degrees` (clockwise on screen), about
    `centre`."""
    if scale_x <= 0 or scale_y <= 0:
        raise ValueError(f"scale must be positive, got {scale_x:g} x {scale_y:g}")
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag([scale_x, scale_y])
    cx, cy = centre
    offset = np.array([cx, cy]) - linear @ np.array([cx, cy])
    return np.hstack([linear, offset[:, None]])


def source_rect(layer: RasterLayer, selection: Selection | None) -> Rect | None:
    """What a transform takes: the layer's pixels, inside the selection when there is one."""
    box = layer.pixels.bbox()
    if box is None or selection is None:
        return box
    sel_box = selection.bbox()  # the whole selection moves, even where the layer is empty
    if sel_box is None or box.intersect(sel_box).is_empty:
        return None
    return sel_box


def lift(
    layer: RasterLayer, selection: Selection | None, box: Rect
) -> tuple[np.ndarray, np.ndarray]:
    """(lifted, kept) float32 straight RGBA of `box`: what moves and what stays behind."""
    return split_by_selection(layer.pixels.read(box), selection, box)


def split_by_selection(
    rgba: np.ndarray, selection: Selection | None, box: Rect
) -> tuple[np.ndarray, np.ndarray]:
    """(selected, rest) float32 straight RGBA of the pixels `rgba` of canvas rect `box`: the
    selection's soft mask goes into the first's alpha, its inverse into the second's."""
    pixels = rgba.astype(np.float32)
    weight = (
        np.ones(pixels.shape[:2], np.float32)
        if selection is None
        else selection.crop(box).astype(np.float32) / 255
    )
    lifted, kept = pixels.copy(), pixels.copy()
    lifted[..., 3] *= weight
    kept[..., 3] *= 1 - weight
    kept[(weight > 0) & (kept[..., 3] < 0.5)] = 0  # cut out: fully transparent
    return lifted, kept


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _is_integer_shift(matrix: np.ndarray) -> bool:
    return np.allclose(matrix[:, :2], np.eye(2)) and np.allclose(
        matrix[:, 2], np.round(matrix[:, 2])
    )


def _mapped_rect(matrix: np.ndarray, box: Rect) -> Rect:
    corners = np.array(
        [[box.x, box.y], [box.right, box.y], [box.x, box.bottom], [box.right, box.bottom]], float
    )
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    lo, hi = np.floor(mapped.min(axis=0) - 1e-6), np.ceil(mapped.max(axis=0) + 1e-6)
    return Rect.bounds(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))


def warp(image: np.ndarray, matrix: np.ndarray, box: Rect, dest: Rect) -> np.ndarray:
    """Resample `image` (the pixels of canvas rect `box`, (h, w, c) float32) through `matrix`
    into canvas rect `dest`; outside the source reads as 0."""
    linear = matrix[:, :2].copy()
    scales = np.linalg.norm(linear, axis=0)  # how much each source axis is stretched
    if (scales < 1).any():  # shrink with INTER_AREA first, then warp what is left
        fx, fy = min(1.0, scales[0]), min(1.0, scales[1])
        size = (max(1, round(box.w * fx)), max(1, round(box.h * fy)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        linear = linear @ np.diag([box.w / size[0], box.h / size[1]])
    # local source pixel centres (i + 0.5) -> canvas -> local destination centres (j + 0.5)
    to_canvas = np.hstack([linear, (linear @ np.array([0.5, 0.5]))[:, None]])
    to_canvas[:, 2] += matrix[:, :2] @ np.array([box.x, box.y]) + matrix[:, 2]
    local = to_canvas.copy()
    local[:, 2] -= np.array([dest.x, dest.y]) + 0.5
    warped = cv2.warpAffine(
        image,
        local,
        (dest.w, dest.h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return warped.reshape(dest.h, dest.w, -1)


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    out = rgba.copy()
    out[..., :3] *= rgba[..., 3:] / 255
    return out


def _over(top_premul: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Premultiplied float `top` over straight uint8 `bottom` -> straight uint8; where the
    top is fully transparent the bottom stays exactly as it was."""
    base = bottom.astype(np.float32)
    ta, ba = top_premul[..., 3:] / 255, base[..., 3:] / 255
    alpha = ta + ba * (1 - ta)
    rgb = top_premul[..., :3] + base[..., :3] * ba * (1 - ta)
    rgb = np.divide(rgb, alpha, out=np.zeros_like(rgb), where=alpha > 0)
    out = np.concatenate([rgb, alpha * 255], axis=2)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.where(top_premul[..., 3:] > 0, out, bottom)


class TransformPixels(Command):
    """Move / scale / rotate the active layer's pixels, or only its selected pixels (the
    selection moves with them). One undo step; keeps the touched tiles only."""

    def __init__(
        self, layer_id: str, matrix: np.ndarray, use_selection: bool = True, label: str = ""
    ) -> None:
        self.layer_id, self.matrix = layer_id, np.asarray(matrix, np.float64).reshape(2, 3)
        self.use_selection = use_selection
        self.label = label or (
            names.MOVE_LAYER if _is_integer_shift(self.matrix) else names.TRANSFORM_LAYER
        )
        self.delta: TileDelta | None = None
        self.selections: tuple[Selection | None, Selection | None] | None = None  # before, after
        self.applied = False

    def do(self, doc: Document) -> Rect | None:
        if self.delta is None:
            return self._first(doc)
        return self._set(doc, True)

    def undo(self, doc: Document) -> Rect | None:
        return self._set(doc, False)

    def _set(self, doc: Document, applied: bool) -> Rect | None:
        assert self.delta is not None and self.selections is not None
        if self.applied == applied:
            return None
        self.applied = applied
        doc.selection = self.selections[1 if applied else 0]
        return self.delta.swap()

    def _first(self, doc: Document) -> Rect | None:
        layer = doc.find(self.layer_id)
        if not isinstance(layer, RasterLayer):
            raise ValueError(NOT_RASTER)
        selection = doc.selection if self.use_selection else None
        selection = None if selection is None or selection.is_empty else selection
        box = source_rect(layer, selection)
        if box is None:
            raise ValueError(NOTHING)
        lifted, kept = lift(layer, selection, box)
        if _is_integer_shift(self.matrix):
            dx, dy = (int(round(v)) for v in self.matrix[:, 2])
            dest, moved = box.translated(dx, dy), _premultiply(lifted)
        else:
            dest = _mapped_rect(self.matrix, box)
            moved = warp(_premultiply(lifted), self.matrix, box, dest)
        delta = layer.pixels.write(box.x, box.y, to_uint8(kept))
        if dest.intersect(doc.rect).is_empty:
            pasted = None
        else:
            part = dest.intersect(doc.rect)
            top = moved[part.slices(dest.x, dest.y)]
            pasted = layer.pixels.write(part.x, part.y, _over(top, layer.pixels.read(part)))
            delta.absorb(pasted)
        after = None
        if selection is not None:
            after = self._moved_selection(selection, box, dest, doc.size)
        self.delta, self.selections, self.applied = delta, (doc.selection, after), True
        doc.selection = after
        return union_rects([box, dest.intersect(doc.rect)])

    def _moved_selection(
        self, selection: Selection, box: Rect, dest: Rect, size: tuple[int, int]
    ) -> Selection | None:
        region = selection.crop(box)
        if _is_integer_shift(self.matrix):
            moved = region
        else:
            warped = warp(region.astype(np.float32)[..., None], self.matrix, box, dest)[..., 0]
            moved = to_uint8(warped)
        mask = np.zeros((size[1], size[0]), np.uint8)
        part = dest.intersect(Rect(0, 0, *size))
        if not part.is_empty:
            mask[part.slices()] = moved[part.slices(dest.x, dest.y)]
        result = Selection(mask)
        return None if result.is_empty else result

    @property
    def nbytes(self) -> int:
        before, after = self.selections or (None, None)
        sel = sum(s.nbytes for s in (before, after) if s is not None)
        return (self.delta.nbytes if self.delta else 0) + sel
