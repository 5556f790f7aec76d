"""Depth maps from a depth model: a tiny DPT in the store, the Depth map task (a grey map of
the picture's size, near = white), no model installed, `atelier depth`, and a depth
control's photo made into its depth map by `atelier generate --control depth:photo.png`."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.model.image_import import read_image
from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion import DEPTH
from plugins.diffusion.control_maps import is_photo
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import DepthParams
from tests.fixtures import tiny_controls
from tests.fixtures.tiny_depth import save_tiny_dpt

GENERATE = ["generate", "a red circle", "--model", "tiny-sd15", "--size", "64x64", "--steps", "2"]


@pytest.fixture(scope="module")
def tiny_dpt(tmp_path_factory):
    return save_tiny_dpt(tmp_path_factory.mktemp("depth") / "tiny-dpt")


def install_dpt(home, tiny_dpt):
    shutil.copytree(tiny_dpt, home / "models" / "depth" / "tiny-dpt")


def photo(seed: int, size=(48, 40)) -> np.ndarray:
    """A coloured picture: a bright disc on a dark gradient, placed by `seed`."""
    width, height = size
    yy, xx = np.mgrid[:height, :width]
    rng = np.random.default_rng(seed)
    cx, cy = rng.integers(8, width - 8), rng.integers(8, height - 8)
    disc = np.hypot(xx - cx, yy - cy) < 9
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = (xx * 255 // width).astype(np.uint8)
    pixels[..., 2] = 90
    pixels[disc, :3] = (250, 220, 30)
    pixels[..., 3] = 255
    return pixels


@pytest.fixture
def engine(home, tiny_dpt):
    from engine.home import ensure_model_dirs

    ensure_model_dirs(home)
    install_dpt(home, tiny_dpt)
    eng = InlineEngine({DEPTH.id: DEPTH}, store=ModelStore(home=home), families=BY_ID)
    yield eng
    eng.shutdown()


def depth_of(engine, picture: np.ndarray) -> np.ndarray:
    event = engine.submit(DEPTH.id, DepthParams(image=picture)).future.result()
    assert isinstance(event, JobFinished), event
    return event.outputs[0]


def test_the_store_lists_a_depth_folder_and_says_why_it_skips_others(home, tiny_dpt):
    depth = home / "models" / "depth"
    install_dpt(home, tiny_dpt)
    pickled = depth / "pickled-dpt"
    pickled.mkdir()
    shutil.copy2(tiny_dpt / "config.json", pickled / "config.json")
    (pickled / "pytorch_model.bin").write_bytes(b"x" * 64)
    (depth / "loose.safetensors").write_bytes(b"x" * 64)
    store = ModelStore(home=home)
    entry = store.find("tiny-dpt", "depth")
    assert (entry.kind, entry.family, entry.format) == ("depth", "dpt", "diffusers")
    assert [e.name for e in store.entries if e.kind == "depth"] == ["tiny-dpt"]
    problems = "\n".join(store.problems)
    assert "pickled-dpt: skipped: a depth model is a transformers folder" in problems
    assert "no .safetensors weights" in problems
    assert "loose.safetensors: skipped: a depth model is a transformers folder" in problems


def test_a_depth_map_is_grey_of_the_pictures_size_and_follows_it(engine):
    first, second = depth_of(engine, photo(1)), depth_of(engine, photo(2))
    pixels = first.pixels
    assert pixels.shape == (40, 48, 4) and pixels.dtype == np.uint8
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    assert (pixels[..., 3] == 255).all()
    assert pixels[..., 0].min() == 0 and pixels[..., 0].max() == 255  # stretched per picture
    moved = np.abs(pixels[..., 0].astype(int) - second.pixels[..., 0].astype(int))
    assert moved.mean() > 5  # another picture, another depth
    assert first.meta["recipe"]["task"] == DEPTH.id
    assert first.meta["recipe"]["model"]["name"] == "tiny-dpt"
    assert first.meta["provenance"]["watermark"]  # passed the safety and provenance step


def test_no_depth_model_fails_saying_where_to_put_one(home):
    eng = InlineEngine({DEPTH.id: DEPTH}, store=ModelStore(home=home), families=BY_ID)
    event = eng.submit(DEPTH.id, DepthParams(image=photo(1))).future.result()
    eng.shutdown()
    assert isinstance(event, JobFailed) and event.kind == "missing_model"
    assert "No depth model is installed" in event.message
    assert str(home / "models" / "depth") in event.message
    assert "model.safetensors" in event.message


def test_a_depth_map_is_not_a_photo_and_a_coloured_picture_is():
    grey = np.repeat(photo(1)[..., :1], 3, axis=2)
    assert not is_photo(grey) and is_photo(photo(1))


def test_the_depth_command_writes_the_map(atelier_home, tiny_dpt, tmp_path, capsys):
    install_dpt(atelier_home, tiny_dpt)
    source, out = tmp_path / "photo.png", tmp_path / "d.png"
    Image.fromarray(photo(3)).save(source)
    assert main(["depth", str(source), "-o", str(out)]) == 0
    written = read_image(out)
    assert written.shape == (40, 48, 4)
    assert np.ptp(written[..., 0].astype(int)) > 200
    assert np.abs(written[..., 0].astype(int) - written[..., 2].astype(int)).max() <= 8


def test_generate_steers_by_the_depth_of_a_photo(
    atelier_home, tiny_dpt, tmp_path, capsys, unmarked_pixels
):
    tiny_controls.save_tiny_controlnet(
        "sd15", atelier_home / "models" / "controlnet" / "tiny-depth"
    )
    source = tmp_path / "photo.png"
    Image.fromarray(photo(4, (64, 64))).save(source)
    steer = ["--seed", "3", "--control", f"depth:{source}"]
    as_is, estimated = tmp_path / "as-is.png", tmp_path / "estimated.png"
    assert main([*GENERATE, *steer, "-o", str(as_is)]) == 0
    assert "no depth model is installed" in capsys.readouterr().err
    install_dpt(atelier_home, tiny_dpt)
    assert main([*GENERATE, *steer, "-o", str(estimated)]) == 0
    assert "no depth model" not in capsys.readouterr().err
    a, b = read_image(as_is).astype(int), read_image(estimated).astype(int)
    assert np.abs(a - b).max() > 2  # the photo's depth map steered, not the photo


def test_a_depth_model_whose_preprocessor_config_is_unusable_says_so(engine, home):
    config = home / "models" / "depth" / "tiny-dpt" / "preprocessor_config.json"
    config.write_text('{"size": {"height": 100000, "width": 32}}', encoding="utf-8")
    event = engine.submit(DEPTH.id, DepthParams(image=photo(1))).future.result()
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert "'tiny-dpt' cannot be used: its preprocessor_config.json is not usable" in event.message
