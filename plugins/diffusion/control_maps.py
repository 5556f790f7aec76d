"""Control maps from pixels with OpenCV: scribble, line art, soft edge and canny.

Each preprocessor takes an (h, w, 3|4) uint8 picture and returns the (h, w, 3) uint8 map
a ControlNet of that kind expects: white lines on black. Torch-free and Qt-free, so the
window (a control layer's preview) and the CLI (`--control canny:photo.png`) make the same
map. Depth and pose need models (depth) or are imported as they are (an OpenPose-style
picture); they are not made here. A depth picture that `is_photo` (it has colour) gets its
depth map from a depth model on the engine thread (plugins.diffusion.depth).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

PIXEL_KINDS = ("scribble", "lineart", "softedge", "canny")  # made from pixels here
AS_IS_KINDS = ("depth", "pose")  # a map of these kinds is used as it is


def _gray(image: np.ndarray) -> np.ndarray:
    """Luminance, with transparent pixels counted as the picture's background."""
    rgb = image[..., :3].astype(np.float32)
    gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    if image.shape[2] == 4:
        alpha = image[..., 3].astype(np.float32) / 255
        gray = gray * alpha + _background_level(gray, alpha) * (1 - alpha)
    return np.clip(gray, 0, 255).astype(np.uint8)


def _background_level(gray: np.ndarray, alpha: np.ndarray) -> float:
    """What transparent pixels stand for: black under light strokes, white under dark."""
    drawn = alpha > 0.5
    if not drawn.any():
        return 0.0
    return 0.0 if float(np.median(gray[drawn])) >= 128 else 255.0


def _as_rgb(lines: np.ndarray) -> np.ndarray:
    return np.repeat(lines[..., None], 3, axis=2)


def lines_are_dark(gray: np.ndarray) -> bool:
    """Whether a drawing has dark lines on a light ground (the border is mostly light)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) >= 128


def scribble(image: np.ndarray) -> np.ndarray:
    """Strokes as white on black, whichever polarity they were drawn in; thin strokes are
    thickened a little, as scribble ControlNets were trained on bold lines."""
    gray = _gray(image)
    if lines_are_dark(gray):
        gray = 255 - gray
    _, lines = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if not lines.any() or lines.all():
        return _as_rgb(np.zeros_like(gray))
    side = max(3, round(min(gray.shape) / 170) | 1)
    return _as_rgb(cv2.dilate(lines, np.ones((side, side), np.uint8)))


def canny(image: np.ndarray, low: int = 0, high: int = 0) -> np.ndarray:
    """Canny edges; thresholds 0 are chosen from the picture's median (0.66x and 1.33x)."""
    gray = cv2.GaussianBlur(_gray(image), (3, 3), 0)
    if not low or not high:
        median = float(np.median(gray))
        low, high = int(max(0, 0.66 * median)), int(min(255, 1.33 * median))
        low, high = max(low, 20), max(high, 60)
    return _as_rgb(cv2.Canny(gray, low, high))


def lineart(image: np.ndarray) -> np.ndarray:
    """Thin contour lines: where a pixel is darker than its neighbourhood (ink on paper)."""
    gray = _gray(image).astype(np.float32)
    local = cv2.GaussianBlur(gray, (0, 0), 2.0)
    lines = np.clip((local - gray) * 6.0, 0, 255)
    edges = cv2.Canny(gray.astype(np.uint8), 40, 120).astype(np.float32)
    return _as_rgb(np.maximum(lines, edges * 0.8).astype(np.uint8))


def softedge(image: np.ndarray) -> np.ndarray:
    """Soft boundaries (HED-like): the gradient's magnitude at two scales, blurred."""
    gray = _gray(image).astype(np.float32) / 255
    total = np.zeros_like(gray)
    for sigma in (1.0, 3.0):
        smooth = cv2.GaussianBlur(gray, (0, 0), sigma)
        gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
        total += np.sqrt(gx * gx + gy * gy)
    total = cv2.GaussianBlur(total, (0, 0), 1.5)
    peak = float(total.max())
    if peak <= 1e-6:
        return _as_rgb(np.zeros(gray.shape, np.uint8))
    return _as_rgb((np.clip(total / peak, 0, 1) ** 0.7 * 255).astype(np.uint8))


def as_is(image: np.ndarray) -> np.ndarray:
    """The picture's RGB, transparent parts black (a depth map or a pose drawn elsewhere)."""
    rgb = image[..., :3]
    if image.shape[2] == 4:
        rgb = (rgb.astype(np.float32) * (image[..., 3:4] / 255.0)).round().astype(np.uint8)
    return np.ascontiguousarray(rgb)


COLOUR_LEVELS = 8  # channels further apart than this make a pixel coloured
PHOTO_SHARE = 0.01  # a picture with more coloured pixels than this is a photo


def is_photo(image: np.ndarray) -> bool:
    """Whether a depth control's picture is a photo rather than a depth map: a depth map is
    grey (its channels alike, up to a JPEG's noise), a photo has colour."""
    rgb = image[..., :3].astype(np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return float(np.mean(spread > COLOUR_LEVELS)) > PHOTO_SHARE


PREPROCESSORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "scribble": scribble,
    "lineart": lineart,
    "softedge": softedge,
    "canny": canny,
    "depth": as_is,
    "pose": as_is,
}


def is_picture(image: object) -> bool:
    """Whether `image` is an (h, w, 3|4) uint8 array: the pictures jobs take."""
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] in (3, 4)
    )


def control_map(kind: str, image: np.ndarray) -> np.ndarray:
    """`image` as a control map of `kind` ((h, w, 3) uint8); ValueError for an unknown kind
    or a picture that is not (h, w, 3|4) uint8."""
    if kind not in PREPROCESSORS:
        raise ValueError(f"Unknown control kind '{kind}'; one of {', '.join(PREPROCESSORS)}.")
    if not is_picture(image):
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"A control picture must be (height, width, 3 or 4) 8-bit, not {shape}.")
    return PREPROCESSORS[kind](image)
