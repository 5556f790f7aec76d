"""Loading checkpoints offline through the diffusion plugin's family loader: diffusers folders
and single files give the same pipeline; the engine's file checks run before any loader."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.devices import DevicePolicy
from engine.home import RESOURCES
from engine.model_loader import load_model
from engine.model_store import ModelEntry, ModelStore
from engine.protocol import JobError
from plugins.diffusion.families import BY_ID
from plugins.diffusion.pipelines import pipeline_family_class, require_family
from tests.fixtures.tiny_models import write_malicious_ckpt

SHIPPED = RESOURCES / "configs"
CPU = DevicePolicy("cpu", "float32")


def load_pipeline(entry, store):
    """`entry` loaded the way the engine loads it, with the diffusion plugin's families."""
    return load_model(entry, store, BY_ID, CPU)


@pytest.fixture
def no_network(monkeypatch):
    """Record (and refuse) every attempt to open a connection or resolve a host name."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], f"loading tried to reach the network: {attempts}"


@pytest.fixture
def store(tiny_models, tiny_config_root):
    return ModelStore(
        home=tiny_models / "no-home",
        extra_folders=[tiny_models],
        hf_cache=tiny_models / "no-cache",
        builtin_dir=tiny_models / "no-builtin",
        config_root=tiny_config_root,
    )


def load(store, name):
    return load_pipeline(store.find(name), store)


def generate(pipe) -> np.ndarray:
    return pipe(
        "a red circle",
        height=64,
        width=64,
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(3),
        output_type="np",
    ).images[0]


def assert_same_weights(a, b) -> None:
    for name, component in a.components.items():
        if isinstance(component, torch.nn.Module):
            wa, wb = component.state_dict(), b.components[name].state_dict()
            assert wa.keys() == wb.keys(), name
            for key, tensor in wa.items():
                assert torch.equal(tensor, wb[key]), f"{name}.{key} differs"
        else:
            assert type(component) is type(b.components[name]), name


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_folder_single_file_and_ckpt_load_the_same_weights_and_image(store, no_network, family):
    folder = load(store, f"tiny-{family}")
    assert type(folder).__name__ == pipeline_family_class(family)
    reference = generate(folder)
    assert reference.shape == (64, 64, 3) and reference.std() > 0
    for name in (f"tiny-{family}-single", f"tiny-{family}-ckpt"):
        other = load(store, name)
        assert_same_weights(folder, other)
        assert np.array_equal(generate(other), reference), name


def test_ckpt_is_only_unpickled_weights_only(store, monkeypatch):
    calls = []
    original = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    load(store, "tiny-sd15-ckpt")
    assert calls and all(flag is True for flag in calls)


def test_loading_needs_neither_hub_offline_mode_nor_network(tiny_models, tiny_config_root):
    """In a fresh process without HF_HUB_OFFLINE, local_files_only + config= never connect."""
    code = f"""
import socket
tried = []
def refuse(*a, **k):
    tried.append(a)
    raise OSError("no network")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import torch
from engine.devices import DevicePolicy
from engine.model_loader import load_model
from engine.model_store import ModelStore
from plugins.diffusion.families import BY_ID
store = ModelStore(home={str(tiny_models)!r}, extra_folders=[{str(tiny_models)!r}],
                   hf_cache={str(tiny_models / "none")!r}, config_root={str(tiny_config_root)!r})
for name in ("tiny-sd15-single", "tiny-sdxl-single"):
    load_model(store.find(name), store, BY_ID, DevicePolicy("cpu", "float32"))
