"""Mask geometry for inpaint and outpaint: grow, feather, context crop, colour match, paste-back.

Torch-free (numpy and OpenCV). Masks are (h, w) uint8 with 255 = repaint; a *soft mask* is
the grown and feathered blend weight of the paste-back, and 0 in it means "this pixel stays
exactly as it was". Boxes are (x, y, w, h) in canvas pixels.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from plugins.diffusion.params import MASK_THRESHOLD

MIN_WORK_SIDE = 64
RING_WIDTH = 8  # pixels just outside the mask whose colours the new pixels are matched to
_MIN_RING_PIXELS = 16
TEXTURE_STD = 8.0  # a ring channel's standard deviation (0-255) from which it has texture


class Box(NamedTuple):
    """A rectangle on the canvas (a JSON list when it goes into metadata)."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def slices(self) -> tuple[slice, slice]:
        """Index an (h, w, ...) array with this: `image[box.slices()]`."""
        return slice(self.y, self.bottom), slice(self.x, self.right)


def rgba(image: np.ndarray) -> np.ndarray:
    """An (h, w, 3 or 4) uint8 picture as (h, w, 4) RGBA (opaque when it had no alpha)."""
    if image.shape[2] == 4:
        return image
    return np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)


def bbox(mask: np.ndarray) -> Box | None:
    """The bounding box of the non-zero pixels of a mask; None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return Box(int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def place_mask(
    mask: np.ndarray, origin: tuple[int, int] | None, size: tuple[int, int]
) -> np.ndarray:
    """The mask on a canvas of `size` (w, h) with its top-left at `origin`, clipped to it."""
    width, height = size
    if origin is None:
        return mask
    x, y = origin
    placed = np.zeros((height, width), np.uint8)
    top, left = max(0, y), max(0, x)
    bottom, right = min(height, y + mask.shape[0]), min(width, x + mask.shape[1])
    if bottom > top and right > left:
        placed[top:bottom, left:right] = mask[top - y : bottom - y, left - x : right - x]
    return placed


def _distance_to(region: np.ndarray) -> np.ndarray:
    """Each pixel's exact distance to the nearest pixel of `region` (0 on it)."""
    return cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _grow(region: np.ndarray, pixels: float) -> np.ndarray:
    """Pixels within `pixels` of the region (a round brush)."""
    return region if pixels <= 0 else _distance_to(region) <= pixels


def soft_mask(mask: np.ndarray, grow: int, feather: int) -> np.ndarray:
    """The blend weight (h, w) uint8: the mask's area grown by `grow` pixels, its edge
    softened by a smooth ramp from `feather` pixels inside to `feather` pixels outside (exact
    distances, so corners are round). With grow >= feather - 1 the painted area itself is
    fully repainted; 0 where nothing may change. Work stays near the mask, so a small mask
    on a huge canvas is cheap."""
    region = mask >= MASK_THRESHOLD
    soft = np.zeros(mask.shape, np.uint8)
    box = bbox(region)
    if box is None:
        return soft
    margin = grow + feather + 2
    window = clip_box(
        Box(box.x - margin, box.y - margin, box.w + 2 * margin, box.h + 2 * margin),
        mask.shape[1::-1],
    )
    grown = _grow(region[window.slices()], grow)
    if feather <= 0:
        soft[window.slices()] = grown * np.uint8(255)
        return soft
    inside = _distance_to(~grown)  # from a pixel of the grown area to the nearest outside
    outside = _distance_to(grown)
    edge = np.where(grown, -inside, outside)  # signed, in pixels: the edge lies at 0
    ramp = np.clip((feather - edge) / (2 * feather), 0.0, 1.0)
    soft[window.slices()] = np.round(ramp * ramp * (3 - 2 * ramp) * 255).astype(np.uint8)
    return soft


def clip_box(box: Box, size: tuple[int, int]) -> Box:
    """The part of a box on a canvas of `size` (w, h)."""
    x, y = max(0, box.x), max(0, box.y)
    right, bottom = min(size[0], box.right), min(size[1], box.bottom)
    return Box(x, y, max(0, right - x), max(0, bottom - y))


def context_box(region: Box, size: tuple[int, int], context: int, aspect: float = 1.0) -> Box:
    """The crop to generate: the region plus `context` pixels around it, its short side
    widened toward the model's aspect (w / h; at most doubled, so a long strip stays a strip
    and keeps its detail), shifted and clipped to stay on the canvas."""
    w, h = region.w + 2 * context, region.h + 2 * context
    if w / h < aspect:
        w = min(round(h * aspect), 2 * w)
    else:
        h = min(round(w / aspect), 2 * h)
    w, h = min(w, size[0]), min(h, size[1])
    cx, cy = region.x + region.w / 2, region.y + region.h / 2
    x = min(max(0, round(cx - w / 2)), size[0] - w)
    y = min(max(0, round(cy - h / 2)), size[1] - h)
    return Box(x, y, w, h)


