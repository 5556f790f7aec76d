"""LoRAs on the tiny SD 1.x / SDXL models through the real store, cache and engine: the
three key formats, alpha, weights, removal restoring the base output bit for bit, no
reload of the checkpoint, wrong families and unknown names, and what recipes record."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion import IMG2IMG, TXT2IMG
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import Img2ImgParams, LoraSpec, Txt2ImgParams
from tests.fixtures import tiny_loras

FAST = Txt2ImgParams(prompt="a red circle", steps=2, width=64, height=64, seed=7)


@pytest.fixture(scope="module")
def lora_files(tmp_path_factory):
    """The same SD 1.x LoRA in every format, a kohya file with alpha 2 (rank 4), and an
    SDXL LoRA."""
    root = tmp_path_factory.mktemp("loras")
    sd15 = tiny_loras.lora_weights("sd15")
    tiny_loras.save_peft_lora(sd15, root / "style-peft.safetensors")
    tiny_loras.save_old_diffusers_lora(sd15, root / "style-diffusers.safetensors")
    tiny_loras.save_kohya_lora(sd15, root / "style-kohya.safetensors")
    tiny_loras.save_kohya_lora(sd15, root / "style-kohya-alpha2.safetensors", alpha=2)
    tiny_loras.save_kohya_lora(sd15, root / "style-kohya-pickle.pt", alpha=2)
    other = tiny_loras.lora_weights("sd15", seed=5)
    tiny_loras.save_peft_lora(other, root / "other.safetensors")
    sdxl = tiny_loras.lora_weights("sdxl")
    tiny_loras.save_peft_lora(sdxl, root / "xl-style.safetensors")
    tiny_loras.save_kohya_lora(sdxl, root / "xl-style-kohya.safetensors", alpha=1)
    return root


@pytest.fixture
def engine(atelier_home, tiny_config_root, lora_files):
    loras = atelier_home / "models" / "loras"
    for file in lora_files.iterdir():
        shutil.copy2(file, loras / file.name)
    store = ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)
    tasks = {TXT2IMG.id: TXT2IMG, IMG2IMG.id: IMG2IMG}
    eng = InlineEngine(tasks, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


def generate(engine, **changes):
    return engine.submit(TXT2IMG.id, dataclasses.replace(FAST, **changes)).future.result()


def image(engine, **changes) -> np.ndarray:
    event = generate(engine, **changes)
    assert isinstance(event, JobFinished), event
    return event.outputs[0].pixels


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


pytestmark = pytest.mark.usefixtures("unmarked_pixels")


def test_a_lora_changes_the_image_and_removing_it_restores_the_base_exactly(engine, monkeypatch):
    loads = []
    real = engine.models.model.__func__

    def counting(cache, entry, policy):
        if entry.kind == "checkpoints" and not cache._models:
            loads.append(entry.name)
        return real(cache, entry, policy)

    monkeypatch.setattr(type(engine.models), "model", counting)
    base = image(engine)
    styled = image(engine, prompt="a red circle <lora:style-peft:1>")
    changed = image(engine, prompt="a red circle <lora:style-peft:0.5> <lora:other:0.7>")
    again = image(engine)
    assert not close(base, styled)
    assert not close(styled, changed)
    assert np.array_equal(base, again)
    assert loads == ["tiny-sd15"]  # loaded once: LoRAs never reload the checkpoint


def test_weight_zero_is_no_lora(engine):
    base = image(engine)
    assert np.array_equal(image(engine, prompt="a red circle <lora:style-peft:0>"), base)
    assert np.array_equal(image(engine, loras=(LoraSpec("style-peft", 0.0),)), base)


def test_params_loras_and_prompt_tags_agree(engine):
    by_tag = image(engine, prompt="a red circle <lora:style-peft:0.8>")
    by_params = image(engine, loras=(LoraSpec("style-peft", 0.8),))
    later_wins = image(
        engine, prompt="a red circle <lora:style-peft:0.8>", loras=(LoraSpec("style-peft", 0.2),)
    )
    assert np.array_equal(by_tag, by_params)
    assert np.array_equal(later_wins, by_tag)


def test_peft_diffusers_and_kohya_files_act_alike_and_alpha_is_honoured(engine):
    peft = image(engine, prompt="a red circle <lora:style-peft>")
    for name in ("style-diffusers", "style-kohya", "style-kohya-alpha2", "style-kohya-pickle"):
        assert close(image(engine, prompt=f"a red circle <lora:{name}>"), peft), name
    # the alpha-2 file's up weights are twice those of the others: ignoring its alpha
    # would double the LoRA, as weight 2 of the file written with alpha == rank does
    doubled = image(engine, prompt="a red circle <lora:style-kohya:2>")
    assert not close(doubled, peft)


def test_sdxl_lora_on_sdxl_and_a_wrong_family_is_refused(engine):
    base = image(engine, model="tiny-sdxl")
    styled = image(engine, model="tiny-sdxl", prompt="a red circle <lora:xl-style>")
    assert not close(base, styled)
    kohya = image(engine, model="tiny-sdxl", prompt="a red circle <lora:xl-style-kohya>")
    assert close(kohya, styled)
    assert np.array_equal(image(engine, model="tiny-sdxl"), base)
    event = generate(engine, prompt="a red circle <lora:xl-style>")
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert "SDXL" in event.message and "Stable Diffusion 1.x" in event.message
    event = generate(engine, model="tiny-sdxl", prompt="x <lora:style-peft>")
    assert isinstance(event, JobFailed) and "Stable Diffusion 1.x" in event.message


def test_unknown_lora_and_bad_weight_fail_with_one_sentence(engine):
    event = generate(engine, prompt="a red circle <lora:no-such-style:1>")
    assert isinstance(event, JobFailed) and event.kind == "missing_model"
    assert "No LoRA named 'no-such-style'" in event.message
    assert "style-kohya, style-kohya-alpha2, style-kohya-pickle, style-peft" in event.message
    event = generate(engine, prompt="a red circle <lora:style-peft:strong>")
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert "<lora:style-peft:strong>" in event.message


def test_recipe_records_loras_with_weights_and_hashes(engine):
    event = generate(
        engine, prompt="a red circle <lora:style-peft:0.6>", loras=(LoraSpec("other", 0.3),)
    )
    recipe = event.outputs[0].meta["recipe"]
    assert recipe["params"]["loras"] == [
        {"name": "other", "weight": 0.3},
        {"name": "style-peft", "weight": 0.6},
    ]
    assert recipe["params"]["prompt"] == "a red circle <lora:style-peft:0.6>"
    models = {m["name"]: m for m in recipe["models"]}
    assert models["style-peft"]["family"] == "lora" and len(models["style-peft"]["hash"]) == 10
    assert recipe["model"]["name"] == "tiny-sd15"


def test_image_to_image_takes_loras_too(engine):
    start = np.full((64, 64, 4), 128, np.uint8)
    params = Img2ImgParams(prompt="a red circle", steps=2, seed=3, image=start, work_size=64)
    base = engine.submit(IMG2IMG.id, params).future.result().outputs[0].pixels
    styled = dataclasses.replace(params, prompt="a red circle <lora:style-peft:1>")
    event = engine.submit(IMG2IMG.id, styled).future.result()
    assert isinstance(event, JobFinished), event
    assert not close(event.outputs[0].pixels, base)
    assert event.outputs[0].meta["recipe"]["params"]["loras"][0]["name"] == "style-peft"
