"""SparseCtrl models (diffusers SparseControlNetModel folders): what each one takes (RGB
frames or scribbles), whether it fits a checkpoint, and its loader.

A SparseCtrl adds to the motion UNet as a ControlNet adds to an image UNet, so it fits a
checkpoint of the same UNet dims (cross-attention width and channels per level, as
engine.control_models decides for ControlNets). Its config says what it takes: an RGB
SparseCtrl encodes its frames with the VAE (`use_simplified_condition_embedding`), a
scribble one takes the pictures as they are. Torch-free at import; configs are read as
JSON; the loader imports diffusers on the engine thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.control_models import UnetDims, checkpoint_dims
from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.model_store import ModelStore
from engine.untrusted import UntrustedInputError

if TYPE_CHECKING:
    import torch

FAMILY = "sparsectrl"


def _config(entry: ModelEntry) -> dict:
    try:
        return read_json_object(entry.path / "config.json")
    except (OSError, UntrustedInputError):
        return {}


def takes_rgb(entry: ModelEntry) -> bool:
    """Whether a SparseCtrl takes RGB frames (else scribbles): its config's
    `use_simplified_condition_embedding` (diffusers' default, True, when it says none)."""
    return _config(entry).get("use_simplified_condition_embedding", True) is True


def sparsectrl_dims(entry: ModelEntry) -> UnetDims | None:
    """The UNet dims a SparseCtrl was made for (None when its config does not say)."""
    config = _config(entry)
    cross, channels = config.get("cross_attention_dim"), config.get("block_out_channels")
    if not isinstance(cross, int) or not isinstance(channels, list):
        return None
    if not all(isinstance(c, int) for c in channels):
        return None
    return UnetDims(cross, tuple(channels))


def rgb_sparsectrl_for(store: ModelStore, checkpoint: ModelEntry) -> ModelEntry | None:
    """The first installed RGB SparseCtrl made for `checkpoint`'s UNet dims (None: none)."""
    dims = checkpoint_dims(checkpoint)
    for entry in store.entries:
        if entry.family == FAMILY and takes_rgb(entry):
            made_for = sparsectrl_dims(entry)
            if made_for is not None and made_for == dims:
                return entry
    return None


def load_sparse_control(
    entry: ModelEntry, store: ModelStore, *, dtype: torch.dtype, device: str, variant: str | None
) -> Any:
    """The loader of the sparsectrl family: a diffusers SparseControlNetModel folder, offline."""
    from diffusers import SparseControlNetModel

    return SparseControlNetModel.from_pretrained(
        entry.path, dtype=dtype, variant=variant, **OFFLINE
    )
