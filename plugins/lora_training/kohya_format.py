"""The LoRA file Atelier writes, in kohya's format: tensor names, alphas and the `ss_*` and
`modelspec.*` metadata that A1111, Forge, ComfyUI, civitai and diffusers read.

Tensors are named as kohya names them for a diffusers-layout UNet (`lora_unet_` + the module
path with underscores; the text encoders `lora_te_`, or `lora_te1_` / `lora_te2_` for SDXL),
which every one of those readers maps onto its own layout. Torch-free: tensors may come in
as torch tensors and leave as float16 numpy arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from plugins.diffusion.lora_files import lora_base_family

# Atelier family -> (kohya's ss_base_model_version, Stability's modelspec architecture)
BASE_VERSIONS = {
    "sd15": ("sd_v1", "stable-diffusion-v1"),
    "sdxl": ("sdxl_base_v1-0", "stable-diffusion-xl-v1-base"),
}
_PARTS = {".lora_A.weight": ".lora_down.weight", ".lora_B.weight": ".lora_up.weight"}
_TEXT_ENCODERS = ("text_encoder_2.", "text_encoder.")  # the longer prefix first
REPEATS = 1  # kohya's "<repeats>_<trigger> <class>" folder name: every photo seen once


def peft_to_kohya(state: Mapping[str, Any], alpha: float) -> dict[str, np.ndarray]:
    """A PEFT LoRA state dict (`get_peft_model_state_dict` of a diffusers UNet, keys like
    "down_blocks.0....to_q.lora_A.weight"; text encoder adapters prefixed "text_encoder." or
    "text_encoder_2.") as kohya's tensors in float16, with an `.alpha` per module (PEFT's
    scale lora_alpha / r is kohya's alpha / rank, so the weights are kept as they are)."""
    sdxl = lora_base_family({k: tuple(np.shape(v)) for k, v in state.items()}) == "sdxl"
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        module, part = _split(key)
        name = _kohya_module(module, sdxl)
        out[name + _PARTS[part]] = _float16(value)
        out[name + ".alpha"] = np.array(alpha, np.float16)
    return out


def _split(key: str) -> tuple[str, str]:
    """(module path, ".lora_A.weight" | ".lora_B.weight"); ValueError for any other key."""
    for part in _PARTS:
        if key.endswith(part):
            return key.removesuffix(part), part
    raise ValueError(f"{key!r} is not a LoRA weight of a PEFT adapter (lora_A / lora_B).")


def _kohya_module(module: str, sdxl: bool) -> str:
    """kohya's name of a module: lora_unet_..., lora_te_... (SD 1.x) or lora_te1_/lora_te2_..."""
    for prefix in _TEXT_ENCODERS:
        if module.startswith(prefix):
            number = "2" if prefix == "text_encoder_2." else ("1" if sdxl else "")
            path = module.removeprefix(prefix).removeprefix("text_model.")
            return f"lora_te{number}_text_model_" + path.replace(".", "_")
    return "lora_unet_" + module.removeprefix("unet.").replace(".", "_")


def _float16(value: Any) -> np.ndarray:
    """A torch tensor (any dtype, any device) or array as a contiguous float16 array."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, np.float16, order="C")


def lora_metadata(
    *,
    trigger: str,
    class_word: str,
    name: str,
    base_name: str,
    base_hash: str,
    family: str,
    rank: int,
    alpha: float,
    steps: int,
    resolution: int,
    learning_rate: float,
    batch_size: int,
    photo_count: int,
    tag_frequency: Mapping[str, int],
    created: str,
) -> dict[str, str]:
    """The file's metadata as kohya's trainer writes it (`ss_*`) and Stability's model spec
    (`modelspec.*`), all strings. `base_hash` is the base model's A1111 short hash (a sha256
    prefix, as civitai matches it); `created` an ISO-8601 time; `tag_frequency` how often
    each caption tag was used. The trigger word is the model spec's trigger phrase, so it
    comes first in the trigger words readers show."""
    if family not in BASE_VERSIONS:
        raise ValueError(f"Atelier writes LoRAs for SD 1.x and SDXL, not for {family!r}.")
    version, architecture = BASE_VERSIONS[family]
    folder = f"{REPEATS}_{trigger} {class_word}"
    return {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(float(alpha)),
        "ss_base_model_version": version,
        "ss_v2": "False",
        "ss_sd_model_name": base_name,
        "ss_new_sd_model_hash": base_hash,
        "ss_resolution": f"({resolution}, {resolution})",
        "ss_max_train_steps": str(steps),
        "ss_steps": str(steps),
        "ss_learning_rate": str(float(learning_rate)),
        "ss_unet_lr": str(float(learning_rate)),
        "ss_text_encoder_lr": "0.0",  # only the UNet is trained
        "ss_batch_size_per_device": str(batch_size),
        "ss_total_batch_size": str(batch_size),
        "ss_num_train_images": str(photo_count),
        "ss_dataset_dirs": json.dumps({folder: {"n_repeats": REPEATS, "img_count": photo_count}}),
        "ss_tag_frequency": json.dumps({folder: dict(tag_frequency)}, ensure_ascii=False),
        "ss_output_name": name,
        "ss_training_comment": f"Trained with Atelier: write '{trigger} {class_word}' "
        f"in the prompt.",
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": f"{architecture}/lora",
        # the tensors are named after diffusers' UNet modules, for both families
        "modelspec.implementation": "diffusers",
        "modelspec.title": name,
        "modelspec.date": created,
        "modelspec.resolution": f"{resolution}x{resolution}",
        "modelspec.trigger_phrase": trigger,
        "modelspec.usage_hint": f"Write '{trigger} {class_word}' in the prompt.",
    }
