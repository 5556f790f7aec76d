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
    """A shape found in an image: its colour name, kind, grid position, area and centre
    (fractions of the image's width and height)."""

    color: str
    kind: str
    position: str
    area: float
    center: tuple[float, float] = (0.5, 0.5)


def nearest_color(rgb: np.ndarray) -> str:
    """Name of the palette colour nearest to an RGB triple."""
    distances = np.linalg.norm(_COLORS - np.asarray(rgb, np.float32), axis=1)
    return _NAMES[int(np.argmin(distances))]


def palette_labels(pixels: np.ndarray) -> np.ndarray:
    """Index into PALETTE of the nearest palette colour of each RGB pixel (any leading shape)."""
    flat = np.asarray(pixels, np.float32).reshape(-1, 3)
    nearest = np.argmin(np.linalg.norm(flat[:, None] - _COLORS[None], axis=2), axis=1)
    return nearest.reshape(np.shape(pixels)[:-1])


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
    labels = palette_labels(border)
    majority = np.bincount(labels, minlength=len(_NAMES)).argmax()
    return np.median(border[labels == majority], axis=0)


def radial_harmonics(contour: np.ndarray, samples: int = 128) -> np.ndarray:
    """Fourier magnitudes of a contour's radius around its centroid (mean radius = 1).

    A triangle shows up at harmonic 3, a square at 4, a five-pointed star at 5 and a circle
    at none; unlike corner counts, this survives the soft edges of a generated picture.
    """
    points = contour.reshape(-1, 2).astype(np.float64)
    moments = cv2.moments(contour)
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    angles = np.arctan2(points[:, 1] - cy, points[:, 0] - cx)
    radii = np.hypot(points[:, 0] - cx, points[:, 1] - cy)
    order = np.argsort(angles)
    grid = np.linspace(-np.pi, np.pi, samples, endpoint=False)
    profile = np.interp(grid, angles[order], radii[order], period=2 * np.pi)
    return np.abs(np.fft.rfft(profile / profile.mean())) / samples


# Harmonic strength above which a contour counts as that kind (between the medians of
# circles and of each kind in the VAE's reconstructions of drawn scenes).
_HARMONIC_KIND = {3: ("triangle", 0.035), 4: ("square", 0.03), 5: ("star", 0.012)}


def classify_contour(contour: np.ndarray) -> str:
    """Kind of a filled contour: the strongest of harmonics 3/4/5 past its bar, else circle."""
    harmonics = radial_harmonics(contour)
    ratios = {k: harmonics[k] / bar for k, (_, bar) in _HARMONIC_KIND.items()}
    strongest = max(ratios, key=ratios.get)
    return _HARMONIC_KIND[strongest][0] if ratios[strongest] > 1 else "circle"


def _sharp_outline(distance: np.ndarray, blob: np.ndarray, contrast: float) -> np.ndarray | None:
    """The blob's contour at half its contrast with the background (its soft edge's middle)."""
    near = cv2.dilate(blob, np.ones((5, 5), np.uint8)).astype(bool)
    mask = (near & (distance > 0.5 * contrast)).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    best = max(contours, key=cv2.contourArea, default=None)
    return best if best is not None and cv2.contourArea(best) > 0 else None


@dataclass(frozen=True, eq=False)
class Foreground:
    """What differs from an image's background: its RGB, each pixel's distance from it,
    the mask of pixels far enough, and the outer contours of the blobs large enough."""

    bg: np.ndarray
    distance: np.ndarray
    mask: np.ndarray
    contours: list[np.ndarray]


def foreground(image: np.ndarray) -> Foreground:
    """The foreground of an (H, W, 3) RGB uint8 image (see Foreground)."""
    h, w = image.shape[:2]
    bg = background_rgb(image)
    distance = np.linalg.norm(image.astype(np.float32) - bg, axis=2)
    mask = (distance > _FOREGROUND_DISTANCE).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    large = [c for c in contours if cv2.contourArea(c) >= _MIN_AREA_FRACTION * h * w]
    return Foreground(bg, distance, mask, large)


def find_blobs(image: np.ndarray) -> tuple[str, list[Blob]]:
    """Background colour name and the shapes found in an (H, W, 3) RGB uint8 image."""
    h, w = image.shape[:2]
    found = foreground(image)
    bg, distance, mask = found.bg, found.distance, found.mask
    pixels = image.astype(np.float32)
    blobs = []
    for contour in found.contours:
        area = cv2.contourArea(contour)
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, [contour], -1, 1, -1)
        inner = cv2.erode(filled, np.ones((3, 3), np.uint8))
        inside = (inner if inner.any() else filled).astype(bool) & mask.astype(bool)
        rgb = np.median(pixels[inside], axis=0) if inside.any() else bg
        color = nearest_color(rgb) if inside.any() else "?"
        sharp = _sharp_outline(distance, filled, float(np.linalg.norm(rgb - bg)))
        contour = contour if sharp is None else sharp
        moments = cv2.moments(contour)
        cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
        cell = (min(2, int(3 * cx / w)), min(2, int(3 * cy / h)))
        kind, position = classify_contour(contour), position_of_cell(*cell)
        blobs.append(Blob(color, kind, position, area, (cx / w, cy / h)))
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
