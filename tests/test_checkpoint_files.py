"""Checkpoint files: safetensors headers, family detection, and the safe .ckpt loader."""

from __future__ import annotations

import json
import struct

import pytest

from engine.checkpoint_files import (
    detect_family,
    load_ckpt_state_dict,
    read_safetensors_header,
    safetensors_metadata,
    tensor_names,
)
from engine.protocol import JobError
from tests.fixtures.tiny_models import write_malicious_ckpt


def write_header(path, header: dict, data: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def test_header_lists_tensors_without_reading_them(tiny_models):
    header = read_safetensors_header(tiny_models / "tiny-sd15-single.safetensors")
    unet = header["model.diffusion_model.input_blocks.0.0.weight"]
    assert unet["dtype"] == "F32" and unet["shape"] == [16, 4, 3, 3]
    assert "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" in header


def test_metadata_is_read_from_the_header(tmp_path):
    path = tmp_path / "m.safetensors"
    write_header(
        path, {"__metadata__": {"modelspec.license": "MIT"}, "x": _tensor(0, 4)}, b"\0" * 4
    )
    header = read_safetensors_header(path)
    assert safetensors_metadata(header) == {"modelspec.license": "MIT"}
    assert tensor_names(header) == ["x"]


def _tensor(start: int, end: int) -> dict:
    return {"dtype": "F32", "shape": [(end - start) // 4], "data_offsets": [start, end]}


def test_truncated_file_is_refused_naming_the_file(tiny_models, tmp_path):
    data = (tiny_models / "tiny-sd15-single.safetensors").read_bytes()
    cut = tmp_path / "half-downloaded.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(JobError) as err:
        read_safetensors_header(cut)
    assert err.value.kind == "invalid_input"
    assert "half-downloaded.safetensors" in err.value.message and "truncated" in err.value.message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "only 0 bytes"),
        (b"abc", "only 3 bytes"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "Git LFS pointer"),
        (b"\xff" * 64, "does not start with a safetensors header"),
        (struct.pack("<Q", 5) + b"{oops", "not valid JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a table"),
    ],
)
def test_files_that_are_not_safetensors_are_refused(tmp_path, content, words):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(JobError) as err:
        read_safetensors_header(path)
    assert err.value.kind == "invalid_input"
    assert str(path) in err.value.message and words in err.value.message


def test_tensor_offsets_past_the_end_are_refused(tmp_path):
    path = tmp_path / "short.safetensors"
    write_header(path, {"a": _tensor(0, 8), "b": _tensor(8, 4096)}, b"\0" * 64)
    with pytest.raises(JobError, match="truncated"):
        read_safetensors_header(path)


@pytest.mark.parametrize(
    ("name", "family"),
    [("tiny-sd15-single.safetensors", "sd15"), ("tiny-sdxl-single.safetensors", "sdxl")],
)
def test_tiny_single_files_are_detected_by_family(tiny_models, name, family):
    header = read_safetensors_header(tiny_models / name)
    assert detect_family(tensor_names(header)) == family


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_ckpt_keys_come_from_the_safe_loader_and_give_the_family(tiny_models, family):
    state = load_ckpt_state_dict(tiny_models / f"tiny-{family}-ckpt.ckpt", mmap=True)
    assert "state_dict" not in state and "model.diffusion_model.out.2.bias" in state
    assert detect_family(state) == family


UNET = ["model.diffusion_model.input_blocks.0.0.weight", "model.diffusion_model.out.2.bias"]
VAE = ["first_stage_model.decoder.conv_in.weight", "first_stage_model.encoder.conv_in.weight"]


@pytest.mark.parametrize(
    ("keys", "family"),
    [
        (UNET + VAE + ["cond_stage_model.transformer.text_model.final_layer_norm.weight"], "sd15"),
        (UNET + VAE + ["cond_stage_model.model.transformer.resblocks.0.ln_1.weight"], "sd2"),
        (
            UNET
            + ["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"]
            + ["conditioner.embedders.1.model.ln_final.weight"],
            "sdxl",
        ),
        (UNET + ["conditioner.embedders.0.model.text_projection"], "sdxl_refiner"),
        (["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"], "lora"),
        (["lora_te1_text_model_encoder_layers_0_mlp_fc1.alpha"], "lora"),
        (["unet.down_blocks.0.attentions.0.proj_in.lora_A.weight"], "lora"),
        (["unet.mid_block.attentions.0.to_q_lora.down.weight"], "lora"),
        (["lycoris_unet_down.hada_w1_a"], "lora"),
        (
            ["decoder.conv_in.weight", "encoder.down.0.block.0.conv1.weight", "quant_conv.weight"],
            "vae",
        ),
        (["decoder.conv_in.weight", "decoder.up_blocks.0.resnets.0.conv1.weight"], "vae"),
        (VAE, "vae"),
        (
            ["control_model.input_hint_block.0.weight", "control_model.time_embed.0.weight"],
            "controlnet",
        ),
        (
            ["controlnet_cond_embedding.conv_in.weight", "down_blocks.0.resnets.0.conv1.weight"],
            "controlnet",
        ),
        (["down_blocks.0.motion_modules.0.temporal_transformer.norm.weight"], "motion"),
        (UNET, "unknown"),
        (UNET + VAE, "unknown"),
        (["emb_params"], "unknown"),
        ([], "unknown"),
    ],
)
def test_family_from_key_names(keys, family):
    assert detect_family(keys) == family


def test_malicious_ckpt_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = write_malicious_ckpt(tmp_path / "evil.ckpt", marker)
    with pytest.raises(JobError) as err:
        load_ckpt_state_dict(path)
    assert err.value.kind == "invalid_input"
    assert "refused: it contains code" in err.value.message and str(path) in err.value.message
    assert not marker.exists()


def test_plain_pickle_with_code_is_refused(tmp_path):
    import pickle

    from tests.fixtures.tiny_models import _Payload

    marker = tmp_path / "pwned"
    path = tmp_path / "legacy.pt"
    path.write_bytes(pickle.dumps({"w": _Payload(marker)}))
    with pytest.raises(JobError, match="refused: it contains code"):
        load_ckpt_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["truncated", "text", "empty"])
def test_damaged_ckpt_is_a_clear_error(tiny_models, tmp_path, how):
    data = (tiny_models / "tiny-sd15-ckpt.ckpt").read_bytes()
    content = {"truncated": data[: len(data) // 3], "text": b"not a model\n", "empty": b""}[how]
    path = tmp_path / "broken.ckpt"
    path.write_bytes(content)
    with pytest.raises(JobError) as err:
        load_ckpt_state_dict(path)
    assert err.value.kind == "invalid_input" and str(path) in err.value.message


def test_ckpt_holding_something_else_than_weights_is_refused(tmp_path):
    import torch

    path = tmp_path / "list.ckpt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(JobError, match="not model weights"):
        load_ckpt_state_dict(path)


def test_module_is_torch_free_at_import():
    import subprocess
    import sys

    code = (
        "import sys, engine.checkpoint_files, engine.model_store; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
