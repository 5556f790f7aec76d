"""IP-Adapters in the store: what each one was made for, and the image encoder it uses.

An IP-Adapter (store kind `ipadapter`) is a .safetensors file of `image_proj.*` and
`ip_adapter.*` tensors, as h94/IP-Adapter ships them. It adds image cross-attention to
every cross-attention layer of a checkpoint's UNet, so it fits a UNet with its
cross-attention width and its number of cross-attention layers. Its base family comes from
that width (768: SD 1.x, 1024: SD 2.x, 2048: SDXL; "" for other widths, such as test
models). Its image encoder (a CLIPVisionModelWithProjection folder: config.json and
model.safetensors) is the first folder fitting it among `image_encoder` beside the file,
`image_encoder` beside the file's folder and `models/image_encoder` beside the file's
folder: h94's layout (`models/ip-adapter_sd15.safetensors` with `models/image_encoder/`,
`sdxl_models/ip-adapter_sdxl_vit-h.safetensors` with the ViT-H `models/image_encoder/`).
An encoder fits when its output width is the adapter's input width (the projected image
embedding; the penultimate hidden states for the "plus" and "full face" adapters).
Torch-free; files are read bounded (engine.checkpoint_files, engine.diffusers_folders).
`ip_adapter_fits` says, without loading anything, which installed adapters a checkpoint can
take (the pickers offer those); the job checks the loaded UNet too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.checkpoint_files import read_safetensors_header
from engine.control_models import checkpoint_dims
from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.protocol import JobError
from engine.untrusted import UntrustedInputError, display_path

IMAGE_ENCODER = "image_encoder"  # the folder name of an IP-Adapter's image encoder
_CONTEXT_FAMILY = {768: "sd15", 1024: "sd2", 2048: "sdxl"}  # cross-attention's input width
_TO_K = re.compile(r"^ip_adapter\.(\d+)\.to_k_ip\.weight$")


@dataclass(frozen=True)
class IpAdapterInfo:
    """What an IP-Adapter fits: `base` the family it was made for ("" when its width does
    not say), the UNet's `cross_attention_dim` and number of cross-attention `layers`, and
    the image encoder output it takes: `image_embed_dim` wide, from the encoder's hidden
    states (`hidden_states`) or its projection."""

    base: str
    cross_attention_dim: int
    layers: int
    image_embed_dim: int
    hidden_states: bool = False


def ip_adapter_info(shapes: Mapping[str, Sequence[int]]) -> IpAdapterInfo | None:
    """The IP-Adapter these tensor shapes make (plain, plus or full face); None when they
    are not one Atelier can use (FaceID adapters need face embeddings it cannot make)."""
    to_k = sorted((int(m[1]), shapes[k]) for k in shapes if (m := _TO_K.match(k)))
    if not to_k or len(to_k[0][1]) != 2:
        return None
    cross = int(to_k[0][1][1])
    if len(shapes.get("image_proj.proj.weight", ())) == 2:  # plain: proj, norm
        embed, hidden = shapes["image_proj.proj.weight"][1], False
    elif len(shapes.get("image_proj.proj_in.weight", ())) == 2:  # plus: a resampler
        embed, hidden = shapes["image_proj.proj_in.weight"][1], True
    elif len(shapes.get("image_proj.proj.0.weight", ())) == 2:  # full face: an MLP
        embed, hidden = shapes["image_proj.proj.0.weight"][1], True
    else:
        return None
    return IpAdapterInfo(_CONTEXT_FAMILY.get(cross, ""), cross, len(to_k), int(embed), hidden)


def file_ip_adapter(path: Path) -> IpAdapterInfo:
    """The IP-Adapter in the file at `path`; JobError with the sentence saying why it is
    none (not .safetensors, or tensors of something else)."""
    if path.suffix.lower() != ".safetensors":
        raise JobError(
            "invalid_input",
            "IP-Adapters are read from .safetensors files only (a .bin would run pickled "
            "code); use the adapter's .safetensors version.",
        )
    header = read_safetensors_header(path)
    shapes = {k: v.get("shape", ()) for k, v in header.items() if isinstance(v, dict)}
    info = ip_adapter_info(shapes)
    if info is None:
        raise JobError(
            "invalid_input",
            "not an IP-Adapter Atelier can use (it needs image_proj and ip_adapter tensors "
            "of a plain, plus or full-face IP-Adapter)",
        )
    return info


def ip_adapter_fits(adapter: ModelEntry, checkpoint: ModelEntry) -> bool:
    """Whether the IP-Adapter `adapter` (a store entry of kind "ipadapter") can steer
    `checkpoint`: made for its family (or for none a width names) and for a cross-attention
    as wide as its UNet's, where that can be read cheaply (engine.control_models)."""
    info = adapter.ip_adapter
    if info is None or (info.base and info.base != checkpoint.family):
        return False
    dims = checkpoint_dims(checkpoint)
    return dims is None or dims.cross_attention_dim in (None, info.cross_attention_dim)


def image_encoder_folder(path: Path, info: IpAdapterInfo) -> Path | None:
    """The image encoder folder of the IP-Adapter file at `path` (see the module's
    docstring); None when there is none that fits it."""
    here = path.parent
    for folder in (
        here / IMAGE_ENCODER,
        here.parent / IMAGE_ENCODER,
        here.parent / "models" / IMAGE_ENCODER,
    ):
        try:
            config = read_json_object(folder / "config.json")
        except (OSError, UntrustedInputError):
            continue
        width = config.get("hidden_size" if info.hidden_states else "projection_dim")
        if width == info.image_embed_dim:
            return folder
    return None


def no_encoder_message(name: str, path: Path) -> str:
    """What to do when the IP-Adapter `name` at `path` has no image encoder that fits."""
    return (
        f"The IP-Adapter '{name}' has no image encoder that fits it: put its CLIP image "
        f"encoder folder (config.json and model.safetensors) in "
        f"{display_path(path.parent / IMAGE_ENCODER)}."
    )
