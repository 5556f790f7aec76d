"""Automatic scoring of a generated image against the scene its caption described."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import cv2
import numpy as np

from .scenes import PALETTE, Scene, position_of_cell

_NAMES = list(PALETTE)
_COLORS = np.array([PALETTE[n] for n in _NAMES], np.float32)
_MIN_AREA_FRACTION = 0.002  # blobs smaller than this share of the image are noise
_FOREGROUND_DISTANCE = 60.0  # RGB distance from the background that counts as a shape


@dataclass(frozen=True)
class Blob:
    """A shape found in an image: its colour name, kind, grid position and area."""

    color: str
    kind: str
    position: str
    area: float


def nearest_color(rgb: np.ndarray) -> str:
    """Name of the palette colour nearest to an RGB triple."""
    distances = np.linalg.norm(_COLORS - np.asarray(rgb, np.float32), axis=1)
    return _NAMES[int(np.argmin(distances))]


def background_rgb(image: np.ndarray) -> np.ndarray:
    """The dominant colour of the image border (median of the palette-nearest majority)."""
    h, w = image.shape[:2]
    band = max(2, min(h, w) // 32)
    border = np.concatenate(
        [
            image[:band].reshape(-1, 3),
            image[-band:].reshape(-1, 3),
            image[:, :band].reshape(-1, 3),
            image[:, -band:].reshape(-1, 3),
        ]
    ).astype(np.float32)
    labels = np.argmin(np.linalg.norm(border[:, None] - _COLORS[None], axis=2), axis=1)
    majority = np.bincount(labels, minlength=len(_NAMES)).argmax()
    return np.median(border[labels == majority], axis=0)


def classify_contour(contour: np.ndarray) -> str:
    """Kind of a filled contour: star (low solidity), triangle, square or circle."""
    area = cv2.contourArea(contour)
    hull = cv2.convexHull(contour)
    hull_area = max(cv2.contourArea(hull), 1e-6)
    if area / hull_area < 0.8:
        return "star"
    perimeter = max(cv2.arcLength(hull, True), 1e-6)
    circularity = 4 * np.pi * hull_area / perimeter**2
    vertices = len(cv2.approxPolyDP(hull, 0.06 * perimeter, True))
    if vertices == 3:
        return "triangle"
    if circularity > 0.85:
        return "circle"
    if vertices == 4:
        return "square"
    # Fall back on how much of the bounding box the shape fills.
    _, _, bw, bh = cv2.boundingRect(contour)
    extent = area / max(bw * bh, 1)
    return "square" if extent > 0.88 else "circle" if extent > 0.65 else "triangle"


def find_blobs(image: np.ndarray) -> tuple[str, list[Blob]]:
    """Background colour name and the shapes found in an (H, W, 3) RGB uint8 image."""
    h, w = image.shape[:2]
    bg = background_rgb(image)
    pixels = image.astype(np.float32)
    mask = (np.linalg.norm(pixels - bg, axis=2) > _FOREGROUND_DISTANCE).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    blobs = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < _MIN_AREA_FRACTION * h * w:
            continue
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, [contour], -1, 1, -1)
        inner = cv2.erode(filled, np.ones((3, 3), np.uint8))
        inside = (inner if inner.any() else filled).astype(bool) & mask.astype(bool)
        color = nearest_color(np.median(pixels[inside], axis=0)) if inside.any() else "?"
        moments = cv2.moments(contour)
        cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
        cell = (min(2, int(3 * cx / w)), min(2, int(3 * cy / h)))
        blobs.append(Blob(color, classify_contour(contour), position_of_cell(*cell), area))
    blobs.sort(key=lambda b: -b.area)
    return nearest_color(bg), blobs


def score(image: np.ndarray, scene: Scene) -> dict[str, bool]:
    """Check an image against a scene; fields left None in the scene are not scored.

    Keys: background, color, shape, position (every described shape right in that
    respect, position only when some shape has one), count (as many shapes as described)
    and, for scenes of two or more shapes, all_shapes (count right and every shape fully
    right).
    """
    background, blobs = find_blobs(image)
    shapes = scene.shapes
    candidates = blobs[: len(shapes) + 3]
    best: list[tuple[bool, bool, bool]] = [(False, False, False)] * len(shapes)
    best_total = -1
    for chosen in permutations(range(len(candidates)), min(len(shapes), len(candidates))):
        checks = []
        for shape, index in zip(shapes, chosen, strict=False):
            blob = candidates[index]
            checks.append(
                (
                    blob.color == shape.color,
                    blob.kind == shape.kind,
                    shape.position is None or blob.position == shape.position,
                )
            )
        checks += [(False, False, False)] * (len(shapes) - len(checks))
        total = sum(sum(c) for c in checks)
        if total > best_total:
            best, best_total = checks, total
    result = {
        "background": background == scene.background,
        "color": all(c[0] for c in best),
        "shape": all(c[1] for c in best),
        "count": len(blobs) == len(shapes),
    }
    if any(s.position is not None for s in shapes):
        result["position"] = all(c[2] for c in best)
    if len(shapes) >= 2:
        result["all_shapes"] = result["count"] and all(all(c) for c in best)
    return result
