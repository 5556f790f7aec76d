"""Controls on the diffusion tasks: ControlNets (folders and single files), a ControlNet-Union
model and a T2I-Adapter from the store steer text to image, image to image, inpaint and
outpaint on tiny SD 1.x and SDXL models; inactive controls change nothing; wrong models get
one clear sentence; the recipe names each control and its model's hash."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from engine.control_models import control_fits, dims_from_shapes, kind_from_name
from engine.home import RESOURCES
from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import (
    ControlSpec,
    Img2ImgParams,
    InpaintParams,
    OutpaintParams,
    ReferenceSpec,
    Txt2ImgParams,
    validate_txt2img,
)
from tests.fixtures import tiny_controls

FAST = Txt2ImgParams(prompt="a red circle", steps=2, width=64, height=64, seed=7)
SCRIBBLE = np.zeros((64, 64, 3), np.uint8)
SCRIBBLE[20:44, 12:52] = 255
OTHER = np.zeros((64, 64, 3), np.uint8)
OTHER[:, 30:34] = 255
PICTURE = np.full((64, 64, 4), 128, np.uint8)

pytestmark = pytest.mark.usefixtures("unmarked_pixels")


@pytest.fixture(scope="module")
def control_files(tmp_path_factory):
    """Tiny control models: SD 1.x scribble (folder) and canny (single file, same weights
    as the folder "same-as-file-canny"), an SD 1.x T2I-Adapter, SDXL canny and union."""
    root = tmp_path_factory.mktemp("controls")
    tiny_controls.save_tiny_controlnet("sd15", root / "tiny-sd15-scribble")
    tiny_controls.save_tiny_controlnet("sd15", root / "same-as-file-canny", seed=2)
    tiny_controls.save_tiny_controlnet_single_file(
        "sd15", root / "control_tiny_sd15_canny.safetensors", seed=2
    )
    tiny_controls.save_tiny_adapter("sd15", root / "t2i-adapter-tiny-sketch")
    tiny_controls.save_tiny_controlnet("sdxl", root / "tiny-sdxl-canny")
    tiny_controls.save_tiny_controlnet("sdxl", root / "tiny-sdxl-union", union=True)
    configs = root / "configs"
    tiny_controls.write_controlnet_config("sd15", configs)
    return root


@pytest.fixture
def store(atelier_home, tiny_config_root, control_files, tmp_path):
    target = atelier_home / "models" / "controlnet"
    for item in control_files.iterdir():
        if item.name == "configs":
            continue
        copy = shutil.copytree if item.is_dir() else shutil.copy2
        copy(item, target / item.name)
    configs = tmp_path / "configs"
    shutil.copytree(tiny_config_root, configs)
    shutil.copytree(control_files / "configs", configs, dirs_exist_ok=True)
    return ModelStore(home=atelier_home, extra_folders=[], config_root=configs)


@pytest.fixture
def engine(store):
    tasks = {task.id: task for task in (TXT2IMG, IMG2IMG, INPAINT, OUTPAINT)}
    eng = InlineEngine(tasks, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


def run(engine, task=TXT2IMG.id, params=FAST, **changes):
    return engine.submit(task, dataclasses.replace(params, **changes)).future.result()


def image(engine, task=TXT2IMG.id, params=FAST, **changes) -> np.ndarray:
    event = run(engine, task, params, **changes)
    assert isinstance(event, JobFinished), event
    return event.outputs[0].pixels


def failure(engine, task=TXT2IMG.id, params=FAST, **changes) -> JobFailed:
    event = run(engine, task, params, **changes)
    assert isinstance(event, JobFailed), event
    return event


def differ(a: np.ndarray, b: np.ndarray) -> bool:
    return int(np.abs(a.astype(int) - b.astype(int)).max()) > 2


# ---- the store


def test_the_store_tells_each_controls_family_kind_and_what_it_fits(store):
    by_name = {e.name: e for e in store.entries if e.kind == "controlnet"}
    scribble, canny = by_name["tiny-sd15-scribble"], by_name["control_tiny_sd15_canny"]
    adapter, xl, union = (
        by_name[n] for n in ("t2i-adapter-tiny-sketch", "tiny-sdxl-canny", "tiny-sdxl-union")
    )
    assert (scribble.control.base, scribble.control.kind) == ("sd15", "scribble")
    assert (canny.format, canny.control.base, canny.control.kind) == (
        "single_file",
        "sd15",
        "canny",
    )
    assert canny.control.dims == scribble.control.dims  # read from shapes and from config
    assert (adapter.family, adapter.control.architecture, adapter.control.kind) == (
        "t2i_adapter",
        "t2i_adapter",
        "scribble",
    )
    assert (xl.control.base, union.control.architecture) == ("sdxl", "union")
    sd15, sdxl = store.find("tiny-sd15"), store.find("tiny-sdxl")
    single = store.find("tiny-sd15-single")
    assert control_fits(scribble, sd15) and control_fits(scribble, single)
    assert not control_fits(scribble, sdxl) and not control_fits(xl, sd15)
    assert [e.name for e in store.controls_for(sdxl, "canny")] == [
        "tiny-sdxl-canny",
        "tiny-sdxl-union",
    ]
    assert [e.name for e in store.controls_for(sd15, "scribble")] == [
        "t2i-adapter-tiny-sketch",
        "tiny-sd15-scribble",
    ]


def test_a_control_made_from_one_unet_fits_only_unets_of_its_dims(store, tmp_path):
    tiny_controls.save_tiny_controlnet(
        "sd15", tmp_path / "made-for-demo", atelier={"control_kind": "scribble", "base": "x"}
    )
    builtin = ModelStore(
        home=store.home, extra_folders=[], builtin_dir=RESOURCES / "models", hf_cache=tmp_path
    )
    demo = builtin.find("atelier-demo")
    control = builtin.find(str(tmp_path / "made-for-demo"), "controlnet")
    assert control.control.kind == "scribble" and control.control.base_model == "x"
    assert demo.family == "sd15" and not control_fits(control, demo)
    assert control_fits(control, builtin.find("tiny-sd15"))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("control_v11p_sd15_scribble", "scribble"),
        ("control_v11p_sd15_lineart", "lineart"),
        ("control_v11p_sd15_softedge", "softedge"),
        ("t2i-adapter-canny-sdxl-1.0", "canny"),
        ("controlnet-depth-sdxl-1.0", "depth"),
        ("control_v11p_sd15_openpose", "pose"),
        ("controlnet-union-sdxl-1.0", ""),
    ],
)
def test_a_controls_kind_is_read_from_its_name(name, kind):
    assert kind_from_name(name) == kind


def test_dims_read_from_ldm_and_diffusers_names_agree():
    controlnet = tiny_controls.build_tiny_controlnet("sd15")
    state = controlnet.state_dict()
    ldm = tiny_controls.controlnet_to_original(state, controlnet.config)
    diffusers = dims_from_shapes({k: tuple(v.shape) for k, v in state.items()})
    original = dims_from_shapes({k: tuple(v.shape) for k, v in ldm.items()})
    assert diffusers == original
    assert diffusers.block_out_channels == tuple(controlnet.config.block_out_channels)
    assert diffusers.cross_attention_dim == controlnet.config.cross_attention_dim


# ---- text to image


def test_a_control_changes_the_image_and_inactive_ones_change_nothing(engine):
    base = image(engine)
    steered = image(engine, controls=(ControlSpec("scribble", SCRIBBLE),))
    elsewhere = image(engine, controls=(ControlSpec("scribble", OTHER),))
    assert differ(base, steered) and differ(steered, elsewhere)  # the map itself steers
    off = ControlSpec("scribble", SCRIBBLE, strength=0.0)
    empty_range = ControlSpec("scribble", SCRIBBLE, start=0.0, end=0.0)
    assert np.array_equal(image(engine, controls=(off,)), base)
    assert np.array_equal(image(engine, controls=(empty_range,)), base)
    assert np.array_equal(image(engine, controls=(ControlSpec("scribble", SCRIBBLE),)), steered)


def test_two_controls_act_together(engine):
    one = image(engine, controls=(ControlSpec("scribble", SCRIBBLE),))
    both = (
        ControlSpec("scribble", SCRIBBLE),
        ControlSpec("canny", OTHER, model="control_tiny_sd15_canny", strength=0.8, end=0.5),
    )
    assert differ(one, image(engine, controls=both))


def test_a_single_file_controlnet_loads_offline_as_its_folder_does(engine):
    as_file = image(engine, controls=(ControlSpec("canny", SCRIBBLE, "control_tiny_sd15_canny"),))
    as_folder = image(engine, controls=(ControlSpec("canny", SCRIBBLE, "same-as-file-canny"),))
    assert int(np.abs(as_file.astype(int) - as_folder.astype(int)).max()) <= 1


def test_the_recipe_lists_the_controls_and_their_models_hashes(engine, store):
    spec = ControlSpec("scribble", SCRIBBLE, strength=0.7, start=0.1, end=0.9)
    event = run(engine, controls=(spec,))
    recipe = event.outputs[0].meta["recipe"]
    assert recipe["params"]["controls"] == [
        {
            "kind": "scribble",
            "model": "tiny-sd15-scribble",
            "strength": 0.7,
            "start": 0.1,
            "end": 0.9,
        }
    ]
    control = store.find("tiny-sd15-scribble", "controlnet")
    assert {"name": control.name, "family": "controlnet", "hash": control.short_hash()} in recipe[
        "models"
    ]
    assert recipe["params"]["extras"]["ControlNet 0"].startswith(
        f"Module: scribble, Model: tiny-sd15-scribble [{control.short_hash()}], Weight: 0.7"
    )


def test_a_t2i_adapter_steers_text_to_image_and_says_it_cannot_do_more(engine):
    adapter = ControlSpec("scribble", SCRIBBLE, model="t2i-adapter-tiny-sketch")
    assert differ(image(engine), image(engine, controls=(adapter,)))
    params = Img2ImgParams(prompt="x", steps=2, seed=1, image=PICTURE)
    message = failure(engine, IMG2IMG.id, params, controls=(adapter,)).message
    assert "T2I-Adapter" in message and "Use a ControlNet" in message
    late = dataclasses.replace(adapter, start=0.2)
    assert "act from the first step" in failure(engine, controls=(late,)).message


def test_sdxl_controlnets_and_a_union_model_steer_sdxl(engine):
    base = image(engine, model="tiny-sdxl")
    canny = image(engine, model="tiny-sdxl", controls=(ControlSpec("canny", SCRIBBLE),))
    union = ControlSpec("canny", SCRIBBLE, model="tiny-sdxl-union")
    assert differ(base, canny)
    assert differ(base, image(engine, model="tiny-sdxl", controls=(union,)))


# ---- the picture tasks


def test_image_to_image_inpaint_and_outpaint_take_controls(engine):
    control = (ControlSpec("scribble", SCRIBBLE),)
    img2img = Img2ImgParams(prompt="x", steps=2, seed=1, image=PICTURE)
    assert differ(
        image(engine, IMG2IMG.id, img2img), image(engine, IMG2IMG.id, img2img, controls=control)
    )
    mask = np.zeros((64, 64), np.uint8)
    mask[8:32, 8:32] = 255
    inpaint = InpaintParams(prompt="x", steps=2, seed=1, image=PICTURE, mask=mask)
    event = run(engine, INPAINT.id, inpaint, controls=control)
    assert isinstance(event, JobFinished), event
    kept = event.outputs[0].meta["repaint_mask"] == 0
    assert kept.any() and np.array_equal(event.outputs[0].pixels[kept], PICTURE[kept])
    assert differ(image(engine, INPAINT.id, inpaint), event.outputs[0].pixels)
    outpaint = OutpaintParams(prompt="x", steps=2, seed=1, image=PICTURE, right=32)
    out = image(engine, OUTPAINT.id, outpaint, controls=control)
    assert out.shape == (64, 96, 4) and np.array_equal(out[:, :40], PICTURE[:, :40])


# ---- what cannot work


def test_a_control_of_another_family_is_refused_naming_both(engine):
    spec = ControlSpec("canny", SCRIBBLE, model="tiny-sdxl-canny")
    event = failure(engine, controls=(spec,))
    assert event.kind == "invalid_input"
    assert "'tiny-sdxl-canny' is an SDXL ControlNet" in event.message
    assert "'tiny-sd15' is Stable Diffusion 1.x" in event.message


def test_missing_controls_are_named_with_the_installed_ones(engine):
    event = failure(engine, controls=(ControlSpec("canny", SCRIBBLE, model="nope"),))
    assert event.kind == "missing_model" and "'nope'" in event.message
    assert "control_tiny_sd15_canny" in event.message and "same-as-file-canny" in event.message
    event = failure(engine, controls=(ControlSpec("depth", SCRIBBLE),))
    assert event.kind == "missing_model" and "No depth control model" in event.message


def test_a_reference_image_says_no_ip_adapter_is_installed(engine):
    event = failure(engine, references=(ReferenceSpec(SCRIBBLE, 0.5),))
    assert event.kind == "missing_model" and "no IP-Adapter is installed" in event.message


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (ControlSpec("blur", SCRIBBLE), "unknown kind 'blur'"),
        (ControlSpec("canny", SCRIBBLE, strength=2.5), "strength must be between 0 and 2"),
        (ControlSpec("canny", SCRIBBLE, start=0.6, end=0.4), "step range 0.6-0.4"),
        (ControlSpec("canny", SCRIBBLE[..., :1]), "(height, width, 3) 8-bit RGB"),
        (ControlSpec("canny", SCRIBBLE[:4]), "64x4 pixels"),
    ],
)
def test_bad_controls_are_refused_before_the_job(spec, words):
    with pytest.raises(ValueError, match=None) as caught:
        validate_txt2img(dataclasses.replace(FAST, controls=(spec,)))
    assert words in str(caught.value)
