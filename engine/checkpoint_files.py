"""Checkpoint files on disk: safetensors headers, safe .ckpt loading and model-family detection.

Torch-free at import: only `load_ckpt_state_dict` imports torch, inside the function.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from engine.protocol import JobError
from engine.untrusted import (
    UntrustedInputError,
    display_path,
    parse_json,
    regular_file_size,
    validate,
)

FAMILIES = (
    "sd15",
    "sd2",
    "sdxl",
    "sdxl_refiner",
    "lora",
    "motion_lora",
    "vae",
    "controlnet",
    "motion",
    "unknown",
)
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
_UNET_FIRST_CONV = (  # the UNet's first convolution: its input channels tell inpainting models
    "model.diffusion_model.input_blocks.0.0.weight",
    "conv_in.weight",
    "unet.conv_in.weight",
)
INPAINT_CHANNELS = 9  # 4 latent + 1 mask + 4 masked-image latent channels
_LORA_KEY = re.compile(r"(?:^|[._])(?:lora|lokr|loha|hada)(?:[._]|$)", re.IGNORECASE)


class _TensorInfo(BaseModel):
    """One tensor of a safetensors header (extra keys are allowed, as the format allows)."""

    model_config = ConfigDict(extra="allow")
    dtype: StrictStr
    shape: list[Annotated[StrictInt, Field(ge=0)]]
    data_offsets: tuple[Annotated[StrictInt, Field(ge=0)], Annotated[StrictInt, Field(ge=0)]]


def _corrupt(path: Path, why: str) -> JobError:
    return JobError(
        "invalid_input",
        f"{display_path(path)} is not a usable .safetensors file: {why}. "
        "It may be damaged or only partly downloaded; download it again.",
    )


def _unreadable(path: Path, error: OSError | UntrustedInputError) -> JobError:
    """The error for a file that cannot be opened, or is a folder, pipe or device."""
    if isinstance(error, UntrustedInputError):
        return JobError("invalid_input", f"{display_path(path)} cannot be used: {error.reason}.")
    return JobError(
        "invalid_input", f"{display_path(path)} cannot be read: {error.strerror or error}"
    )


def read_safetensors_header(path: str | Path) -> dict[str, dict]:
    """The JSON header of a .safetensors file: tensor name -> {dtype, shape, data_offsets}.

    Reads only the header (plus the file size), so it is fast for multi-GB files. The
    optional "__metadata__" entry (a dict of strings) is kept. Raises
    JobError("invalid_input") naming the file when it is not a regular file, truncated or
    not safetensors (each tensor must have a dtype, a shape of sizes and two data offsets).
    """
    path = Path(path)
    try:
        size = regular_file_size(path)  # a pipe or a device would block or never end
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise _corrupt(path, f"the file is only {size} bytes long")
            if prefix == b"version ":
                raise _corrupt(path, "it is a Git LFS pointer, not the model itself (git lfs pull)")
            (n,) = struct.unpack("<Q", prefix)
            if n == 0 or n > MAX_HEADER_BYTES or n > size - 8:
                raise _corrupt(path, "it does not start with a safetensors header")
            raw = f.read(n)
    except (OSError, UntrustedInputError) as e:
        raise _unreadable(path, e) from None
    try:
        header = parse_json(raw, "its header", max_bytes=MAX_HEADER_BYTES)
    except UntrustedInputError as e:
        raise _corrupt(path, str(e)) from None
    if not isinstance(header, dict):
        raise _corrupt(path, "its header is not a table of tensors")
    _check_tensors(path, header, size - 8 - n)
    return header


def _check_tensors(path: Path, header: dict[str, Any], data_size: int) -> None:
    """Every tensor entry well formed, and inside the file's data section."""
    tensors = {name: info for name, info in header.items() if name != "__metadata__"}
    try:
        validate(tensors, dict[str, _TensorInfo], "its header")
    except UntrustedInputError as e:
        raise _corrupt(path, str(e)) from None
    for name, info in tensors.items():
        offsets = info["data_offsets"]
        if offsets[0] > offsets[1]:
            raise _corrupt(path, f"tensor {name!r} has no valid data offsets")
        if offsets[1] > data_size:
            raise _corrupt(
                path,
                f"it is truncated (tensor {name!r} ends at byte {offsets[1]} "
                f"but the data section has only {data_size} bytes)",
            )


def safetensors_metadata(header: dict[str, Any]) -> dict[str, str]:
    """The free-form "__metadata__" strings of a safetensors header (may be empty)."""
    meta = header.get("__metadata__")
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def tensor_names(header: dict[str, Any]) -> list[str]:
    """The tensor names of a safetensors header, without "__metadata__"."""
    return [k for k in header if k != "__metadata__"]


