"""A LoRA training run's checkpoint: its LoRA tensors, its optimizer's state and what the run
had done, in one safetensors file written atomically, so that a crash, Ctrl+C or kill -9
during a save leaves the last good checkpoint whole.

No pickle: the tensors are stored as "lora/<name>" and "optim/<n>/<path in the state>", and
everything else (the optimizer state's structure with its numbers and strings, and the
run's info) as JSON in the file's metadata under "atelier.checkpoint". Runs on the engine
thread; torch and safetensors are imported inside the functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.checkpoint_files import MAX_HEADER_BYTES
from engine.file_writing import write_atomic
from engine.untrusted import UntrustedInputError, display_path, parse_json, regular_file_size

if TYPE_CHECKING:
    from torch import Tensor

META_KEY = "atelier.checkpoint"
FORMAT = 1
LORA_PREFIX, OPTIM_PREFIX = "lora/", "optim/"


@dataclass
class Checkpoint:
    lora: dict[str, Tensor]  # the trainable tensors by name
    optimizer: dict[str, Any]  # a torch optimizer's state_dict(), as it was
    info: dict[str, Any]  # JSON-able: step, losses, settings, run key...


def save_checkpoint(
    path: Path, lora: Mapping[str, Tensor], optimizer: Mapping[str, Any], info: Mapping[str, Any]
) -> None:
    """Write a checkpoint to `path` atomically (the previous file stays whole until the new
    one is complete). `optimizer` is a torch optimizer's state_dict(): nested dicts, lists
    and tuples of tensors, numbers, strings, booleans and None."""
    from safetensors.torch import save

    tensors = {LORA_PREFIX + name: _storable(tensor) for name, tensor in lora.items()}
    structure = _encode(dict(optimizer), tensors, "state_dict")
    meta = {"format": FORMAT, "optimizer": structure, "info": dict(info)}
    write_atomic(Path(path), save(tensors, metadata={META_KEY: json.dumps(meta)}))


def load_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`, None when there is none; a damaged or foreign file is a
    ValueError (UntrustedInputError) with one sentence naming it."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        regular_file_size(path)  # a folder or a pipe is refused before anything blocks
        with safe_open(str(path), framework="pt") as f:
            names = f.keys()
            meta, tensors = f.metadata() or {}, {name: f.get_tensor(name) for name in names}
    except FileNotFoundError:
        return None
    except UntrustedInputError as e:
        raise _damaged(path, e.reason) from None
    except OSError as e:
        raise _damaged(path, f"it cannot be read ({e.strerror or e})") from None
    except SafetensorError as e:
        raise _damaged(path, f"it is damaged or incomplete ({e})") from None
    return _checkpoint(path, meta, tensors)


def _checkpoint(path: Path, meta: dict[str, str], tensors: dict[str, Tensor]) -> Checkpoint:
    """The checkpoint in a file's metadata and tensors, checked."""
    if META_KEY not in meta:
        raise _damaged(path, "it is not an Atelier training checkpoint")
    try:
        data = parse_json(meta[META_KEY], "its metadata", MAX_HEADER_BYTES, allow_nan=True)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("its metadata is not a checkpoint's")
        if not isinstance(data.get("info"), dict):
            raise ValueError("its run information is missing")
        optimizer = _decode(data.get("optimizer"), tensors)
        if not isinstance(optimizer, dict):
            raise ValueError("its optimizer state is not a table")
    except ValueError as e:
        raise _damaged(path, str(e)) from None
    lora = {k.removeprefix(LORA_PREFIX): t for k, t in tensors.items() if k.startswith(LORA_PREFIX)}
    return Checkpoint(lora, optimizer, data["info"])


def _damaged(path: Path, why: str) -> UntrustedInputError:
    return UntrustedInputError(display_path(path), f"is not a usable training checkpoint: {why}")


def _storable(tensor: Tensor) -> Tensor:
    """A tensor as safetensors stores it: detached, on the CPU, contiguous, its own memory."""
    return tensor.detach().cpu().contiguous().clone()


def _encode(value: Any, tensors: dict[str, Tensor], path: str = "") -> Any:
    """`value` as JSON, its tensors put in `tensors` as "optim/<n>/<path>": a tensor becomes
    {"tensor": name}, a dict {"dict": [[key, value], ...]} (int keys stay ints), a list
    {"list": [...]}, a tuple {"tuple": [...]}; numbers, strings, booleans and None stay."""
    import torch

    if isinstance(value, torch.Tensor):
        name = f"{OPTIM_PREFIX}{len(tensors)}/{path}"  # the count keeps names unique
        tensors[name] = _storable(value)
        return {"tensor": name}
    if isinstance(value, dict):
        if not all(isinstance(key, int | str) for key in value):
            raise TypeError("optimizer state keys must be ints or strings")
        return {
            "dict": [[key, _encode(item, tensors, f"{path}.{key}")] for key, item in value.items()]
        }
    if isinstance(value, list | tuple):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, tensors, f"{path}.{i}") for i, item in enumerate(value)]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a checkpoint cannot hold a {type(value).__name__} in the optimizer state")


def _decode(value: Any, tensors: Mapping[str, Tensor]) -> Any:
    """The value `_encode` made `value` from; ValueError for anything it cannot have made."""
    if not isinstance(value, dict):
        if isinstance(value, list):
            raise ValueError("its optimizer state holds an untagged list")
        return value
    if len(value) != 1:
        raise ValueError("its optimizer state holds an unknown entry")
    ((kind, content),) = value.items()
    if kind == "tensor":
        if not isinstance(content, str) or content not in tensors:
            raise ValueError(f"the optimizer tensor {content!r} is missing")
        return tensors[content]
    if kind == "dict" and isinstance(content, list):
        if not all(
            isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int | str)
            for pair in content
        ):
            raise ValueError("its optimizer state holds a malformed table")
        return {key: _decode(item, tensors) for key, item in content}
    if kind in ("list", "tuple") and isinstance(content, list):
        items = [_decode(item, tensors) for item in content]
        return items if kind == "list" else tuple(items)
    raise ValueError(f"its optimizer state holds an unknown entry {kind!r}")
