"""A job's reference images on its pipeline: IP-Adapters steering style and subject.

The active references (weight above 0; the others are dropped, so they change nothing)
each get their IP-Adapter from the store: the one they name, else the first installed one
that fits the checkpoint (engine.ip_adapters); one made for another family or another
UNet gets a message naming both. The adapters go onto the checkpoint's loaded UNet (which
every view of it shares) with diffusers' `load_ip_adapter`, one adapter per reference with
its weight as its scale, and stay there for the next job with the same adapters; a job
without references takes them off again, putting back the UNet's own attention processors,
which gives the base output bit for bit. The image encoder (one CLIP vision model for all
of a job's adapters) is loaded from the store once and kept with the checkpoint; it and its
feature extractor are set on the pipeline that runs, control pipelines included.

Only the engine thread imports this module (torch, transformers and diffusers inside its
functions).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.checkpoint_files import read_safetensors_header
from engine.context import JobContext
from engine.home import models_dir
from engine.ip_adapters import image_encoder_folder, no_encoder_message
from engine.model_entry import ModelEntry
from engine.model_families import family_label
from engine.model_loader import OFFLINE
from engine.protocol import JobError
from plugins.diffusion.control_loader import with_article
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import ReferenceSpec, SamplingParams

MAX_NAMES_SHOWN = 8
# per loaded UNet: the adapters on it (their hashes) and what they replaced
_LOADED: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()
_REPLACED: weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], Any]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Referenced:
    """A job's active references with their IP-Adapters, and what they add to each
    pipeline call and recipe. With none: nothing."""

    references: tuple[tuple[ReferenceSpec, ModelEntry], ...] = ()

    def call_kwargs(self) -> dict[str, Any]:
        """The pipeline call's `ip_adapter_image`: one picture per adapter."""
        if not self.references:
            return {}
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(s.image)) for s, _ in self.references]
        return {"ip_adapter_image": images}

    def recipe(self) -> dict[str, Any]:
        """What each image's recipe adds (for resolved_meta): "references"."""
        if not self.references:
            return {}
        return {"references": [{"model": e.name, "weight": s.weight} for s, e in self.references]}


def with_references(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, params: SamplingParams
) -> Referenced:
    """Put the params' active references' IP-Adapters on `pipe` (the pipeline that will
    run, of `checkpoint`), or take any off when there are none; JobError for an adapter
    that is missing, does not fit, or a pipeline that cannot take one."""
    active = [reference for reference in params.references if reference.weight > 0]
    if not active:
        take_off(pipe.unet)
        return Referenced()
    if not hasattr(pipe, "load_ip_adapter") or not hasattr(pipe, "image_encoder"):
        raise JobError(
            "invalid_input",
            "Reference images cannot steer together with a T2I-Adapter on SD 1.x. Use a "
            "ControlNet, or remove the reference images.",
        )
    chosen = [(spec, adapter_for(ctx, checkpoint, pipe.unet, spec)) for spec in active]
    for _, entry in chosen:
        ctx.uses(entry)
    _set_encoder(ctx, checkpoint, pipe, [entry for _, entry in chosen])
    wanted = tuple(entry.short_hash() for _, entry in chosen)
    if _LOADED.get(pipe.unet) != wanted:
        ctx.check_cancelled()
        ctx.progress(0.0, "loading IP-Adapter")
        _load(checkpoint, pipe, [entry for _, entry in chosen])
        _LOADED[pipe.unet] = wanted
    pipe.set_ip_adapter_scale([spec.weight for spec, _ in chosen])
    return Referenced(tuple(chosen))


def take_off(unet: Any) -> None:
    """Take the IP-Adapters off `unet`, putting back what they replaced."""
    replaced = _REPLACED.pop(unet, None)
    _LOADED.pop(unet, None)
    if replaced is None:
        return
    processors, hid_type = replaced
    unet.set_attn_processor(dict(processors))
    unet.encoder_hid_proj = None
    unet.config.encoder_hid_dim_type = hid_type


def _load(checkpoint: ModelEntry, pipe: Any, adapters: Sequence[ModelEntry]) -> None:
    """`adapters` (one per reference) onto `pipe`'s UNet, in place of any loaded before."""
    unet = pipe.unet
    take_off(unet)
    states = {entry.path: adapter_state(entry) for entry in adapters}
    _REPLACED[unet] = (dict(unet.attn_processors), unet.config.encoder_hid_dim_type)
    try:
        pipe.load_ip_adapter(
            [states[entry.path] for entry in adapters],
            subfolder="",
            weight_name=[""] * len(adapters),
            image_encoder_folder=None,
        )
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError) as e:
        take_off(unet)
        names = ", ".join(f"'{entry.name}'" for entry in adapters)
        raise JobError(
            "invalid_input",
            f"The IP-Adapter {names} does not fit '{checkpoint.name}' "
            f"({type(e).__name__}: {str(e)[:200]}).",
        ) from None


def adapter_state(entry: ModelEntry) -> dict[str, dict[str, Any]]:
    """An IP-Adapter file's tensors as diffusers takes them: {"image_proj": ...,
    "ip_adapter": ...}, each without its prefix (read after a header check)."""
    from safetensors.torch import load_file

    read_safetensors_header(entry.path)  # a damaged file gets its sentence first
    state: dict[str, dict[str, Any]] = {"image_proj": {}, "ip_adapter": {}}
    for key, tensor in load_file(str(entry.path)).items():
        part, _, rest = key.partition(".")
        if part in state:
            state[part][rest] = tensor
    return state


