"""The engine loads any family a plugin declares, of any store kind, through that family's
loader, after its own checks of the files; it names the families it knows."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from engine.devices import DevicePolicy
from engine.model_families import family_label
from engine.model_loader import load_model
from engine.model_store import ModelStore
from engine.protocol import JobError
from engine.worker import InlineEngine
from plugins.diffusion import plugin as diffusion_plugin
from plugins.registry import Registry
from tests import token_tasks
from tests.fixtures.tiny_models import write_malicious_ckpt

CPU = DevicePolicy("cpu", "float32")


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    return token_tasks.save_tiny_gpt2(tmp_path_factory.mktemp("gpt2") / "tiny-gpt2")


@pytest.fixture
def store(tmp_path):
    return ModelStore(home=tmp_path, extra_folders=[], hf_cache=tmp_path / "-")


def test_a_family_of_another_kind_loads_through_its_plugins_loader(gpt2, store):
    token_tasks.LOADS.clear()
    model = load_model(token_tasks.gpt2_entry(gpt2), store, token_tasks.FAMILIES, CPU)
    assert type(model).__name__ == "GPT2LMHeadModel"
    (load,) = token_tasks.LOADS
    assert load == {"dtype": torch.float32, "device": "cpu", "variant": None}
    assert {p.device.type for p in model.parameters()} == {"cpu"}  # placed by the policy


def test_a_job_loads_the_family_once_and_its_recipe_names_the_model(gpt2, store):
    token_tasks.LOADS.clear()
    engine = InlineEngine(token_tasks.TASKS, store=store, families=token_tasks.FAMILIES)
    params = token_tasks.TokensParams(tokens=3, seed=2, folder=str(gpt2))
    first = engine.submit("test.tokens", params).future.result()
    again = engine.submit("test.tokens", params).future.result()
    assert len(token_tasks.LOADS) == 1  # the model cache kept it
    recipe = first.outputs[0].meta["recipe"]
    assert recipe["params"] == {"tokens": 3, "seed": 2}
    entry = token_tasks.gpt2_entry(gpt2)
    assert recipe["model"] == {
        "name": "tiny-gpt2",
        "family": "tiny_gpt2",
        "hash": entry.short_hash(),
    }
    assert (first.outputs[0].pixels == again.outputs[0].pixels).all()  # same seed, same file


def refused(folder, store) -> JobError:
    token_tasks.LOADS.clear()
    with pytest.raises(JobError) as err:
        load_model(token_tasks.gpt2_entry(folder), store, token_tasks.FAMILIES, CPU)
    assert token_tasks.LOADS == []  # the loader never ran
    return err.value


def test_a_model_folder_asking_for_its_own_code_is_refused_before_the_loader(gpt2, store, tmp_path):
    folder = shutil.copytree(gpt2, tmp_path / "custom")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling.Evil"}
    (folder / "config.json").write_text(json.dumps(config))
    error = refused(folder, store)
    assert error.kind == "invalid_input" and "auto_map" in error.message


def test_pickled_weights_with_code_are_refused_before_the_loader(gpt2, store, tmp_path):
    folder = shutil.copytree(gpt2, tmp_path / "pickled")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "FOREIGN-CODE-RAN"
    write_malicious_ckpt(folder / "pytorch_model.bin", marker)
    error = refused(folder, store)
    assert "refused: it contains code" in error.message and not marker.exists()


def test_a_pipe_or_missing_weights_in_a_model_folder_are_refused(gpt2, store, tmp_path):
    piped = shutil.copytree(gpt2, tmp_path / "piped")
    (piped / "generation_config.json").unlink()
    os.mkfifo(piped / "generation_config.json")  # transformers would block reading it
    assert "generation_config.json is a pipe" in refused(piped, store).message
    empty = shutil.copytree(gpt2, tmp_path / "empty")
    (empty / "model.safetensors").unlink()
    error = refused(empty, store)
    assert error.kind == "missing_model" and "it has no weights" in error.message


def test_the_engine_of_a_registry_loads_its_families_and_names_them():
    registry = Registry()
    registry.add(diffusion_plugin)
    engine = InlineEngine.from_registry(registry)
    checkpoints = {"sd15", "sd2", "sdxl", "sdxl_refiner"}
    controls, depth = {"controlnet", "t2i_adapter"}, {"dpt", "depth_anything"}
    assert set(engine.models.families) == checkpoints | controls | depth
    families = engine.models.families
    assert family_label("sdxl", families) == "SDXL"
    assert family_label("lora", families) == "LoRA"  # an add-on: no plugin loads it alone
    assert family_label("svd") == "svd"
