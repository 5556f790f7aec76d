"""Reference images (IP-Adapters) on the diffusion tasks: tiny IP-Adapters from the store
steer text to image, image to image, inpaint and outpaint, alone and with a ControlNet;
weight 0 and taking them off give the base output bit for bit; an adapter for another
model gets one sentence naming both; the recipe names each reference and its adapter."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from engine.ip_adapters import ip_adapter_info
from engine.model_store import ModelStore
from engine.worker import InlineEngine
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import (
    ControlSpec,
    Img2ImgParams,
    InpaintParams,
    OutpaintParams,
    ReferenceSpec,
)
from tests.fixtures import tiny_controls, tiny_ip_adapters
from tests.test_controls import PICTURE, differ, failure, image, run

LOOK = np.zeros((48, 40, 3), np.uint8)
LOOK[:, :20] = (250, 30, 20)
LOOK[:, 20:] = (20, 40, 240)
REFERENCE = ReferenceSpec(LOOK, 0.8)

pytestmark = pytest.mark.usefixtures("unmarked_pixels")


@pytest.fixture(scope="module")
def adapter_files(tmp_path_factory):
    """An h94-style folder: models/ip-adapter-tiny.safetensors (fits tiny-sd15) with
    models/image_encoder, and ip-adapter-sd15-wide.safetensors (made for a real SD 1.x:
    768-wide cross-attention) beside it."""
    root = tmp_path_factory.mktemp("ipadapters") / "IP-Adapter"
    tiny_ip_adapters.save_tiny_ip_adapter("sd15", root / "models")
    tiny_ip_adapters.save_tiny_ip_adapter(
        "sd15", root / "models", name="ip-adapter-sd15-wide", width=768
    )
    tiny_controls.save_tiny_controlnet("sd15", root.parent / "tiny-sd15-scribble")
    return root


@pytest.fixture
def store(atelier_home, tiny_config_root, adapter_files):
    shutil.copytree(adapter_files, atelier_home / "models" / "ipadapter" / "IP-Adapter")
    shutil.copytree(
        adapter_files.parent / "tiny-sd15-scribble",
        atelier_home / "models" / "controlnet" / "tiny-sd15-scribble",
    )
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


@pytest.fixture
def engine(store):
    tasks = {task.id: task for task in (TXT2IMG, IMG2IMG, INPAINT, OUTPAINT)}
    eng = InlineEngine(tasks, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


def test_the_store_lists_ip_adapters_with_what_they_fit(store):
    adapters = {e.name: e for e in store.entries if e.kind == "ipadapter"}
    assert set(adapters) == {"ip-adapter-tiny", "ip-adapter-sd15-wide"}  # not the encoder
    tiny, wide = adapters["ip-adapter-tiny"].ip_adapter, adapters["ip-adapter-sd15-wide"]
    assert (tiny.base, tiny.cross_attention_dim, tiny.image_embed_dim) == ("", 8, 12)
    assert tiny.layers >= 2 and wide.family == "ip_adapter" and wide.ip_adapter.base == "sd15"


def test_base_families_come_from_the_cross_attention_width():
    def shapes(width, proj="image_proj.proj.weight"):
        return {proj: [4 * width, 1024], "ip_adapter.1.to_k_ip.weight": [320, width]}

    assert ip_adapter_info(shapes(768)).base == "sd15"
    assert ip_adapter_info(shapes(2048)).base == "sdxl"
    plus = ip_adapter_info(shapes(2048, "image_proj.proj_in.weight"))
    assert plus.hidden_states and plus.image_embed_dim == 1024
    assert ip_adapter_info({"image_proj.norm.weight": [768]}) is None  # FaceID: not usable


def test_an_ip_adapter_pickle_is_skipped_with_a_sentence(atelier_home):
    (atelier_home / "models" / "ipadapter" / "ip-adapter_sd15.bin").write_bytes(b"x" * 64)
    store = ModelStore(home=atelier_home, extra_folders=[])
    store.scan()
    assert not [e for e in store.entries if e.kind == "ipadapter"]
    assert any(".safetensors files only" in problem for problem in store.problems)


def test_a_reference_steers_and_weight_0_or_removing_it_gives_the_base(engine):
    base = image(engine)
    steered = image(engine, references=(REFERENCE,))
    assert differ(steered, base)
    weaker = image(engine, references=(dataclasses.replace(REFERENCE, weight=0.3),))
    assert not np.array_equal(weaker, steered)  # the weight is the adapter's scale
    assert np.array_equal(image(engine, references=(ReferenceSpec(LOOK, 0.0),)), base)
    assert np.array_equal(image(engine), base)  # taken off again, bit for bit
    assert np.array_equal(image(engine, references=(REFERENCE,)), steered)


def test_references_steer_the_other_tasks_and_with_a_controlnet(engine):
    img2img = Img2ImgParams(prompt="a circle", steps=2, seed=3, image=PICTURE, strength=0.9)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    inpaint = InpaintParams(prompt="a circle", steps=2, seed=3, image=PICTURE, mask=mask)
    outpaint = OutpaintParams(prompt="sky", steps=2, seed=3, image=PICTURE, right=16)
    for task, params in ((IMG2IMG, img2img), (INPAINT, inpaint), (OUTPAINT, outpaint)):
        base = image(engine, task.id, params)
        assert differ(image(engine, task.id, params, references=(REFERENCE,)), base), task.id
    scribble = np.zeros((64, 64, 3), np.uint8)
    scribble[20:44, 12:52] = 255
    controls = (ControlSpec("scribble", scribble, strength=1.0),)
    controlled = image(engine, controls=controls)
    both = image(engine, controls=controls, references=(REFERENCE,))
    assert differ(both, controlled)
    assert np.array_equal(image(engine, controls=controls), controlled)


def test_the_recipe_lists_the_references_and_the_adapters_hash(engine, store):
    event = run(engine, references=(REFERENCE,))
    recipe = event.outputs[0].meta["recipe"]
    assert recipe["params"]["references"] == [{"model": "ip-adapter-tiny", "weight": 0.8}]
    adapter = store.find("ip-adapter-tiny", "ipadapter")
    assert {"name": adapter.name, "family": "ip_adapter", "hash": adapter.short_hash()} in recipe[
        "models"
    ]


def test_an_adapter_for_another_model_is_refused_naming_both(engine):
    event = failure(engine, references=(ReferenceSpec(LOOK, 0.5, "ip-adapter-sd15-wide"),))
    assert "cross-attention 768 wide" in event.message and "'tiny-sd15'" in event.message
    event = failure(engine, model="tiny-sdxl", references=(REFERENCE,))
    assert event.kind == "missing_model" and "No IP-Adapter for 'tiny-sdxl'" in event.message
    assert "ip-adapter-tiny (a custom-size model)" in event.message
    event = failure(
        engine, model="tiny-sdxl", references=(ReferenceSpec(LOOK, 0.5, "ip-adapter-sd15-wide"),)
    )
    assert "IP-Adapter for Stable Diffusion 1.x but 'tiny-sdxl' is SDXL" in event.message


def test_unknown_adapters_and_missing_encoders_are_named(engine, store):
    event = failure(engine, references=(ReferenceSpec(LOOK, 0.5, "nope"),))
    assert event.kind == "missing_model" and "'nope'" in event.message
    assert "ip-adapter-tiny" in event.message
    shutil.rmtree(store.home / "models" / "ipadapter" / "IP-Adapter" / "models" / "image_encoder")
    event = failure(engine, references=(REFERENCE,))
    assert event.kind == "missing_model" and "has no image encoder" in event.message


def test_no_ip_adapter_installed_keeps_its_sentence(atelier_home, tiny_config_root):
    store = ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)
    engine = InlineEngine({TXT2IMG.id: TXT2IMG}, store=store, families=BY_ID)
    try:
        event = failure(engine, references=(REFERENCE,))
    finally:
        engine.shutdown()
    assert event.kind == "missing_model" and "no IP-Adapter is installed" in event.message


def test_cli_generate_with_a_reference_records_it(store, tmp_path):
    import json

    from PIL import Image

    from app.cli import main

    picture = tmp_path / "look.png"
    Image.fromarray(LOOK).save(picture)
    out = tmp_path / "referenced.png"
    generate = ["generate", "a red circle", "--model", "tiny-sd15", "--size", "64x64"]
    assert main([*generate, "--steps", "2", "--reference", f"{picture}:0.5", "-o", str(out)]) == 0
    recipe = json.loads(Image.open(out).text["atelier"])["recipe"]
    assert recipe["params"]["references"] == [{"model": "ip-adapter-tiny", "weight": 0.5}]
