"""Stable Diffusion checkpoints as diffusers pipelines: which class loads each family, the
loader the engine calls for them, and a checkpoint's other pipelines sharing its parts.

The engine checks a checkpoint's files before this loader runs and places the pipeline
afterwards (engine.model_loader). Diffusers folders load with `from_pretrained`; single
files with `from_single_file(..., config=<shipped config folder>)`, which never goes to
the hub for configs; both offline. diffusers is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.checkpoint_files import INPAINT_CHANNELS
from engine.model_entry import ModelEntry
from engine.model_families import family_label
from engine.model_loader import OFFLINE
from engine.protocol import JobError
from plugins.api import ModelFamily
from plugins.diffusion.families import BY_ID

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline

    from engine.context import JobContext
    from engine.model_store import ModelStore

PIPELINE_CLASSES = {
    "sd15": "StableDiffusionPipeline",
    "sd2": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "sdxl_refiner": "StableDiffusionXLImg2ImgPipeline",
}
INPAINT_PIPELINE_CLASSES = {  # for inpainting checkpoints, and inpainting with ordinary ones
    "sd15": "StableDiffusionInpaintPipeline",
    "sd2": "StableDiffusionInpaintPipeline",
    "sdxl": "StableDiffusionXLInpaintPipeline",
}


def pipeline_family_class(family: str, variant: str = "") -> str:
    """The diffusers pipeline class name that loads a checkpoint of `family` (and `variant`:
    "inpaint" gives the family's inpainting pipeline)."""
    if variant == "inpaint" and family in INPAINT_PIPELINE_CLASSES:
        return INPAINT_PIPELINE_CLASSES[family]
    if family not in PIPELINE_CLASSES:
        supported = sorted({family_label(f, BY_ID) for f in PIPELINE_CLASSES})
        raise JobError(
            "invalid_input",
            f"Atelier cannot generate with a {family_label(family)} model "
            f"(supported: {', '.join(supported)}).",
        )
    return PIPELINE_CLASSES[family]


def require_family(
    entry: ModelEntry,
    allowed: set[str],
    feature: str,
    variants: frozenset[str] = frozenset({""}),
    families: Mapping[str, ModelFamily] = BY_ID,
) -> None:
    """Raise JobError("invalid_input") when `feature` does not work with `entry`'s family,
    or with its variant (by default only ordinary checkpoints: not inpainting ones).
    `families` (the registered ones, e.g. `ctx.families`) name the entry's family."""
    labels = {**BY_ID, **families}
    wanted = " or ".join(sorted(family_label(f, labels) for f in allowed))
    if entry.family not in allowed:
        raise JobError(
            "invalid_input",
            f"{feature} needs a {wanted} model, but '{entry.name}' is "
            f"{family_label(entry.family, labels)}. Choose a {wanted} model for {feature}.",
        )
    if entry.variant not in variants:
        raise JobError(
            "invalid_input",
            f"'{entry.name}' is an inpainting model: it only repaints masked areas. Use it "
            f"for Inpaint or Outpaint, and choose an ordinary {wanted} model for {feature}.",
        )


def load_checkpoint(
    entry: ModelEntry,
    store: ModelStore,
    *,
    dtype: torch.dtype,
    device: str,
    variant: str | None,
) -> DiffusionPipeline:
    """The loader of the SD families: `entry` as its family's pipeline in `dtype`, left on
    the CPU for the device policy to place (`device` is where it will go); `variant` is the
    weights variant of a folder ("fp16"). SD 1.x/2.x load without the diffusers safety
    checker and SDXL without its watermarker: Atelier runs its own safety checks and
    watermark on every output."""
    import diffusers

    cls = getattr(diffusers, pipeline_family_class(entry.family, entry.variant))
    kwargs: dict[str, Any] = {"dtype": dtype, **OFFLINE}
    if entry.family in ("sd15", "sd2"):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    else:
        kwargs.update(add_watermarker=False)
    if entry.format == "diffusers":
        pipe = cls.from_pretrained(entry.path, variant=variant, trust_remote_code=False, **kwargs)
    else:
        config = str(store.config_dir(entry))
        if entry.variant == "inpaint":  # the shipped configs describe 4-channel UNets
            kwargs["num_in_channels"] = INPAINT_CHANNELS
        pipe = cls.from_single_file(str(entry.path), config=config, **kwargs)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def checkpoint_pipeline(ctx: JobContext, entry: ModelEntry, cls_name: str) -> Any:
    """`entry`'s loaded pipeline as a `cls_name` pipeline: itself when it is one, else one
    that shares its components (diffusers' from_pipe), kept with it in the model cache."""
    base = ctx.model(entry)
    if type(base).__name__ == cls_name:
        return base
    return ctx.view(entry, cls_name, lambda loaded: pipeline_view(loaded, cls_name))


def pipeline_view(pipe: Any, cls_name: str) -> Any:
    """A `cls_name` pipeline over the components of the loaded `pipe`."""
    import diffusers

    return getattr(diffusers, cls_name).from_pipe(pipe)