def _set_encoder(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, adapters: Sequence[ModelEntry]
) -> None:
    """The adapters' image encoder (loaded once, kept with the checkpoint) and a feature
    extractor of its picture size, set on `pipe`."""
    from transformers import CLIPImageProcessor

    folders = {image_encoder_folder(e.path, e.ip_adapter) for e in adapters}
    if None in folders:
        missing = next(e for e in adapters if image_encoder_folder(e.path, e.ip_adapter) is None)
        raise JobError("missing_model", no_encoder_message(missing.name, missing.path))
    if len(folders) > 1:
        names = ", ".join(f"'{entry.name}'" for entry in adapters)
        raise JobError(
            "invalid_input",
            f"The IP-Adapters {names} use different image encoders and cannot act together. "
            "Use reference images with the same IP-Adapter, or with adapters of one encoder.",
        )
    folder = folders.pop()
    unet = pipe.unet
    encoder = ctx.view(
        checkpoint,
        f"ip-adapter image encoder {folder}",
        lambda _: load_image_encoder(folder, unet.dtype, unet.device),
    )
    size = encoder.config.image_size
    extractor = CLIPImageProcessor(size=size, crop_size=size)
    pipe.register_modules(image_encoder=encoder, feature_extractor=extractor)


def load_image_encoder(folder: Any, dtype: Any, device: Any) -> Any:
    """The CLIP image encoder in `folder` (safetensors only, offline) in `dtype` on `device`."""
    from transformers import CLIPVisionModelWithProjection

    try:
        encoder = CLIPVisionModelWithProjection.from_pretrained(
            folder, dtype=dtype, use_safetensors=True, **OFFLINE
        )
    except (OSError, ValueError, RuntimeError, TypeError) as e:
        raise JobError(
            "invalid_input",
            f"The IP-Adapter image encoder in {folder} cannot be loaded ({str(e)[:200]}). "
            "It must be a CLIP vision model folder with config.json and model.safetensors.",
        ) from None
    return encoder.to(device).eval()


# ---- which IP-Adapter each reference uses


def adapter_for(
    ctx: JobContext, checkpoint: ModelEntry, unet: Any, spec: ReferenceSpec
) -> ModelEntry:
    """The IP-Adapter `spec` names, else the first installed one that fits `checkpoint`
    (whose loaded UNet is `unet`); JobError("missing_model") when there is none."""
    installed = [e for e in ctx.store.entries if e.kind == "ipadapter" and e.ip_adapter]
    if spec.model:
        named = [e for e in installed if e.name == spec.model]
        if not named:
            raise JobError(
                "missing_model",
                f"No IP-Adapter named '{spec.model}' is installed. {_installed(ctx, installed)}",
            )
        check_fit(named[0], checkpoint, unet)
        return named[0]
    if not installed:
        raise JobError(
            "missing_model",
            "Reference images need an IP-Adapter, and no IP-Adapter is installed: Atelier "
            "cannot use reference images yet. Put an IP-Adapter (.safetensors, with its "
            f"image_encoder folder) in {models_dir('ipadapter', ctx.store.home)}, remove the "
            "reference image, or set its weight to 0.",
        )
    for entry in installed:
        try:
            check_fit(entry, checkpoint, unet)
        except JobError:
            continue
        return entry
    raise JobError(
        "missing_model",
        f"No IP-Adapter for '{checkpoint.name}' ({family_label(checkpoint.family, BY_ID)}) "
        f"is installed. {_installed(ctx, installed)}",
    )


def _installed(ctx: JobContext, installed: Sequence[ModelEntry]) -> str:
    names = [f"{e.name} ({_made_for(e)})" for e in installed]
    shown = ", ".join(names[:MAX_NAMES_SHOWN]) + (" ..." if len(names) > MAX_NAMES_SHOWN else "")
    return (
        f"Installed IP-Adapters: {shown or 'none'}. Put IP-Adapters (.safetensors, with their "
        f"image_encoder folder) in {models_dir('ipadapter', ctx.store.home)}."
    )


def _made_for(entry: ModelEntry) -> str:
    base = entry.ip_adapter.base if entry.ip_adapter else ""
    return family_label(base, BY_ID) if base else "a custom-size model"


def unet_dims(unet: Any) -> tuple[int, int]:
    """(cross-attention width, number of cross-attention layers) of a loaded UNet."""
    layers = [
        name
        for name in unet.attn_processors
        if not name.endswith("attn1.processor") and "motion_modules" not in name
    ]
    return unet.config.cross_attention_dim, len(layers)


def check_fit(adapter: ModelEntry, checkpoint: ModelEntry, unet: Any) -> None:
    """JobError("invalid_input") naming both when the IP-Adapter `adapter` cannot steer
    `checkpoint` (whose loaded UNet is `unet`)."""
    info = adapter.ip_adapter
    ours = family_label(checkpoint.family, BY_ID)
    if info.base and info.base != checkpoint.family:
        theirs = family_label(info.base, BY_ID)
        raise JobError(
            "invalid_input",
            f"'{adapter.name}' is an IP-Adapter for {theirs} but '{checkpoint.name}' is "
            f"{ours}. Choose an IP-Adapter made for {ours}, or {with_article(theirs)} model.",
        )
    width, layers = unet_dims(unet)
    if (info.cross_attention_dim, info.layers) != (width, layers):
        raise JobError(
            "invalid_input",
            f"'{adapter.name}' is an IP-Adapter for {_made_for(adapter)} (cross-attention "
            f"{info.cross_attention_dim} wide, {info.layers} layers) but '{checkpoint.name}' "
            f"is {ours} ({width} wide, {layers} layers). Choose an IP-Adapter made for it.",
        )
