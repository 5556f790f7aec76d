"""Loaded pipelines kept by (model, dtype, device) within a memory budget.

One checkpoint is loaded once; the other pipeline classes of the same checkpoint (img2img,
inpaint, ...) are built with `from_pipe`, so they share its UNet, VAE and text encoders.
"""

from __future__ import annotations

import gc
import logging
from collections import OrderedDict
from typing import Any

from engine.devices import DevicePolicy, apply_policy
from engine.model_store import ModelEntry, ModelStore

log = logging.getLogger(__name__)
DEFAULT_BUDGET_BYTES = 12 * 1024**3


def pipeline_bytes(pipe: Any) -> int:
    """Parameter and buffer bytes of every torch module in a pipeline."""
    total = 0
    for component in pipe.components.values():
        if hasattr(component, "parameters"):
            total += sum(p.numel() * p.element_size() for p in component.parameters())
            total += sum(b.numel() * b.element_size() for b in component.buffers())
    return total


class ModelCache:
    """LRU cache of base pipelines; derived pipelines hang off their base."""

    def __init__(
        self,
        store: ModelStore,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.store = store
        self.budget_bytes = budget_bytes
        self._bases: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._derived: dict[tuple, Any] = {}

    def pipeline(self, entry: ModelEntry, policy: DevicePolicy, cls_name: str | None = None) -> Any:
        """The pipeline for `entry` on the policy's device, as `cls_name` if given."""
        key = (str(entry.path), policy.dtype, policy.device)
        base = self._base(key, entry, policy)
        if cls_name is None or type(base).__name__ == cls_name:
            return base
        derived_key = (*key, cls_name)
        if derived_key not in self._derived:
            import diffusers

            self._derived[derived_key] = getattr(diffusers, cls_name).from_pipe(base)
        return self._derived[derived_key]

    def _base(self, key: tuple, entry: ModelEntry, policy: DevicePolicy) -> Any:
        if key in self._bases:
            self._bases.move_to_end(key)
            return self._bases[key][0]
        from engine.model_loader import load_pipeline

        pipe = load_pipeline(entry, self.store, dtype=policy.torch_dtype(), device=policy.device)
        apply_policy(pipe, policy)
        size = pipeline_bytes(pipe)
        self._evict_to_fit(size)
        self._bases[key] = (pipe, size)
        log.info("loaded %s (%.0f MB)", entry.name, size / 1e6)
        return pipe

    def _evict_to_fit(self, incoming: int) -> None:
        while self._bases and self.used_bytes + incoming > self.budget_bytes:
            old_key, _ = self._bases.popitem(last=False)
            for derived_key in [k for k in self._derived if k[:3] == old_key]:
                del self._derived[derived_key]
            log.info("unloaded %s to stay within the memory budget", old_key[0])
        gc.collect()

    @property
    def used_bytes(self) -> int:
        return sum(size for _, size in self._bases.values())

    def __len__(self) -> int:
        return len(self._bases)

    def clear(self) -> None:
        """Drop every pipeline (after an out-of-memory error, or on shutdown)."""
        self._bases.clear()
        self._derived.clear()
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
