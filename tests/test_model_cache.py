"""The model cache: one load per checkpoint, views sharing its components, a memory budget."""

from __future__ import annotations

import pytest

from engine.devices import DevicePolicy, apply_policy, choose_device_policy
from engine.model_cache import ModelCache, model_bytes
from engine.model_store import ModelStore
from plugins.diffusion.families import BY_ID
from plugins.diffusion.pipelines import pipeline_view

CPU = DevicePolicy("cpu", "float32")


@pytest.fixture
def store(atelier_home, tiny_config_root):
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


def test_a_checkpoint_loads_once(store):
    cache = ModelCache(store, BY_ID)
    entry = store.find("tiny-sd15")
    assert cache.model(entry, CPU) is cache.model(entry, CPU)
    assert len(cache) == 1 and cache.used_bytes == model_bytes(cache.model(entry, CPU))


def make_img2img(pipe):
    return pipeline_view(pipe, "StableDiffusionImg2ImgPipeline")


def test_other_pipelines_of_a_checkpoint_share_its_components(store):
    cache = ModelCache(store, BY_ID)
    entry = store.find("tiny-sd15")
    txt2img = cache.model(entry, CPU)
    assert type(txt2img).__name__ == "StableDiffusionPipeline"
    img2img = cache.view(entry, CPU, "img2img", make_img2img)
    assert type(img2img).__name__ == "StableDiffusionImg2ImgPipeline"
    assert img2img.unet is txt2img.unet and img2img.vae is txt2img.vae
    assert img2img.text_encoder is txt2img.text_encoder
    assert cache.view(entry, CPU, "img2img", make_img2img) is img2img
    assert len(cache) == 1


def test_the_budget_evicts_the_least_recently_used(store):
    probe = ModelCache(store, BY_ID)
    sd15_bytes = model_bytes(probe.model(store.find("tiny-sd15"), CPU))
    cache = ModelCache(store, BY_ID, budget_bytes=int(sd15_bytes * 1.5))
    first = cache.model(store.find("tiny-sd15"), CPU)
    cache.model(store.find("tiny-sd15-single"), CPU)
    assert len(cache) == 1  # the first was unloaded to make room
    assert cache.model(store.find("tiny-sd15"), CPU) is not first
    assert cache.used_bytes <= cache.budget_bytes


def test_clear_unloads_everything(store):
    cache = ModelCache(store, BY_ID)
    cache.model(store.find("tiny-sd15"), CPU)
    cache.clear()
    assert len(cache) == 0 and cache.used_bytes == 0


def test_cpu_policy_is_fp32_and_settings_override_it():
    policy = choose_device_policy()
    assert (policy.device, policy.dtype) == ("cpu", "float32")  # no GPU here
    tuned = choose_device_policy({"attention_slicing": True, "unknown_setting": 1})
    assert tuned.attention_slicing and tuned.device == "cpu"


def test_device_settings_of_the_wrong_kind_are_ignored_alone():
    """settings.json is edited by hand: {"dtype": 5} broke the engine at start."""
    tuned = choose_device_policy(
        {"dtype": 5, "device": ["cuda"], "vae_tiling": "yes", "attention_slicing": True}
    )
    assert (tuned.device, tuned.dtype) == ("cpu", "float32")
    assert tuned.attention_slicing and not tuned.vae_tiling


# ---- placement: the device policy places a loaded model; offload never moves it whole


class FakePipeline:
    """Records how the device policy treats it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.vae = self

    def to(self, device):
        self.calls.append(f"to {device}")
        return self

    def enable_model_cpu_offload(self):
        self.calls.append("cpu offload")

    def enable_attention_slicing(self):
        self.calls.append("attention slicing")

    def enable_tiling(self):
        self.calls.append("vae tiling")


def test_cpu_offload_is_enabled_without_moving_the_pipeline_to_the_gpu():
    pipe = FakePipeline()
    low_memory = DevicePolicy("cuda", "float16", True, True, cpu_offload=True)
    apply_policy(pipe, low_memory)
    assert pipe.calls == ["cpu offload", "attention slicing", "vae tiling"]
    roomy = FakePipeline()
    apply_policy(roomy, DevicePolicy("cuda", "float16"))
    assert roomy.calls == ["to cuda"]


def test_a_loaded_checkpoint_reaches_cpu_offload_without_a_move_to_the_gpu(store, monkeypatch):
    """The low-memory path: the loader leaves the pipeline on the CPU and the policy turns
    on offload; nothing moves the whole pipeline to the GPU first."""
    from diffusers import DiffusionPipeline

    calls = []
    monkeypatch.setattr(DiffusionPipeline, "to", lambda self, *a, **k: calls.append(("to", a)))
    monkeypatch.setattr(
        DiffusionPipeline, "enable_model_cpu_offload", lambda self, *a, **k: calls.append("offload")
    )
    low_memory = DevicePolicy("cuda", "float32", cpu_offload=True)
    pipe = ModelCache(store, BY_ID).model(store.find("tiny-sd15"), low_memory)
    assert calls == ["offload"]
    assert {p.device.type for p in pipe.unet.parameters()} == {"cpu"}
