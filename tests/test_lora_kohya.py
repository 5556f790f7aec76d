"""The kohya-format LoRA file Atelier writes: a PEFT adapter trained on the tiny SD 1.x and
SDXL models, converted and written, loads in diffusers and through Atelier's own LoRA path
and acts as the adapter did in memory; its names, alphas and metadata are kohya's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from engine.checkpoint_files import read_safetensors_header
from engine.model_entry import ModelEntry
from engine.protocol import ModelData
from plugins.diffusion.adapters import load_lora
from plugins.diffusion.lora_files import (
    lora_base_family,
    lora_file_triggers,
    safetensors_shapes,
    trigger_words,
)
from plugins.lora_training.kohya_format import lora_metadata, peft_to_kohya
from plugins.lora_training.model_export import write_model
from tests.fixtures.tiny_models import FAMILIES, build_tiny_pipeline

RANK, ALPHA = 4, 8.0  # alpha != rank: a file that ignored alpha would act twice as weakly
UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
TAGS = {"sks": 12, "dog": 12, "grass": 3}
STRINGS = [
    "ss_network_module",
    "ss_network_dim",
    "ss_network_alpha",
    "ss_base_model_version",
    "ss_sd_model_name",
    "ss_new_sd_model_hash",
    "ss_resolution",
    "ss_max_train_steps",
    "ss_steps",
    "ss_learning_rate",
    "ss_unet_lr",
    "ss_text_encoder_lr",
    "ss_batch_size_per_device",
    "ss_num_train_images",
    "ss_tag_frequency",
    "ss_output_name",
    "ss_training_comment",
    "modelspec.sai_model_spec",
    "modelspec.architecture",
    "modelspec.implementation",
    "modelspec.title",
    "modelspec.date",
    "modelspec.resolution",
    "modelspec.trigger_phrase",
]


ARGUMENTS = {
    "trigger": "sks",
    "class_word": "dog",
    "name": "my-dog",
    "base_name": "tiny",
    "base_hash": "0123456789",
    "rank": RANK,
    "alpha": ALPHA,
    "steps": 800,
    "resolution": 512,
    "learning_rate": 1e-4,
    "batch_size": 2,
    "photo_count": 12,
    "tag_frequency": TAGS,
    "created": "2025-01-02T03:04:05+00:00",
}


def metadata(family: str) -> dict[str, str]:
    return lora_metadata(**ARGUMENTS, family=family)


def latents(pipe) -> torch.Tensor:
    """A two-step generation's latents, fixed seed: what the UNet and text encoders make."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        return pipe(
            "a photo of sks dog",
            num_inference_steps=2,
            height=64,
            width=64,
            generator=generator,
            output_type="latent",
        ).images


def encoders(pipe) -> dict[str, torch.nn.Module]:
    names = ("text_encoder", "text_encoder_2")
    return {name: getattr(pipe, name) for name in names if getattr(pipe, name, None) is not None}


def train_in_memory(pipe) -> dict[str, torch.Tensor]:
    """PEFT adapters on the UNet and text encoders with random, non-zero weights (as a
    trained LoRA has); their state with the text encoders' keys prefixed by the part."""
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

    def config(targets: list[str]) -> LoraConfig:
        return LoraConfig(
            r=RANK, lora_alpha=ALPHA, init_lora_weights="gaussian", target_modules=targets
        )

    pipe.unet.add_adapter(config(UNET_TARGETS), adapter_name="trained")
    for encoder in encoders(pipe).values():
        inject_adapter_in_model(config(TEXT_TARGETS), encoder, adapter_name="trained")
    torch.manual_seed(0)
    with torch.no_grad():
        for part in (pipe.unet, *encoders(pipe).values()):
            for name, weight in part.named_parameters():
                if "lora_B" in name:
                    weight.normal_(0, 0.3)
    state = dict(get_peft_model_state_dict(pipe.unet, adapter_name="trained"))
    for prefix, encoder in encoders(pipe).items():
        encoder_state = get_peft_model_state_dict(encoder, adapter_name="trained")
        state.update({f"{prefix}.{key}": value for key, value in encoder_state.items()})
    return state


@dataclass(frozen=True)
class Trained:
    family: str
    path: Path
    base: torch.Tensor  # the latents without a LoRA
    in_memory: torch.Tensor  # with the adapter in memory