def load_ckpt_state_dict(path: str | Path, *, mmap: bool = False) -> dict[str, Any]:
    """A .ckpt/.pt file's tensors, loaded with weights_only=True (never runs code in the file).

    The "state_dict" nesting of Lightning/LDM checkpoints is unwrapped, and only entries
    named by strings are kept. With mmap=True, zip-format files are memory-mapped so that
    reading the keys is cheap. Raises JobError("invalid_input") when the file is refused
    (it contains code), is not a regular file, or is corrupt.
    """
    import pickle
    import warnings

    import torch

    path = Path(path)
    shown = display_path(path)
    try:
        regular_file_size(path)  # a pipe or a device would block torch.load forever
        use_mmap = mmap and zipfile.is_zipfile(path)
    except (OSError, UntrustedInputError) as e:
        raise _unreadable(path, e) from None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol", category=UserWarning)
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as e:
        if "weights only load failed" in str(e).lower():
            raise JobError(
                "invalid_input",
                f"{shown} refused: it contains code or other Python objects, not just weights, "
                "and opening it could run programs on this computer. "
                "Use a .safetensors version of this model instead.",
            ) from None
        raise JobError("invalid_input", f"{shown} is not a PyTorch checkpoint: {e}") from None
    except OSError as e:
        raise _unreadable(path, e) from None
    except Exception as e:  # torch raises RuntimeError/EOFError/KeyError for damaged files
        raise JobError(
            "invalid_input",
            f"{shown} is damaged or not a PyTorch checkpoint ({type(e).__name__}); "
            "download it again.",
        ) from None
    while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise JobError("invalid_input", f"{shown} holds a {type(data).__name__}, not model weights")
    return {name: value for name, value in data.items() if isinstance(name, str)}


def _has_prefix(keys: list[str], *prefixes: str) -> bool:
    return any(k.startswith(prefixes) for k in keys)


def detect_family(keys: Iterable[str]) -> str:
    """The model family from tensor names alone (never from block or layer counts).

    Understands original LDM/A1111 naming for full checkpoints and both LDM and
    diffusers naming for LoRAs, VAEs, ControlNets and motion modules. Returns one of
    FAMILIES: "sd15", "sd2", "sdxl", "sdxl_refiner", "lora", "motion_lora" (a LoRA whose
    tensors all target motion modules), "vae", "controlnet", "motion" or "unknown". A
    UNet alone (no text encoder) is "unknown": it cannot be loaded as a checkpoint.
    """
    keys = [k for k in keys if k != "__metadata__"]
    if any(_LORA_KEY.search(k) for k in keys):
        return "motion_lora" if all(_motion_key(k) for k in keys) else "lora"
    if _has_prefix(keys, "conditioner.embedders.1.model."):
        return "sdxl"
    if _has_prefix(keys, "conditioner.embedders.0.model."):
        return "sdxl_refiner"
    if _has_prefix(keys, "cond_stage_model.model."):
        return "sd2"
    if _has_prefix(keys, "cond_stage_model.transformer."):
        return "sd15"
    if _has_prefix(keys, "control_model.") or any("controlnet_cond_embedding" in k for k in keys):
        return "controlnet"
    if any(_motion_key(k) for k in keys):
        return "motion"
    unet = _has_prefix(keys, "model.diffusion_model.", "unet.", "down_blocks.", "input_blocks.")
    vae_keys = ("decoder.conv_in.weight", "first_stage_model.decoder.conv_in.weight")
    if not unet and any(k in vae_keys or k == "vae." + vae_keys[0] for k in keys):
        return "vae"
    return "unknown"


def _motion_key(key: str) -> bool:
    return ".motion_modules." in key or key.startswith("motion_modules.")


def detect_variant(shapes: Mapping[str, Sequence[int]]) -> str:
    """The variant from tensor shapes: "inpaint" when the UNet's first conv takes 9 channels.

    `shapes` maps tensor names to shapes (a safetensors header's "shape" entries, or the
    shapes of a loaded state dict); dedicated inpainting checkpoints (SD 1.x, 2.x and XL)
    feed the mask and the masked image to the UNet next to the latents.
    """
    for key in _UNET_FIRST_CONV:
        shape = shapes.get(key)
        if shape is not None and len(shape) == 4:
            return "inpaint" if shape[1] == INPAINT_CHANNELS else ""
    return ""
