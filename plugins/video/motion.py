"""AnimateDiff on a loaded SD 1.x checkpoint: the motion adapter's loader, and the motion
UNet and pipeline built from the checkpoint's own parts.

The motion UNet shares the checkpoint UNet's layers (the same modules, not copies) and the
adapter's motion modules: it costs no memory of its own, and the LoRAs the diffusion
plugin puts on the checkpoint (plugins.diffusion.adapters) act in it as they do in every
other view of the checkpoint. Only the engine thread imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.devices import apply_policy
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE

if TYPE_CHECKING:
    import torch

    from engine.context import JobContext
    from engine.model_store import ModelStore

_BLOCK_LISTS = ("down_blocks", "up_blocks")


def load_motion_adapter(
    entry: ModelEntry, store: ModelStore, *, dtype: torch.dtype, device: str, variant: str | None
) -> Any:
    """The loader of the motion family: a diffusers MotionAdapter folder, offline."""
    from diffusers import MotionAdapter

    return MotionAdapter.from_pretrained(entry.path, dtype=dtype, variant=variant, **OFFLINE)


def shared_motion_unet(unet: Any, adapter: Any) -> Any:
    """A UNetMotionModel whose layers are `unet`'s and whose motion modules are `adapter`'s
    (built without weights of its own). ValueError when the adapter does not fit."""
    from accelerate import init_empty_weights
    from diffusers import UNetMotionModel

    with init_empty_weights():
        motion = UNetMotionModel.from_unet2d(unet, adapter, load_weights=False)
    for name, child in unet.named_children():
        if name not in (*_BLOCK_LISTS, "mid_block") and hasattr(motion, name):
            setattr(motion, name, child)
    pairs = [
        (mine, theirs, made)
        for blocks in _BLOCK_LISTS
        for mine, theirs, made in zip(
            getattr(motion, blocks), getattr(unet, blocks), getattr(adapter, blocks), strict=True
        )
    ]
    pairs.append((motion.mid_block, unet.mid_block, adapter.mid_block))
    for mine, theirs, made in pairs:
        for name, child in theirs.named_children():
            setattr(mine, name, child)
        mine.motion_modules = made.motion_modules
    left = [name for name, p in motion.named_parameters() if p.is_meta]
    if left:
        raise ValueError(f"the motion UNet has parts neither model gave ({left[0]}, ...)")
    return motion


def motion_pipeline(ctx: JobContext, checkpoint: ModelEntry, adapter_entry: ModelEntry) -> Any:
    """`checkpoint`'s AnimateDiff pipeline with the motion adapter `adapter_entry`, kept with
    the checkpoint in the model cache (one per adapter). The recipe names the checkpoint
    first, then the adapter."""
    ctx.uses(checkpoint)
    adapter = ctx.model(adapter_entry)
    return ctx.view(
        checkpoint,
        f"animatediff:{adapter_entry.path}",
        lambda base: apply_policy(animatediff_pipeline(base, adapter), ctx.device),
    )


def animatediff_pipeline(base: Any, adapter: Any) -> Any:
    """An AnimateDiffPipeline over the parts of the loaded SD pipeline `base`."""
    from diffusers import AnimateDiffPipeline

    pipe = AnimateDiffPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=shared_motion_unet(base.unet, adapter),
        motion_adapter=adapter,
        scheduler=base.scheduler,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
