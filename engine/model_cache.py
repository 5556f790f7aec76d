"""Loaded models kept by (model, dtype, device) within a memory budget.

A model is loaded once, by its family's loader (engine.model_loader), and placed by the
device policy. Views of it hang off it: another model a plugin builds from the loaded one
and its parts (for diffusers, the img2img or inpaint pipeline of a checkpoint sharing its
UNet, VAE and text encoders); they are dropped with it.
"""

from __future__ import annotations

import gc
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from engine.devices import DevicePolicy
from engine.model_entry import ModelEntry
from engine.model_families import NO_FAMILIES
from engine.model_loader import load_model
from engine.model_store import ModelStore
from plugins.api import ModelFamily

log = logging.getLogger(__name__)
DEFAULT_BUDGET_BYTES = 12 * 1024**3


def model_bytes(model: Any) -> int:
    """Parameter and buffer bytes of a model: of each torch module among a pipeline's
    components, or of the model itself."""
    components = getattr(model, "components", None)
    parts = components.values() if isinstance(components, Mapping) else [model]
    total = 0
    for part in parts:
        if hasattr(part, "parameters"):
            total += sum(p.numel() * p.element_size() for p in part.parameters())
            total += sum(b.numel() * b.element_size() for b in part.buffers())
    return total


class ModelCache:
    """LRU cache of loaded models; their views hang off them."""

    def __init__(
        self,
        store: ModelStore,
        families: Mapping[str, ModelFamily] = NO_FAMILIES,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.store = store
        self.families = families
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._views: dict[tuple, Any] = {}

    def model(self, entry: ModelEntry, policy: DevicePolicy) -> Any:
        """`entry` loaded by its family's loader and placed on the policy's device."""
        key = (str(entry.path), policy.dtype, policy.device)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key][0]
        model = load_model(entry, self.store, self.families, policy)
        size = model_bytes(model)
        self._evict_to_fit(size)
        self._models[key] = (model, size)
        log.info("loaded %s (%.0f MB)", entry.name, size / 1e6)
        return model

    def view(
        self, entry: ModelEntry, policy: DevicePolicy, name: str, make: Callable[[Any], Any]
    ) -> Any:
        """The view `name` of `entry`'s loaded model: `make(model)` the first time, kept
        until the model is unloaded."""
        model = self.model(entry, policy)
        key = (str(entry.path), policy.dtype, policy.device, name)
        if key not in self._views:
            self._views[key] = make(model)
        return self._views[key]

    def _evict_to_fit(self, incoming: int) -> None:
        evicted = False
        while self._models and self.used_bytes + incoming > self.budget_bytes:
            old_key, _ = self._models.popitem(last=False)
            for view_key in [k for k in self._views if k[:3] == old_key]:
                del self._views[view_key]
            log.info("unloaded %s to stay within the memory budget", old_key[0])
            evicted = True
        if evicted:  # a full collection costs a tenth of a second in a fresh process
            gc.collect()

    @property
    def used_bytes(self) -> int:
        return sum(size for _, size in self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def clear(self) -> None:
        """Drop every model (after an out-of-memory error, or on shutdown)."""
        self._models.clear()
        self._views.clear()
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
