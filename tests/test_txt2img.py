"""Text to image on tiny SD 1.x / SDXL models through the real store, cache and engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.model_store import ModelStore
from engine.protocol import JobCancelled, JobFailed, JobFinished, JobProgress
from engine.worker import Engine, InlineEngine
from plugins.diffusion import TXT2IMG
from plugins.diffusion.families import BY_ID
from plugins.diffusion.params import Txt2ImgParams
from tests.fixtures.tiny_models import copy_with_settings

FAST = Txt2ImgParams(prompt="a red circle", steps=2, width=64, height=64, seed=7)


@pytest.fixture
def store(atelier_home, tiny_config_root):
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


@pytest.fixture
def engine(store):
    eng = InlineEngine({TXT2IMG.id: TXT2IMG}, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


def generate(engine, **changes):
    event = engine.submit(TXT2IMG.id, dataclasses.replace(FAST, **changes)).future.result()
    return event


def images(event) -> list[np.ndarray]:
    assert isinstance(event, JobFinished), event
    return [o.pixels for o in event.outputs]


def test_same_seed_same_image_other_seed_other_image(engine):
    first, again = images(generate(engine)), images(generate(engine))
    other = images(generate(engine, seed=8))
    assert first[0].shape == (64, 64, 4)
    assert np.array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_batch_uses_consecutive_seeds(engine):
    batch = generate(engine, batch_count=2, seed=100)
    assert [o.meta["recipe"]["params"]["seed"] for o in batch.outputs] == [100, 101]
    single = images(generate(engine, seed=101))
    assert np.array_equal(batch.outputs[1].pixels, single[0])


def test_random_seed_is_recorded(engine):
    event = generate(engine, seed=-1)
    seed = event.outputs[0].meta["recipe"]["params"]["seed"]
    assert 0 <= seed < 2**32
    assert np.array_equal(images(generate(engine, seed=seed))[0], event.outputs[0].pixels)


def test_recipe_names_task_version_model_and_size(engine):
    recipe = generate(engine, width=100, height=72).outputs[0].meta["recipe"]
    assert recipe["task"] == "diffusion.txt2img" and recipe["version"] == 1
    assert recipe["params"]["width"] == 104 and recipe["params"]["height"] == 72
    assert recipe["model"]["family"] == "sd15" and len(recipe["model"]["hash"]) == 10


def test_a_model_declaring_a_native_size_makes_images_at_it(engine, store, tiny_models):
    checkpoints = store.home / "models" / "checkpoints"
    copy_with_settings(tiny_models / "tiny-sd15", checkpoints / "tiny-96", {"native_size": 96})
    store.scan()
    event = generate(engine, model="tiny-96", width=0, height=0)
    assert images(event)[0].shape == (96, 96, 4)  # not SD 1.x's 512
    params = event.outputs[0].meta["recipe"]["params"]
    assert (params["width"], params["height"]) == (96, 96)
    assert images(generate(engine, model="tiny-96", width=64, height=0))[0].shape == (96, 64, 4)


def test_size_is_snapped_to_multiples_of_8(engine):
    assert images(generate(engine, width=100, height=70))[0].shape == (72, 104, 4)


@pytest.mark.parametrize(
    "scheduler", ["Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DDIM", "UniPC", "LCM"]
)
def test_every_scheduler_runs(engine, scheduler):
    pixels = images(generate(engine, scheduler=scheduler, steps=3))[0]
    assert pixels.shape == (64, 64, 4) and pixels[..., :3].std() > 0


def test_scheduler_changes_the_image(engine):
    euler = images(generate(engine, scheduler="Euler", steps=3))[0]
    ddim = images(generate(engine, scheduler="DDIM", steps=3))[0]
    assert not np.array_equal(euler, ddim)


def test_long_prompt_is_chunked_not_cut(engine):
    words = " ".join(["red circle"] * 40)  # 80 tokens
    long = generate(engine, prompt=words + " on a blue background")
    cut = generate(engine, prompt=words)
    assert any("2 chunks" in w for w in long.warnings)
    assert not np.array_equal(long.outputs[0].pixels, cut.outputs[0].pixels)


def test_progress_reaches_one_and_previews_arrive(engine):
    seen = []
    engine.subscribe(seen.append)
    generate(engine, steps=3)
    progress = [e for e in seen if isinstance(e, JobProgress)]
    assert progress[-1].fraction == pytest.approx(1.0)
    previews = [e.preview for e in progress if e.preview is not None]
    assert previews and previews[0].pixels.dtype == np.uint8 and previews[0].pixels.shape[2] == 4


def test_single_file_sdxl_generates(engine):
    event = generate(engine, model="tiny-sdxl-single")
    assert images(event)[0].shape == (64, 64, 4)
    assert event.outputs[0].meta["recipe"]["model"]["family"] == "sdxl"


@pytest.mark.usefixtures("unmarked_pixels")
def test_diffusers_folder_and_single_file_give_the_same_image(engine):
    folder = images(generate(engine, model="tiny-sd15"))[0]
    single = images(generate(engine, model="tiny-sd15-single"))[0]
    assert np.abs(folder.astype(int) - single.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("changes", "kind", "words"),
    [
        ({"model": "no-such-model"}, "missing_model", "no-such-model"),
        ({"prompt": "   "}, "invalid_input", "prompt"),
        ({"width": 0, "height": 9000}, "invalid_input", "height"),
        ({"width": 20}, "invalid_input", "width"),
        ({"steps": 0}, "invalid_input", "Steps"),
    ],
)
def test_bad_requests_fail_clearly(engine, changes, kind, words):
    event = generate(engine, **changes)
    assert isinstance(event, JobFailed)
    assert event.kind == kind and words in event.message


def test_cancel_stops_a_running_generation_within_a_step(store):
    engine = Engine({TXT2IMG.id: TXT2IMG}, store=store, families=BY_ID)
    steps_seen = []

    def on_event(event):
        if isinstance(event, JobProgress) and event.stage.startswith("image"):
            steps_seen.append(event)
            if len(steps_seen) == 1:
                engine.cancel(event.job_id)

    engine.subscribe(on_event)
    try:
        handle = engine.submit(TXT2IMG.id, dataclasses.replace(FAST, steps=40))
        assert isinstance(handle.future.result(60), JobCancelled)
        assert len(steps_seen) <= 2
        after = engine.submit(TXT2IMG.id, FAST).future.result(60)
        assert isinstance(after, JobFinished)
    finally:
        engine.shutdown()


def test_previews_use_taesd_when_it_is_installed(engine, atelier_home):
    from diffusers import AutoencoderTiny

    from engine.home import models_dir

    tiny_decoder = AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8)
    )
    tiny_decoder.save_pretrained(models_dir("vae", atelier_home) / "taesd")
    seen = []
    engine.subscribe(seen.append)
    generate(engine, steps=2)
    previews = [e.preview for e in seen if isinstance(e, JobProgress) and e.preview is not None]
    assert previews and previews[0].meta["preview"] == "taesd"
    assert previews[0].pixels.shape == (64, 64, 4)  # TAESD decodes to full size


def test_previews_use_a_models_own_latent_map_even_with_taesd(engine, store, tiny_models):
    from diffusers import AutoencoderTiny

    from engine.home import models_dir

    tiny_decoder = AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8)
    )
    tiny_decoder.save_pretrained(models_dir("vae", store.home) / "taesd")
    black = {"factors": [[0, 0, 0]] * 4, "bias": [-1, -1, -1]}  # whatever the latents
    checkpoints = store.home / "models" / "checkpoints"
    copy_with_settings(tiny_models / "tiny-sd15", checkpoints / "own-map", {"latent_rgb": black})
    store.scan()
    seen = []
    engine.subscribe(seen.append)
    generate(engine, model="own-map", steps=2)
    previews = [e.preview for e in seen if isinstance(e, JobProgress) and e.preview is not None]
    assert previews and previews[0].meta["preview"] == "model"
    assert previews[0].pixels.shape == (8, 8, 4)  # one pixel per latent
    assert (previews[0].pixels[..., :3] == 0).all()
