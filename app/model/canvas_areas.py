"""The parts of a document a job works on: the area to fill, the mask to repaint, the layers
under a layer. Request builders (app.model.requests) read the document through these.
"""

from __future__ import annotations

import numpy as np

from app.model.document import Document
from app.model.layers import Layer, MaskLayer
from app.model.selection import Selection
from app.model.tiles import Rect

MASK_LEVEL = 128  # mask values from here up count as selected


def active_selection(doc: Document) -> Selection | None:
    """The document's selection; an empty one counts as none."""
    selection = doc.selection
    return None if selection is None or selection.is_empty else selection


def fill_target(doc: Document) -> Rect:
    """What a picture made from nothing fills: the selection's bounds, else the whole canvas."""
    selection = active_selection(doc)
    return selection.bbox() if selection is not None else doc.rect


def standalone_masks(doc: Document) -> list[MaskLayer]:
    """Visible mask layers that are not attached to a layer (painted masks)."""
    return [
        layer
        for layer in doc.walk()
        if isinstance(layer, MaskLayer) and layer.visible and doc.owner_of_mask(layer.id) is None
    ]


def inpaint_mask(doc: Document) -> np.ndarray | None:
    """What to repaint: the selection, else the painted mask layers; None when neither."""
    selection = active_selection(doc)
    if selection is not None and (selection.mask >= MASK_LEVEL).any():
        return np.asarray(selection.mask)
    masks = [m for m in standalone_masks(doc) if m.pixels.tiles]
    if not masks:
        return None
    merged = np.maximum.reduce([m.pixels.to_array()[..., 0] for m in masks])
    return merged if (merged >= MASK_LEVEL).any() else None


def layers_below(doc: Document, layer: Layer) -> list[Layer]:
    """The top-level layers under `layer` (under its top-level group when nested)."""
    top = next(t for t in doc.layers if any(lay is layer for lay in t.walk()))
    return doc.layers[: doc.layers.index(top)]
