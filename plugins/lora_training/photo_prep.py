"""Preparing checked photos for LoRA training: an aspect-ratio bucket for each, a crop of that
aspect around what matters in it (the faces, else the most salient part, else the centre),
scaled to the bucket's size. Torch-free and Qt-free (numpy and OpenCV).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from plugins.lora_training.folder_check import Photo, caption_for
from plugins.lora_training.params import CROP_MODES

Box = tuple[int, int, int, int]  # x, y, width, height
FACE_CASCADE = "haarcascade_frontalface_default.xml"
FACE_DETECT_SIDE = 640  # faces are looked for in a copy at most this long
SALIENCY_SIDE = 64  # the spectral residual is computed at this size (Hou & Zhang, 2007)
# a face box grows by these fractions of its size, so that the crop keeps hair and chin
FACE_MARGIN_TOP, FACE_MARGIN_BOTTOM, FACE_MARGIN_SIDES = 0.5, 0.3, 0.25


@dataclass(frozen=True, eq=False)
class PreparedPhoto:
    """A photo as training sees it: cropped and scaled to its bucket, with its caption."""

    pixels: np.ndarray  # (h, w, 3) uint8 at its bucket's size
    caption: str
    source: Path
    box: Box  # the crop in the photo's pixels
    how: str  # "face", "saliency" or "center"


def buckets(resolution: int, step: int = 64) -> list[tuple[int, int]]:
    """The (width, height) buckets for a resolution: sides multiples of `step`, area at most
    resolution², aspect from 1:2 to 2:1, the largest one of each aspect, (resolution,
    resolution) among them; sorted from the tallest to the widest."""
    if resolution < step or resolution % step:
        raise ValueError(f"The resolution must be a multiple of {step}, not {resolution}.")
    area = resolution * resolution
    largest: dict[Fraction, tuple[int, int]] = {}
    for short in range(step, resolution + step, step):
        long = min(area // short // step * step, 2 * short)
        for width, height in ((short, long), (long, short)):
            aspect = Fraction(width, height)
            best = largest.get(aspect)
            if best is None or width * height > best[0] * best[1]:
                largest[aspect] = (width, height)
    return [largest[aspect] for aspect in sorted(largest)]


def bucket_for(width: int, height: int, choices: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The bucket whose aspect is nearest the picture's (on a log scale, so that 1:2 and 2:1
    are as far from 1:1); the larger one on a tie."""
    aspect = math.log(width / height)
    return min(choices, key=lambda b: (abs(math.log(b[0] / b[1]) - aspect), -b[0] * b[1]))


@functools.cache
def _face_detector() -> cv2.CascadeClassifier:
    cascade_class = getattr(cv2, "CascadeClassifier", None)
    path = Path(cv2.data.haarcascades) / FACE_CASCADE
    if cascade_class is None or not path.is_file():
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no Haar face detector ({FACE_CASCADE}); "
            "install opencv-python-headless 4.x."
        )
    detector = cascade_class(str(path))
    if detector.empty():
        raise RuntimeError(f"OpenCV could not load its face detector {path}.")
    return detector