@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, tmp_path_factory) -> Trained:
    family = request.param
    pipe = build_tiny_pipeline(family)
    base = latents(pipe)
    state = train_in_memory(pipe)
    tensors = peft_to_kohya(state, ALPHA)
    path = tmp_path_factory.mktemp(family) / "my-dog.safetensors"
    write_model(path, ModelData(tensors, metadata(family)))
    return Trained(family, path, base, latents(pipe))


def assert_acts_as_in_memory(trained: Trained, loaded: torch.Tensor) -> None:
    """Within float16 rounding of the adapter's effect, which is itself large."""
    effect = float((trained.in_memory - trained.base).abs().max())
    error = float((loaded - trained.in_memory).abs().max())
    assert effect > 1.0
    assert error < 0.02 * effect, (error, effect)


def test_the_file_loads_in_diffusers_and_acts_as_the_adapter_did(trained):
    fresh = build_tiny_pipeline(trained.family)
    fresh.load_lora_weights(str(trained.path))
    assert_acts_as_in_memory(trained, latents(fresh))


def test_atelier_loads_the_file_for_its_family_through_its_own_lora_path(trained):
    header = read_safetensors_header(trained.path)
    assert lora_base_family(safetensors_shapes(header)) == trained.family
    checkpoint = ModelEntry(
        "tiny", "checkpoints", trained.family, "diffusers", Path(), 0, "atelier"
    )
    size = trained.path.stat().st_size
    lora = ModelEntry("my-dog", "loras", "", "single_file", trained.path, size, "atelier")
    fresh = build_tiny_pipeline(trained.family)
    load_lora(checkpoint, fresh, lora)
    assert_acts_as_in_memory(trained, latents(fresh))
    assert lora_file_triggers(trained.path)[0] == "sks"


def test_names_parts_and_alphas_are_kohyas(trained):
    tensors = load_file(str(trained.path))
    modules = {key.rsplit(".", 2)[0] if "weight" in key else key[:-6] for key in tensors}
    for module in modules:
        down, up = tensors[f"{module}.lora_down.weight"], tensors[f"{module}.lora_up.weight"]
        assert down.dtype == up.dtype == np.float16
        assert down.shape[0] == up.shape[1] == RANK
        assert tensors[f"{module}.alpha"].shape == () and float(tensors[f"{module}.alpha"]) == ALPHA
    assert len(tensors) == 3 * len(modules)
    prefixes = {module.split("_text_model_")[0] for module in modules if "_text_model_" in module}
    assert prefixes == ({"lora_te1", "lora_te2"} if trained.family == "sdxl" else {"lora_te"})
    unet = [m for m in modules if m.startswith("lora_unet_")]
    assert len(unet) + sum("_text_model_" in m for m in modules) == len(modules)
    assert any(m.endswith("attn2_to_out_0") for m in unet)


def test_keys_other_than_lora_weights_are_refused():
    with pytest.raises(ValueError, match="lora_magnitude_vector"):
        peft_to_kohya({"mid_block.attn1.to_q.lora_magnitude_vector": np.ones(4)}, 1.0)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_metadata_is_kohyas_and_the_model_specs_as_strings(family):
    meta = metadata(family)
    assert set(STRINGS) <= set(meta)
    assert all(isinstance(value, str) for value in meta.values())
    assert trigger_words(meta)[0] == "sks"
    assert json.loads(meta["ss_tag_frequency"]) == {"1_sks dog": TAGS}
    assert json.loads(meta["ss_dataset_dirs"])["1_sks dog"]["img_count"] == 12
    sdxl = family == "sdxl"
    assert meta["ss_base_model_version"] == ("sdxl_base_v1-0" if sdxl else "sd_v1")
    assert meta["modelspec.architecture"] == (
        "stable-diffusion-xl-v1-base/lora" if sdxl else "stable-diffusion-v1/lora"
    )
    assert meta["ss_network_module"] == "networks.lora"
    assert (meta["ss_network_dim"], float(meta["ss_network_alpha"])) == ("4", ALPHA)
    assert meta["ss_resolution"] == "(512, 512)" and meta["modelspec.resolution"] == "512x512"
    assert float(meta["ss_learning_rate"]) == 1e-4 and meta["ss_steps"] == "800"


def test_a_family_without_a_kohya_base_version_is_refused():
    with pytest.raises(ValueError, match="sd3"):
        metadata("sd3")
