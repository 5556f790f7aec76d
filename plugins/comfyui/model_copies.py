"""A server's copy of a local model under another name, found by hash.

ComfyUI's API lists model files by name and shows no hashes, but `/view_metadata` shows a
`.safetensors` file's metadata, where kohya's trainers (and Atelier's) record the file's
tensor hash (engine.weights_hash). So a local single-file model whose name the server lacks
is matched to the server file that records the local file's tensor hash: a LoRA renamed on
the studio's server is still found. Files that record no hash (most checkpoints, LoRAs
saved by other tools) are matched by name only. Qt-free, torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.model_entry import same_name
from engine.model_store import ModelStore
from engine.protocol import JobError
from engine.weights_hash import recorded_hashes
from plugins.comfyui.client import ComfyUIClient

SAFETENSORS = ".safetensors"


class CopyFinder:
    """Finds, among the files a server offers (`models`: kind -> file names), the copies of
    local models. Each server file's metadata is asked for once, when first needed; a local
    file is hashed only when the server records some hash. ServerUnreachable when the server
    stops answering."""

    def __init__(
        self, client: ComfyUIClient, models: Mapping[str, tuple[str, ...]], store: ModelStore
    ) -> None:
        self.client = client
        self.models = models
        self.store = store
        self._by_hash: dict[str, dict[str, str]] = {}  # kind -> {tensor hash: server file}

    def find(self, kind: str, wanted: str) -> str | None:
        """The server's file of `kind` holding the same tensors as the local model `wanted`;
        None when it is not installed here, records no hash, or the server has no copy."""
        by_hash = self._server_hashes(kind)
        return by_hash.get(self._local_hash(kind, wanted)) if by_hash else None

    def local_names(self, kind: str) -> tuple[str, ...]:
        """The installed models of `kind` the server holds only under other names."""
        offered = self.models.get(kind, ())
        installed = [e.name for e in self.store.entries if e.kind == kind]
        return tuple(
            name
            for name in installed
            if not any(same_name(name, other) for other in offered) and self.find(kind, name)
        )

    def _local_hash(self, kind: str, wanted: str) -> str:
        try:
            return self.store.find(wanted, kind).tensor_hash()
        except (JobError, OSError):  # not installed here, or not a readable safetensors file
            return ""

    def _server_hashes(self, kind: str) -> dict[str, str]:
        if kind not in self._by_hash:
            by_hash: dict[str, str] = {}
            for name in self.models.get(kind, ()):
                if name.lower().endswith(SAFETENSORS):
                    for digest in recorded_hashes(self.client.model_metadata(kind, name)):
                        by_hash.setdefault(digest, name)
            self._by_hash[kind] = by_hash
        return self._by_hash[kind]