def work_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """The size to generate a (w, h) crop at: about side x side pixels in the crop's aspect,
    the long side at most twice `side`; multiples of 8, at least 64."""
    scale = min(math.sqrt(side * side / (size[0] * size[1])), 2 * side / max(size))

    def snapped(value: float) -> int:
        return int(max(MIN_WORK_SIDE, round(value / 8) * 8))

    return snapped(size[0] * scale), snapped(size[1] * scale)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An image or mask at (w, h): area averaging to shrink, bicubic to enlarge."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def block_mask(region: np.ndarray, block: int = 8) -> np.ndarray:
    """Every `block` x `block` cell that the region touches, whole: the latent mask of a
    diffusion model has one value per 8x8 pixels, so thin strokes do not vanish in it."""
    h, w = region.shape
    padded = np.zeros((-(-h // block) * block, -(-w // block) * block), bool)
    padded[:h, :w] = region
    cells = padded.reshape(padded.shape[0] // block, block, -1, block).any(axis=(1, 3))
    return np.repeat(np.repeat(cells, block, axis=0), block, axis=1)[:h, :w]


def ring(region: np.ndarray, width: int = RING_WIDTH) -> np.ndarray:
    """The pixels within `width` pixels outside a region."""
    return _grow(region, width) & ~region


def match_colours(generated: np.ndarray, original: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Shift and scale each channel of `generated` (h, w, 3 uint8) so that its mean and
    standard deviation over the pixels `where` equal those of `original` there. Corrects the
    colour cast a VAE round trip or a model gives a crop; the scale is kept within 0.5-2,
    and only taken where both rings have texture: over a flat ring the ratio of standard
    deviations measures noise, and scaling by it washed a new shape out toward the
    background (a black star on yellow came out olive)."""
    if int(where.sum()) < _MIN_RING_PIXELS:
        return generated
    new, old = generated[where].astype(np.float32), original[where].astype(np.float32)
    new_std, old_std = new.std(axis=0), old.std(axis=0)
    textured = np.minimum(new_std, old_std) >= TEXTURE_STD
    scale = np.where(textured, np.clip(old_std / np.maximum(new_std, 1.0), 0.5, 2.0), 1.0)
    matched = (generated.astype(np.float32) - new.mean(axis=0)) * scale + old.mean(axis=0)
    return np.clip(np.round(matched), 0, 255).astype(np.uint8)


def paste_back(canvas: np.ndarray, patch: np.ndarray, box: Box, soft: np.ndarray) -> np.ndarray:
    """A copy of the RGBA canvas with the patch (box-sized RGB, made opaque) blended in by
    the soft mask; wherever the soft mask is 0 the canvas pixels are copied exactly."""
    result = canvas.copy()
    weight = soft[box.slices()].astype(np.float32)[..., None] / 255.0
    old = canvas[box.slices()]
    new = np.concatenate([patch[..., :3], np.full(patch.shape[:2] + (1,), 255, np.uint8)], axis=2)
    blended = np.round(old + (new.astype(np.float32) - old) * weight).astype(np.uint8)
    result[box.slices()] = np.where(weight > 0, blended, old)
    return result


def extend_canvas(image: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    """The RGBA image on a larger canvas; the new area pre-filled with the image's edges
    stretched outward and blurred (a neutral start for the model to paint over)."""
    stretched = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    size = 2 * min(63, max(1, max(left, top, right, bottom) // 2)) + 1
    blurred = cv2.blur(stretched, (size, size), borderType=cv2.BORDER_REPLICATE)
    h, w = image.shape[:2]
    blurred[top : top + h, left : left + w] = image
    return blurred


def outpaint_mask(
    size: tuple[int, int], amounts: tuple[int, int, int, int], overlap: int
) -> np.ndarray:
    """The soft mask of an outpaint: 255 over the new area, fading to 0 over `overlap` pixels
    into the old image (`size` is the old image's (w, h), amounts left, top, right, bottom)."""
    left, top, right, bottom = amounts
    w, h = size
    new_area = np.full((h + top + bottom, w + left + right), 255, np.uint8)
    new_area[top : top + h, left : left + w] = 0
    return soft_mask(new_area, overlap - overlap // 2, overlap // 2)