def find_faces(pixels: np.ndarray) -> list[Box]:
    """The frontal faces in (H, W, 3) RGB pixels, as (x, y, w, h) boxes, found by OpenCV's
    bundled Haar cascade on a copy at most FACE_DETECT_SIDE long."""
    height, width = pixels.shape[:2]
    scale = min(1.0, FACE_DETECT_SIDE / max(width, height))
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    smallest = max(24, min(grey.shape) // 12)
    found = _face_detector().detectMultiScale(
        cv2.equalizeHist(grey), scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest)
    )
    boxes = np.asarray(found, dtype=np.int64).reshape(-1, 4).tolist()
    return [
        (round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in boxes
    ]


def saliency(pixels: np.ndarray) -> np.ndarray:
    """A (H, W) float32 map from 0 to 1 of how much each part of a picture stands out: the
    spectral residual (what is left of the log spectrum once its local average is taken
    away, turned back into an image), computed on a grey copy SALIENCY_SIDE long."""
    height, width = pixels.shape[:2]
    scale = SALIENCY_SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = cv2.resize(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(grey.astype(np.float64) / 255.0)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    small = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    small = cv2.GaussianBlur(small, (0, 0), 2.5)
    result = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    peak = float(result.max())
    return result / peak if peak > 0 else result


def saliency_centre(pixels: np.ndarray) -> tuple[float, float]:
    """The centre of mass (x, y) of the salient part: the saliency map above half its peak."""
    salient = saliency(pixels)
    weights = np.where(salient >= 0.5, salient, 0.0)
    total = float(weights.sum())
    height, width = salient.shape
    if total <= 0:
        return width / 2, height / 2
    ys, xs = np.indices(salient.shape)
    return float((weights * xs).sum() / total), float((weights * ys).sum() / total)


def face_focus(faces: Sequence[Box], width: int, height: int) -> tuple[float, float]:
    """The centre (x, y) of the faces' union grown for hair and chin, kept in the picture."""
    left = min(x - w * FACE_MARGIN_SIDES for x, _, w, _ in faces)
    right = max(x + w * (1 + FACE_MARGIN_SIDES) for x, _, w, _ in faces)
    top = min(y - h * FACE_MARGIN_TOP for _, y, _, h in faces)
    bottom = max(y + h * (1 + FACE_MARGIN_BOTTOM) for _, y, _, h in faces)
    left, right = max(0.0, left), min(float(width), right)
    top, bottom = max(0.0, top), min(float(height), bottom)
    return (left + right) / 2, (top + bottom) / 2


def crop_around(width: int, height: int, aspect: float, focus: tuple[float, float]) -> Box:
    """The largest box of `aspect` (width / height) inside a width x height picture, its
    centre as near `focus` as staying inside allows."""
    if width / height > aspect:
        crop_w, crop_h = max(1, min(width, round(height * aspect))), height
    else:
        crop_w, crop_h = width, max(1, min(height, round(width / aspect)))
    x = min(max(0, round(focus[0] - crop_w / 2)), width - crop_w)
    y = min(max(0, round(focus[1] - crop_h / 2)), height - crop_h)
    return x, y, crop_w, crop_h


def crop_box(pixels: np.ndarray, aspect: float, mode: str) -> tuple[Box, str]:
    """The crop of `aspect` for a picture and how its place was chosen ("face", "saliency"
    or "center"). Modes: "face" (the centre when no face is found), "saliency", "center",
    and "auto" (faces where found, else saliency)."""
    if mode not in CROP_MODES:
        raise ValueError(f"Unknown crop {mode!r}; choose one of {', '.join(CROP_MODES)}.")
    height, width = pixels.shape[:2]
    focus, how = (width / 2, height / 2), "center"
    faces = find_faces(pixels) if mode in ("auto", "face") else []
    if faces:
        focus, how = face_focus(faces, width, height), "face"
    elif mode in ("auto", "saliency"):
        focus, how = saliency_centre(pixels), "saliency"
    return crop_around(width, height, aspect, focus), how


def prepare_photos(
    photos: Sequence[Photo], resolution: int, crop: str, trigger: str, class_word: str
) -> list[PreparedPhoto]:
    """Each photo cropped to its bucket's aspect (`crop` mode) and scaled to the bucket
    (INTER_AREA when shrinking, INTER_CUBIC when enlarging), with its training caption."""
    choices = buckets(resolution)
    prepared = []
    for photo in photos:
        height, width = photo.pixels.shape[:2]
        bucket_w, bucket_h = bucket_for(width, height, choices)
        box, how = crop_box(photo.pixels, bucket_w / bucket_h, crop)
        x, y, w, h = box
        region = np.ascontiguousarray(photo.pixels[y : y + h, x : x + w])
        enlarging = bucket_w > w or bucket_h > h
        interpolation = cv2.INTER_CUBIC if enlarging else cv2.INTER_AREA
        pixels = cv2.resize(region, (bucket_w, bucket_h), interpolation=interpolation)
        caption = caption_for(photo, trigger, class_word)
        prepared.append(PreparedPhoto(pixels, caption, photo.path, box, how))
    return prepared
