"""Hashes that name a model's weights whatever its file is called.

- The short hash: the first 10 hex digits of the whole file's sha256, as A1111 and civitai
  name checkpoints.
- The tensor hash: the sha256 of a `.safetensors` file's bytes after its header, which is
  what kohya's trainers record as `sshs_model_hash` (and sd-webui-additional-networks
  computes). Editing a file's metadata or renaming it does not change it, so it finds a copy
  of a LoRA under another name, for example on a ComfyUI server whose API shows a file's
  metadata but not its hash.

Torch-free. File hashes are cached by path, size and modification time.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.checkpoint_files import read_safetensors_header
from engine.protocol import JobError
from engine.untrusted import display_path

SHORT_HASH_DIGITS = 10
_LENGTH_BYTES = 8  # a safetensors file starts with its header's length, little-endian
# the metadata keys that record the tensor hash (the model spec's with a "0x" prefix)
MODEL_HASH_KEY = "sshs_model_hash"
SPEC_HASH_KEY = "modelspec.hash_sha256"
_cache: dict[tuple[str, int, int, int], str] = {}


def short_hash(path: Path) -> str:
    """A1111-style short hash: the first 10 hex digits of the file's sha256."""
    return file_sha256(path)[:SHORT_HASH_DIGITS]


def tensor_hash(path: Path) -> str:
    """The sha256 of a `.safetensors` file's tensor data (its bytes after the header).
    JobError("invalid_input") when the file is not safetensors."""
    read_safetensors_header(path)  # checks it is one, naming the file when it is not
    with Path(path).open("rb") as f:
        start = _LENGTH_BYTES + int.from_bytes(f.read(_LENGTH_BYTES), "little")
    return file_sha256(path, start)


def tensor_hash_of(blob: bytes) -> str:
    """`tensor_hash` of a safetensors file's bytes in memory."""
    start = _LENGTH_BYTES + int.from_bytes(blob[:_LENGTH_BYTES], "little")
    return hashlib.sha256(memoryview(blob)[start:]).hexdigest()


def hash_metadata(digest: str) -> dict[str, str]:
    """The metadata entries that record a file's tensor hash, as kohya's trainers write them."""
    return {MODEL_HASH_KEY: digest, SPEC_HASH_KEY: f"0x{digest}"}


def recorded_hashes(metadata: Mapping[str, Any]) -> frozenset[str]:
    """The tensor hashes a file's metadata records (`hash_metadata`'s keys), lower-case hex;
    values that are not a sha256 are left out."""
    found = set()
    for key in (MODEL_HASH_KEY, SPEC_HASH_KEY):
        value = metadata.get(key)
        if isinstance(value, str):
            digest = value.strip().lower().removeprefix("0x")
            if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                found.add(digest)
    return frozenset(found)


def file_sha256(path: Path, start: int = 0) -> str:
    """The sha256 of the file's bytes from `start` on (cached). JobError for a file that is
    not a regular file (a pipe or a device would never end)."""
    path = Path(path)
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise JobError("invalid_input", f"{display_path(path)} is not a regular file")
    key = (str(path), st.st_size, st.st_mtime_ns, start)
    if key not in _cache:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            f.seek(start)
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        _cache[key] = digest.hexdigest()
    return _cache[key]
