"""Selections as soft masks: rectangle, ellipse, lasso; grow, shrink, feather, invert."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import cv2
import numpy as np

from app.model.tiles import Rect

_SUPER = 4  # lasso anti-aliasing: samples per pixel along each axis
_STRIP = 256  # rows rasterised at a time, bounding the supersampled buffer


class Combine(StrEnum):
    """How a new selection combines with the current one (the tool's shift/alt modes)."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"
    INTERSECT = "intersect"


class Selection:
    """A mask over the whole canvas, (height, width) uint8, 255 = selected, soft in between.

    A value: operations return a new Selection and never change this one.
    """

    __slots__ = ("mask",)

    def __init__(self, mask: np.ndarray) -> None:
        if mask.dtype != np.uint8 or mask.ndim != 2:
            raise ValueError(f"a selection is an (h, w) uint8 mask, got {mask.shape} {mask.dtype}")
        self.mask = mask
        self.mask.flags.writeable = False

    @property
    def size(self) -> tuple[int, int]:
        return self.mask.shape[1], self.mask.shape[0]

    @property
    def nbytes(self) -> int:
        return self.mask.nbytes

    @property
    def is_empty(self) -> bool:
        return not self.mask.any()

    # ---- shapes ----------------------------------------------------------------------------

    @classmethod
    def empty(cls, size: tuple[int, int]) -> Selection:
        return cls(np.zeros((size[1], size[0]), np.uint8))

    @classmethod
    def all(cls, size: tuple[int, int]) -> Selection:
        return cls(np.full((size[1], size[0]), 255, np.uint8))

    @classmethod
    def rectangle(cls, size: tuple[int, int], rect: Rect) -> Selection:
        mask = np.zeros((size[1], size[0]), np.uint8)
        part = rect.intersect(Rect(0, 0, *size))
        if not part.is_empty:
            mask[part.slices()] = 255
        return cls(mask)

    @classmethod
    def ellipse(cls, size: tuple[int, int], rect: Rect) -> Selection:
        """The ellipse inscribed in `rect`, with an anti-aliased edge."""
        mask = np.zeros((size[1], size[0]), np.uint8)
        part = rect.intersect(Rect(0, 0, *size))
        if part.is_empty:
            return cls(mask)
        rx, ry = rect.w / 2, rect.h / 2
        ys = (np.arange(part.y, part.bottom, dtype=np.float32) + 0.5 - (rect.y + ry)) / ry
        xs = (np.arange(part.x, part.right, dtype=np.float32) + 0.5 - (rect.x + rx)) / rx
        radius = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
        coverage = (1 - radius) * min(rx, ry) + 0.5  # about the distance to the edge, in px
        mask[part.slices()] = np.clip(coverage * 255 + 0.5, 0, 255).astype(np.uint8)
        return cls(mask)

    @classmethod
    def lasso(cls, size: tuple[int, int], points: Sequence[tuple[float, float]]) -> Selection:
        """The polygon through `points` (canvas pixels), anti-aliased by 4x4 supersampling."""
        mask = np.zeros((size[1], size[0]), np.uint8)
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if len(pts) < 3:
            return cls(mask)
        lo, hi = np.floor(pts.min(axis=0)), np.ceil(pts.max(axis=0))
        box = Rect.bounds(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])).intersect(
            Rect(0, 0, *size)
        )
        for y in range(box.y, box.bottom, _STRIP):
            strip = Rect.bounds(box.x, y, box.right, min(y + _STRIP, box.bottom))
            mask[strip.slices()] = _polygon_coverage(pts, strip)
        return cls(mask)

    # ---- operations ------------------------------------------------------------------------

    def combine(self, other: Selection, mode: Combine = Combine.REPLACE) -> Selection:
        mode = Combine(mode)
        if mode is Combine.REPLACE:
            return other
        if mode is Combine.ADD:
            return Selection(np.maximum(self.mask, other.mask))
        if mode is Combine.INTERSECT:
            return Selection(np.minimum(self.mask, other.mask))
        return Selection(np.minimum(self.mask, 255 - other.mask))

    def invert(self) -> Selection:
        return Selection(255 - self.mask)

    def bbox(self) -> Rect | None:
        """The bounds of the selected (non-zero) pixels; None when nothing is selected."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(self.mask.any(axis=0))
        return Rect.bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)

    def crop(self, rect: Rect) -> np.ndarray:
        """The mask inside `rect` (outside the canvas reads as unselected)."""
        out = np.zeros((rect.h, rect.w), np.uint8)
        part = rect.intersect(Rect(0, 0, *self.size))
        if not part.is_empty:
            out[part.slices(rect.x, rect.y)] = self.mask[part.slices()]
        return out

    def grow(self, pixels: float) -> Selection:
        """Expand the selection by `pixels` (round corners, soft edge)."""
        if pixels <= 0:
            return self if pixels == 0 else self.shrink(-pixels)
        work = self._work_rect(pixels + 2)
        if work is None:
            return self
        region = self.mask[work.slices()]
        outside = (region < 128).astype(np.uint8)
        distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        # a pixel centre `distance` from the nearest selected centre is distance - 0.5 from
        # the selection's edge; the grown edge covers it by pixels + 0.5 - that distance
        grown = np.clip((pixels + 1 - distance) * 255, 0, 255).astype(np.uint8)
        return self._with(work, np.maximum(region, grown))

    def shrink(self, pixels: float) -> Selection:
        """Contract the selection by `pixels`."""
        if pixels <= 0:
            return self if pixels == 0 else self.grow(-pixels)
        return self.invert().grow(pixels).invert()

    def feather(self, radius: float) -> Selection:
        """Soften the edge over about `radius` pixels on each side (Gaussian)."""
        if radius <= 0:
            return self
        sigma = radius / 2
        work = self._work_rect(int(np.ceil(3 * sigma)) + 1)
        if work is None:
            return self
        region = self.mask[work.slices()].astype(np.float32)
        blurred = cv2.GaussianBlur(region, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        return self._with(work, np.clip(blurred + 0.5, 0, 255).astype(np.uint8))

    def _work_rect(self, margin: float) -> Rect | None:
        """The bbox grown by `margin`, clipped to the canvas: outside it the mask stays 0."""
        box = self.bbox()
        if box is None:
            return None
        m = int(np.ceil(margin))
        return Rect.bounds(box.x - m, box.y - m, box.right + m, box.bottom + m).intersect(
            Rect(0, 0, *self.size)
        )

    def _with(self, rect: Rect, region: np.ndarray) -> Selection:
        mask = np.zeros_like(self.mask)
        mask[rect.slices()] = region
        return Selection(mask)


def _polygon_coverage(points: np.ndarray, rect: Rect) -> np.ndarray:
    """Coverage (0..255) of the polygon over the pixels of `rect`, supersampled."""
    shift = 4  # cv2 sub-pixel bits
    # pixel centres of the supersampled grid sit at (j + 0.5) / _SUPER canvas pixels
    local = (points - (rect.x, rect.y)) * _SUPER - 0.5
    fine = np.zeros((rect.h * _SUPER, rect.w * _SUPER), np.uint8)
    pts = np.round(local * (1 << shift)).astype(np.int32)
    cv2.fillPoly(fine, [pts], 255, lineType=cv2.LINE_8, shift=shift)
    return cv2.resize(fine, (rect.w, rect.h), interpolation=cv2.INTER_AREA)
