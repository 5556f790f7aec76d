"""Scores a picture made with the scribble control against the layout that was scribbled.

Per shape: the pixels of the shape's colour (less those of other shapes of the same
colour) against where the shape lies (intersection over union), and the colour inside
it; per picture: the colour around the shapes is the background's.
"""

from __future__ import annotations

import cv2
import numpy as np

from .control_samples import ControlLayout, filled
from .scenes import PALETTE
from .scoring import palette_labels

IOU_HIT = 0.5
_NAMES = list(PALETTE)
_AROUND = 5  # pixels kept clear around the shapes when reading the background


def _shape_mask(layout: ControlLayout, index: int) -> np.ndarray:
    return filled(ControlLayout(layout.background, (layout.shapes[index],)))


def _grown(mask: np.ndarray, pixels: int) -> np.ndarray:
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _majority(labels: np.ndarray) -> str:
    return _NAMES[int(np.bincount(labels.ravel(), minlength=len(_NAMES)).argmax())]


def score_picture(image: np.ndarray, layout: ControlLayout) -> dict[str, list[bool]]:
    """{"iou_hit": [per shape], "color": [per shape], "background": [one]} for an RGB
    picture made for `layout`."""
    labels = palette_labels(image[..., :3])
    masks = [_shape_mask(layout, i) for i in range(len(layout.shapes))]
    hits, colours = [], []
    for shape, truth in zip(layout.shapes, masks, strict=True):
        found = labels == _NAMES.index(shape.color)
        for other, mask in zip(layout.shapes, masks, strict=True):
            if other is not shape and other.color == shape.color:
                found &= ~_grown(mask, 2)
        union = (found | truth).sum()
        hits.append(bool(union and (found & truth).sum() / union >= IOU_HIT))
        core = cv2.erode(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        colours.append(_majority(labels[core if core.any() else truth]) == shape.color)
    outside = ~_grown(np.any(masks, axis=0), _AROUND) if masks else np.ones(labels.shape, bool)
    return {
        "iou_hit": hits,
        "color": colours,
        "background": [_majority(labels[outside]) == layout.background],
    }
