"""A canvas layer as a still for the timeline, Qt-free: its pixels over the whole canvas,
so it keeps its place in the frame."""

from __future__ import annotations

import numpy as np

from app.model.compositing import composite
from app.model.document import Document
from app.model.layers import GroupLayer, Layer, RasterLayer

NO_LAYER = "Choose a pixel layer or a group in the Layers panel to add it as a still."
EMPTY_LAYER = "The chosen layer is empty; paint or generate something on it first."


def layer_still(doc: Document, layer: Layer | None) -> np.ndarray:
    """The (H, W, 4) uint8 pixels of `layer` (a group: its layers merged) at the canvas's
    size; ValueError with a sentence when it is not a picture or holds nothing."""
    if isinstance(layer, GroupLayer):
        pixels = composite(layer.children, doc.rect)
    elif isinstance(layer, RasterLayer):
        pixels = layer.pixels.read(doc.rect)
    else:
        raise ValueError(NO_LAYER)
    if not pixels[..., 3].any():
        raise ValueError(EMPTY_LAYER)
    return pixels
