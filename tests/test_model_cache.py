"""The model cache: one load per checkpoint, shared components, a memory budget."""

from __future__ import annotations

import pytest

from engine.devices import DevicePolicy, choose_device_policy
from engine.model_cache import ModelCache, pipeline_bytes
from engine.model_store import ModelStore

CPU = DevicePolicy("cpu", "float32")


@pytest.fixture
def store(atelier_home, tiny_config_root):
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


def test_a_checkpoint_loads_once(store):
    cache = ModelCache(store)
    entry = store.find("tiny-sd15")
    assert cache.pipeline(entry, CPU) is cache.pipeline(entry, CPU)
    assert len(cache) == 1 and cache.used_bytes == pipeline_bytes(cache.pipeline(entry, CPU))


def test_other_pipelines_of_a_checkpoint_share_its_components(store):
    cache = ModelCache(store)
    entry = store.find("tiny-sd15")
    txt2img = cache.pipeline(entry, CPU, "StableDiffusionPipeline")
    img2img = cache.pipeline(entry, CPU, "StableDiffusionImg2ImgPipeline")
    assert type(img2img).__name__ == "StableDiffusionImg2ImgPipeline"
    assert img2img.unet is txt2img.unet and img2img.vae is txt2img.vae
    assert img2img.text_encoder is txt2img.text_encoder
    assert cache.pipeline(entry, CPU, "StableDiffusionImg2ImgPipeline") is img2img
    assert len(cache) == 1


def test_the_budget_evicts_the_least_recently_used(store):
    probe = ModelCache(store)
    sd15_bytes = pipeline_bytes(probe.pipeline(store.find("tiny-sd15"), CPU))
    cache = ModelCache(store, budget_bytes=int(sd15_bytes * 1.5))
    first = cache.pipeline(store.find("tiny-sd15"), CPU)
    cache.pipeline(store.find("tiny-sd15-single"), CPU)
    assert len(cache) == 1  # the first was unloaded to make room
    assert cache.pipeline(store.find("tiny-sd15"), CPU) is not first
    assert cache.used_bytes <= cache.budget_bytes


def test_clear_unloads_everything(store):
    cache = ModelCache(store)
    cache.pipeline(store.find("tiny-sd15"), CPU)
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
