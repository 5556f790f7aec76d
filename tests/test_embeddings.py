"""Textual-inversion embeddings used by name in prompts, on the tiny SD 1.x and SDXL
models: .safetensors and .pt (weights only) files, removal restoring the base output, a
wrong family refused, the store's "embeddings" kind, and recipes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion import TXT2IMG
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import Txt2ImgParams
from tests.fixtures import tiny_loras

FAST = Txt2ImgParams(prompt="a red circle", steps=2, width=64, height=64, seed=7)
pytestmark = pytest.mark.usefixtures("unmarked_pixels")


@pytest.fixture
def store(atelier_home, tiny_config_root):
    folder = atelier_home / "models" / "embeddings"
    tiny_loras.save_embedding_safetensors(folder / "shiny-style.safetensors")
    tiny_loras.save_embedding_pt(folder / "old-style.pt")
    tiny_loras.save_embedding_safetensors(folder / "xl-look.safetensors", family="sdxl")
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


@pytest.fixture
def engine(store):
    eng = InlineEngine({TXT2IMG.id: TXT2IMG}, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


def generate(engine, **changes):
    return engine.submit(TXT2IMG.id, dataclasses.replace(FAST, **changes)).future.result()


def image(engine, **changes) -> np.ndarray:
    event = generate(engine, **changes)
    assert isinstance(event, JobFinished), event
    return event.outputs[0].pixels


def test_the_store_lists_embeddings_as_their_own_kind(store):
    found = {e.name: e for e in store.entries if e.kind == "embeddings"}
    assert set(found) == {"shiny-style", "old-style", "xl-look"}
    assert {e.family for e in found.values()} == {"embedding"}


def test_an_embedding_named_in_the_prompt_changes_it_and_leaving_it_out_restores_the_base(
    engine,
):
    base = image(engine)
    shiny = image(engine, prompt="a red circle, Shiny-Style")
    old = image(engine, prompt="a red circle", negative_prompt="old-style")
    both = image(engine, prompt="a red circle, shiny-style", negative_prompt="old-style")
    assert not np.array_equal(base, shiny)
    assert not np.array_equal(base, old)
    assert not np.array_equal(shiny, both)
    assert np.array_equal(image(engine), base)
    assert np.array_equal(image(engine, prompt="a red circle, shiny-style"), shiny)
    longer_word = generate(engine, prompt="a red circle, shiny-styles")
    assert "embeddings" not in longer_word.outputs[0].meta["recipe"]["params"]


def test_recipe_records_embeddings_and_their_hashes(engine):
    event = generate(engine, prompt="a red circle, shiny-style")
    recipe = event.outputs[0].meta["recipe"]
    assert recipe["params"]["embeddings"] == [{"name": "shiny-style"}]
    hashes = {m["name"]: m["hash"] for m in recipe["models"]}
    assert len(hashes["shiny-style"]) == 10


def test_sdxl_embedding_on_sdxl_and_not_on_sd15(engine):
    base = image(engine, model="tiny-sdxl")
    look = image(engine, model="tiny-sdxl", prompt="a red circle, xl-look")
    assert not np.array_equal(base, look)
    assert np.array_equal(image(engine, model="tiny-sdxl"), base)
    event = generate(engine, prompt="a red circle, xl-look")
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert "xl-look" in event.message and "another model family" in event.message
