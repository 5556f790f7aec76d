"""Write an image output (engine.protocol.ImageData) as PNG, JPEG or WebP, atomically.

The settings of its recipe (meta["recipe"]) go into the file: PNG keeps A1111's
`parameters` and Atelier's recipe in text chunks, JPEG and WebP `parameters` in EXIF
UserComment (as A1111 does). A composite (meta["composite"]: an exported picture of
several layers) keeps its size and each generated layer's place and recipe in Atelier's
chunk, and its `parameters` are those of the layer it chose, saying so. With a
provenance record (meta["provenance"]) the file also carries XMP and signed Content
Credentials. JPEG has no alpha: transparent parts go onto white. Each raises
ImageWriteError naming the file when it cannot be written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.model import image_files
from app.model.generation_info import (
    GenerationInfo,
    composite_info,
    format_parameters,
    info_from_recipe,
    parse_composite,
)
from engine.protocol import ImageData

QUALITY = 95  # JPEG and WebP


def write_png(path: str | os.PathLike[str], image: ImageData) -> Path:
    info = _settings(image)
    text = image_files.generation_text_chunks(info, info.recipe) if info else {}
    return image_files.save_png(path, image.pixels, text, _meta(image, "provenance"))


def write_jpeg(path: str | os.PathLike[str], image: ImageData) -> Path:
    return _write_with_exif(Path(path), image, "JPEG")


def write_webp(path: str | os.PathLike[str], image: ImageData) -> Path:
    return _write_with_exif(Path(path), image, "WEBP")


def _meta(image: ImageData, key: str) -> Mapping[str, Any] | None:
    value = image.meta.get(key)
    return value if isinstance(value, Mapping) and value else None


def _settings(image: ImageData) -> GenerationInfo | None:
    """The settings to write: a composite's (its chosen layer's, with the composite), else
    those of the output's recipe; None when it has neither."""
    composite = parse_composite(_meta(image, "composite"))
    if composite is not None:
        return composite_info(composite)
    recipe = _meta(image, "recipe")
    return info_from_recipe(recipe) if recipe else None


def _write_with_exif(path: Path, image: ImageData, kind: str) -> Path:
    info = _settings(image)
    parameters = format_parameters(info) if info else ""
    data = image_files.with_provenance(
        _encode(image.pixels, kind, parameters), _meta(image, "provenance"), path.name
    )
    return image_files.write_image_bytes(path, data)


def _encode(rgba: np.ndarray, kind: str, parameters: str) -> bytes:
    picture = Image.fromarray(np.ascontiguousarray(rgba), "RGBA")
    options: dict[str, Any] = {"quality": QUALITY}
    if kind == "JPEG":
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture).convert("RGB")
    if parameters:
        exif = Image.Exif()
        comment = b"UNICODE\0" + parameters.encode("utf-16-be")
        exif.get_ifd(image_files.EXIF_IFD)[image_files.USER_COMMENT] = comment
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    picture.save(buffer, format=kind, **options)
    return buffer.getvalue()