assert not tried, tried
"""
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if not k.startswith(("HF_", "TRANSFORMERS_"))
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_malicious_ckpt_is_refused_before_diffusers_sees_it(tmp_path, store):
    marker = tmp_path / "pwned"
    path = write_malicious_ckpt(tmp_path / "evil.ckpt", marker)
    entry = ModelEntry("evil", "checkpoints", "sd15", "single_file", path, 1, "extra")
    with pytest.raises(JobError) as err:
        load_pipeline(entry, store)
    assert err.value.kind == "invalid_input" and "refused: it contains code" in err.value.message
    assert not marker.exists()


def test_truncated_single_file_is_a_clear_error(tiny_models, tmp_path, store):
    data = (tiny_models / "tiny-sd15-single.safetensors").read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) - 1000])
    entry = ModelEntry("cut", "checkpoints", "sd15", "single_file", path, 1, "extra")
    with pytest.raises(JobError) as err:
        load_pipeline(entry, store)
    assert err.value.kind == "invalid_input" and "cut.safetensors" in err.value.message


@pytest.mark.parametrize(
    ("remove", "words"),
    [
        ("unet/diffusion_pytorch_model.safetensors", "unet/ has no weights"),
        ("text_encoder", "text_encoder folder"),
    ],
)
def test_incomplete_diffusers_folder_says_what_is_missing(
    tiny_models, tmp_path, store, remove, words
):
    folder = shutil.copytree(tiny_models / "tiny-sd15", tmp_path / "partial")
    target = folder / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    entry = ModelEntry("partial", "checkpoints", "sd15", "diffusers", folder, 1, "extra")
    with pytest.raises(JobError) as err:
        load_pipeline(entry, store)
    assert err.value.kind == "missing_model" and words in err.value.message


def test_single_file_of_the_wrong_architecture_is_a_clear_error(tiny_models, store):
    path = tiny_models / "tiny-sd15-single.safetensors"
    entry = ModelEntry("mislabelled", "checkpoints", "sdxl", "single_file", path, 1, "extra")
    with pytest.raises(JobError) as err:
        load_pipeline(entry, store)
    assert err.value.kind == "invalid_input" and "mislabelled" in err.value.message


def test_family_without_shipped_configs_is_refused(tiny_models, store):
    path = tiny_models / "tiny-sd15-single.safetensors"
    entry = ModelEntry("v2", "checkpoints", "sd2", "single_file", path, 1, "extra")
    with pytest.raises(JobError, match="no offline configs"):
        load_pipeline(entry, store)


def test_a_lora_is_not_loaded_as_a_pipeline(tiny_models, store):
    entry = ModelEntry(
        "ink", "loras", "lora", "single_file", tiny_models / "x.safetensors", 1, "extra"
    )
    with pytest.raises(JobError) as err:
        load_pipeline(entry, store)
    message = err.value.message
    assert err.value.kind == "invalid_input" and "'ink' is a LoRA model (family 'lora'" in message
    assert "no installed plugin loads it" in message
    assert "not loaded by itself: choose a checkpoint" in message
    installed = message.split("Installed model families: ")[1].split(". ")[0].split(", ")
    assert {"ControlNet", "SDXL", "SDXL refiner", "Stable Diffusion 1.x"} <= set(installed)
    assert installed == sorted(installed)


def test_a_family_no_plugin_loads_is_named_with_what_is_installed(tiny_models, store):
    path = tiny_models / "tiny-sd15"
    entry = ModelEntry("clip", "video", "svd", "diffusers", path, 1, "extra")
    with pytest.raises(JobError) as err:
        load_pipeline(entry, store)
    assert "family 'svd', a video model" in err.value.message
    assert "Stable Diffusion 2.x" in err.value.message
    sd15 = store.find("tiny-sd15")
    with pytest.raises(JobError, match="family 'sd15'.*Installed model families: none"):
        load_model(sd15, store, {}, CPU)


def test_pipeline_classes_per_family():
    assert pipeline_family_class("sd15") == "StableDiffusionPipeline"
    assert pipeline_family_class("sdxl") == "StableDiffusionXLPipeline"
    with pytest.raises(JobError) as err:
        pipeline_family_class("unknown")
    assert err.value.kind == "invalid_input"


def test_require_family_names_the_feature_and_the_model():
    entry = ModelEntry("big", "checkpoints", "sdxl", "single_file", SHIPPED, 1, "extra")
    require_family(entry, {"sdxl", "sd15"}, "Inpainting")
    with pytest.raises(JobError) as err:
        require_family(entry, {"sd15"}, "AnimateDiff video")
    message = err.value.message
    assert err.value.kind == "invalid_input"
    assert "AnimateDiff video" in message and "'big'" in message and "SDXL" in message


# ---- the shipped real-size configs (no weights exist here, so: meta device + offline parts)

KNOWN_PARAMETERS = {
    ("sd15", "unet"): 859_520_964,
    ("sdxl", "unet"): 2_567_463_684,
    ("sd15", "vae"): 83_653_863,
    ("sdxl", "vae"): 83_653_863,
    ("sd15", "text_encoder"): 123_060_480,
    ("sdxl", "text_encoder"): 123_060_480,
    ("sdxl", "text_encoder_2"): 694_659_840,
}


@pytest.mark.parametrize(("family", "component"), sorted(KNOWN_PARAMETERS))
def test_shipped_configs_build_the_real_architectures(family, component):
    import diffusers
    import transformers

    library, class_name = json_load(SHIPPED / family / "model_index.json")[component]
    cls = getattr(diffusers if library == "diffusers" else transformers, class_name)
    with torch.device("meta"):
        if library == "diffusers":
            model = cls.from_config(cls.load_config(SHIPPED / family / component))
        else:
            model = cls(cls.config_class.from_pretrained(SHIPPED / family / component))
    assert sum(p.numel() for p in model.parameters()) == KNOWN_PARAMETERS[(family, component)]


def json_load(path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_shipped_configs_load_their_weightless_parts_offline(no_network, family):
    import diffusers

    cls = getattr(diffusers, pipeline_family_class(family))
    index = cls.load_config(SHIPPED / family)
    assert index["_class_name"] == cls.__name__
    scheduler_cls = getattr(diffusers, index["scheduler"][1])
    scheduler = scheduler_cls.from_pretrained(
        SHIPPED / family, subfolder="scheduler", local_files_only=True
    )
    assert scheduler.config.num_train_timesteps == 1000
    from transformers import CLIPTokenizer

    for sub in ("tokenizer", "tokenizer_2"):
        if sub in index:
            tok = CLIPTokenizer.from_pretrained(
                SHIPPED / family, subfolder=sub, local_files_only=True
            )
            assert len(tok) == 49408


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_shipped_configs_drive_single_file_loading_offline(tiny_models, no_network, family):
    """With the real configs, from_single_file gets as far as the weights (which are tiny
    here, so they do not fit): every config it reads first is shipped and found offline."""
    store = ModelStore(home=tiny_models, extra_folders=[tiny_models], hf_cache=tiny_models)
    with pytest.raises(JobError) as err:
        load(store, f"tiny-{family}-single")
    assert err.value.kind == "invalid_input" and "does not match" in err.value.message
