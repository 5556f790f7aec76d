"""Open PNG/JPEG/WebP images as documents or layers; export the image or a layer through
the registered exporters (the built-in ones are in plugins/image_export)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from app.model.document import MAX_CANVAS_SIDE, Document
from app.model.generation_info import composite_record, make_composite
from app.model.image_files import (
    MAX_IMAGE_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageReadError,
    check_pixel_count,
    pillow_image,
    read_image_bytes,
    read_text_chunks,
)
from app.model.layers import RasterLayer
from engine.protocol import ImageData
from engine.untrusted import parse_json
from plugins.api import Exporter
from plugins.exporters import export, exporter_for

# A picture opened as a document or a layer may be as large as a canvas (what Atelier
# exports, it opens again); the repaint commands read at most MAX_IMAGE_PIXELS.
CANVAS_PIXELS = MAX_CANVAS_SIDE * MAX_CANVAS_SIDE
_EXIF_IFD, _USER_COMMENT = 0x8769, 0x9286


# ---- opening ---------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str], max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """The pixels of an image file as (h, w, 4) uint8 RGBA, EXIF orientation applied.
    Only PNG, JPEG and WebP are decoded, and only up to `max_pixels` (checked in the
    header, before decoding). Raises ImageReadError naming the file when it cannot be read."""
    path = Path(path)
    # a PNG holds at most about 4 bytes a pixel (RGBA, barely compressed) plus its rows' filters
    max_bytes = max(MAX_IMAGE_FILE_BYTES, max_pixels * 5)
    with pillow_image(read_image_bytes(path, max_bytes), path) as image:
        check_pixel_count(image, path, max_pixels)
        return np.asarray(_to_rgba(ImageOps.exif_transpose(image)))


def _to_rgba(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit greyscale: keep the top bits
        grey = (np.asarray(image, np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(grey, "L")
    return image.convert("RGBA")


def read_recipe(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The Atelier recipe saved in an image's metadata, if any. A composite (an exported
    picture of several layers) has none: no one recipe made its pixels, so the layer it
    opens as cannot regenerate; its layers' settings are offered when it is opened."""
    try:
        chunk = read_text_chunks(path).get("atelier")
        data = parse_json(chunk, f"the Atelier recipe in {path}") if chunk else None
    except (ImageReadError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("composite") is not None:
        return None
    recipe = data.get("recipe")
    return recipe if isinstance(recipe, dict) else None


def layer_from_image(
    path: str | os.PathLike[str], size: tuple[int, int] | None = None, x: int = 0, y: int = 0
) -> RasterLayer:
    """A raster layer (of canvas `size`, default the image's) holding the image at (x, y),
    named after the file and carrying its recipe when it has one."""
    path = Path(path)
    pixels = read_image(path, CANVAS_PIXELS)
    return RasterLayer.from_array(pixels, size, x, y, name=path.stem, recipe=read_recipe(path))


def open_image(path: str | os.PathLike[str]) -> Document:
    """A new document the size of the image, with the image as its one layer."""
    layer = layer_from_image(path)
    return Document(layer.pixels.size, [layer])


# ---- exporting -------------------------------------------------------------------------------


def document_image(doc: Document, layer_id: str | None = None) -> ImageData:
    """The flattened picture, or one layer's pixels (`layer_id`), as an image output to
    export. One layer, or a picture that is one generated layer, carries that layer's
    recipe; any other picture with generated layers is a composite: its size and each
    generated layer's name, place and recipe (meta["composite"], see
    generation_info.make_composite), with the largest layer's recipe as its own. Pixels
    holding generated layers are watermarked and carry a provenance record that names
    each layer's mark where it lies (docs/DESIGN.md section 3)."""
    from plugins.provenance.marking import GeneratedLayer, mark_export_with_provenance

    composite = None
    if layer_id is None:
        pixels = doc.composite()
        visible = [lay for lay in doc.raster_layers() if lay.visible]
        generated = [_generated(lay) for lay in reversed(visible) if lay.recipe]
        only_generated = len(generated) == len(visible)
        if generated and not (only_generated and len(visible) == 1 and _covers(doc, visible[0])):
            composite = make_composite(doc.width, doc.height, len(visible), generated)
    else:
        layer = doc.find(layer_id)
        if not isinstance(layer, RasterLayer):
            raise ValueError(f"layer {layer.name!r} is not a raster layer")
        pixels, only_generated = layer.pixels.to_array(), True
        generated = [_generated(layer)] if layer.recipe else []
    marks = [GeneratedLayer(lay["recipe"], lay["name"], _box(lay)) for lay in generated]
    pixels, provenance = mark_export_with_provenance(pixels, marks, only_generated)
    if composite is not None:
        recipe = composite.chosen_layer.info.recipe
    else:
        recipe = generated[0]["recipe"] if generated else None
    meta = {
        "recipe": recipe,
        "composite": composite_record(composite) if composite else None,
        "provenance": provenance,
    }
    return ImageData(pixels, {key: value for key, value in meta.items() if value})


def _generated(layer: RasterLayer) -> dict[str, Any]:
    """A generated layer as a composite lists it: name, where its pixels lie, recipe."""
    box = layer.pixels.bbox() or layer.pixels.rect
    return {"name": layer.name, "x": box.x, "y": box.y, "width": box.w, "height": box.h,
            "recipe": layer.recipe}  # fmt: skip


def _box(layer: dict[str, Any]) -> tuple[int, int, int, int]:
    return layer["x"], layer["y"], layer["width"], layer["height"]


def _covers(doc: Document, layer: RasterLayer) -> bool:
    """Whether the layer's pixels fill the whole canvas (the picture is that layer)."""
    return layer.pixels.bbox() == doc.rect


def export_document(
    doc: Document,
    path: str | os.PathLike[str],
    exporters: Iterable[Exporter],
    layer_id: str | None = None,
) -> Path:
    """Write the picture (or one layer) with the exporter of images that `path`'s suffix
    names; ValueError naming the suffixes that work, ImageWriteError naming the file."""
    path = Path(path)
    exporter = exporter_for(path, exporters, "images")
    return export(exporter, path, document_image(doc, layer_id))
