"""Hashes that name a model's weights whatever its file is called.

- The short hash: the first 10 hex digits of the whole file's sha256, as A1111 and civitai
  name checkpoints.
- The tensor hash: the sha256 of a `.safetensors` file's bytes after its header, which is
  what kohya's trainers record as `sshs_model_hash` (and sd-webui-additional-networks
  computes). Editing a file's metadata or renaming it does not change it, so it finds a copy
  of a LoRA under another name, for example on a ComfyUI server whose API shows a file's
  metadata but not its hash.

Torch-free. File hashes are cached by path, size and modification time, in memory and in
`<home>/hashes.json`, so a multi-GB checkpoint is read once, not at every start (a cache
that cannot be read or written is only a slower start).
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.checkpoint_files import read_safetensors_header
from engine.file_writing import write_atomic
from engine.home import atelier_home
from engine.protocol import JobError
from engine.untrusted import display_path

SHORT_HASH_DIGITS = 10
_LENGTH_BYTES = 8  # a safetensors file starts with its header's length, little-endian
# the metadata keys that record the tensor hash (the model spec's with a "0x" prefix)
MODEL_HASH_KEY = "sshs_model_hash"
SPEC_HASH_KEY = "modelspec.hash_sha256"
HASHES_FILE = "hashes.json"
log = logging.getLogger(__name__)
_cache: dict[tuple[str, int, int, int], str] = {}
_stored_lock = threading.Lock()  # one read-modify-write of HASHES_FILE at a time


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
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, start)
    if key not in _cache:
        digest = _stored(key)
        if digest is None:
            digest = _read_hash(path, start)
            _store(key, digest)
        _cache[key] = digest
    return _cache[key]


def _read_hash(path: Path, start: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        f.seek(start)
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _entry_name(key: tuple[str, int, int, int]) -> str:
    return f"{key[3]}:{key[0]}"


def _stored_hashes() -> dict[str, list]:
    """HASHES_FILE's entries: "<start>:<path>" -> [size, mtime_ns, sha256]; {} when absent
    or unreadable."""
    try:
        data = json.loads((atelier_home() / HASHES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def _stored(key: tuple[str, int, int, int]) -> str | None:
    entry = _stored_hashes().get(_entry_name(key))
    if isinstance(entry, list) and len(entry) == 3 and entry[:2] == [key[1], key[2]]:
        return str(entry[2])
    return None


def _store(key: tuple[str, int, int, int], digest: str) -> None:
    with _stored_lock:
        files = _stored_hashes()
        files[_entry_name(key)] = [key[1], key[2], digest]
        text = json.dumps({"version": 1, "files": files}, indent=0)
        try:
            atelier_home().mkdir(parents=True, exist_ok=True)
            write_atomic(atelier_home() / HASHES_FILE, text.encode("utf-8"))
        except OSError as exc:
            log.info("file hashes not kept for the next start: %s", exc)
