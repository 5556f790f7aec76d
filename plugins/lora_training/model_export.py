"""Write a trained model (engine.protocol.ModelData) as one `.safetensors` file, atomically:
its tensors, its metadata, its tensor hash as kohya's trainers record it (`sshs_model_hash`,
`modelspec.hash_sha256`: what finds the file under another name, engine.weights_hash), its
thumbnail as the model spec's `modelspec.thumbnail`, and Atelier's recipe and the
thumbnail's provenance record as JSON. Torch-free."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save

from app.model.image_files import encode_png
from engine.file_writing import write_atomic
from engine.protocol import ImageData, ModelData
from engine.weights_hash import hash_metadata, tensor_hash_of

SUFFIX = ".safetensors"


def write_model(path: Path, output: ModelData) -> Path:
    """Write `output` at `path` (the umask's permissions for a new file, an existing file's
    mode kept). ValueError for a suffix other than .safetensors."""
    path = Path(path)
    if path.suffix.lower() != SUFFIX:
        raise ValueError(f"A trained model is written as {SUFFIX}, not as {path.name}.")
    tensors = {name: np.asarray(value, order="C") for name, value in output.tensors.items()}
    # the tensor data does not depend on the metadata, so it is hashed from a bare copy
    metadata = {**file_metadata(output), **hash_metadata(tensor_hash_of(save(tensors)))}
    write_atomic(path, save(tensors, metadata=metadata))
    return path


def file_metadata(output: ModelData) -> dict[str, str]:
    """The safetensors metadata of `output`: its own, plus its thumbnail (a PNG data URI),
    its recipe and its thumbnail's provenance record (JSON), where it has them."""
    metadata = dict(output.metadata)
    if output.thumbnail is not None:
        metadata["modelspec.thumbnail"] = thumbnail_uri(output.thumbnail)
    for key, value in (
        ("atelier.recipe", output.meta.get("recipe")),
        ("atelier.provenance", output.thumbnail and output.thumbnail.meta.get("provenance")),
    ):
        if isinstance(value, Mapping):
            metadata[key] = _json(value)
    return metadata


def thumbnail_uri(image: ImageData) -> str:
    """`data:image/png;base64,...` of the image's pixels, as they are."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image.pixels)).decode("ascii")


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)  # paths as text
