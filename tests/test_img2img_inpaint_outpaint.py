"""Image to image, inpaint and outpaint on tiny models, through the real store, cache and engine."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from engine.checkpoint_files import detect_variant
from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished, JobProgress
from engine.worker import InlineEngine
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from plugins.diffusion import inpaint as inpaint_module
from plugins.diffusion.families import BY_ID
from plugins.diffusion.mask_geometry import soft_mask
from plugins.diffusion.params import (
    Img2ImgParams,
    InpaintParams,
    OutpaintParams,
    Txt2ImgParams,
)
from plugins.diffusion.pipelines import pipeline_family_class
from tests.fixtures.tiny_models import copy_with_settings

TASKS = {task.id: task for task in (TXT2IMG, IMG2IMG, INPAINT, OUTPAINT)}
INPAINT_MODELS = ("tiny-sd15-inpaint", "tiny-sd15-inpaint-single.safetensors")


def picture(width: int = 64, height: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colourful RGBA picture (gradients plus a little texture)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([xs / width * 200 + 30, ys / height * 180 + 40, (xs + ys) % 64 * 2 + 60], 2)
    rgb += rng.normal(0, 6, rgb.shape)
    alpha = np.full((height, width, 1), 255, np.float32)
    return np.concatenate([rgb, alpha], 2).clip(0, 255).astype(np.uint8)


def square(size: tuple[int, int], x: int, y: int, side: int) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), np.uint8)
    mask[y : y + side, x : x + side] = 255
    return mask


IMAGE = picture()
MASK = square((64, 64), 24, 20, 16)
FAST = {"prompt": "a red apple", "steps": 2, "seed": 5, "work_size": 64}


@pytest.fixture(scope="session")
def tiny_inpaint_models(tmp_path_factory):
    """A tiny 9-channel SD 1.x inpainting model: a diffusers folder and a single file."""
    from tests.fixtures.tiny_models import save_tiny_diffusers, save_tiny_single_file

    root = tmp_path_factory.mktemp("tiny_inpaint")
    save_tiny_diffusers("sd15", root / INPAINT_MODELS[0], variant="inpaint")
    save_tiny_single_file("sd15", root / INPAINT_MODELS[1], variant="inpaint")
    return root


@pytest.fixture
def store(atelier_home, tiny_config_root, tiny_inpaint_models):
    checkpoints = atelier_home / "models" / "checkpoints"
    shutil.copytree(tiny_inpaint_models / INPAINT_MODELS[0], checkpoints / INPAINT_MODELS[0])
    shutil.copy2(tiny_inpaint_models / INPAINT_MODELS[1], checkpoints / INPAINT_MODELS[1])
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


@pytest.fixture
def engine(store):
    eng = InlineEngine(TASKS, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


def run(engine, task, params):
    return engine.submit(task.id, params).future.result()


def finished(event) -> list:
    assert isinstance(event, JobFinished), event
    return list(event.outputs)


def inpaint(engine, **changes):
    values = {**FAST, "model": "tiny-sd15", "image": IMAGE, "mask": MASK, **changes}
    return run(engine, INPAINT, InpaintParams(**values))


def outpaint(engine, **changes):
    values = {**FAST, "model": "tiny-sd15", "image": IMAGE, **changes}
    return run(engine, OUTPAINT, OutpaintParams(**values))


def img2img(engine, **changes):
    values = {**FAST, "model": "tiny-sd15", "image": IMAGE, **changes}
    return run(engine, IMG2IMG, Img2ImgParams(**values))


# ---- the model store tells inpainting checkpoints apart


def test_inpainting_checkpoints_are_recognised(store):
    variants = {e.name: (e.family, e.variant) for e in store.checkpoints()}
    assert variants["tiny-sd15-inpaint"] == ("sd15", "inpaint")
    assert variants["tiny-sd15-inpaint-single"] == ("sd15", "inpaint")
    assert variants["tiny-sd15"] == ("sd15", "") and variants["tiny-sdxl-single"] == ("sdxl", "")
    assert store.default_checkpoint().variant == ""


def test_variant_from_tensor_shapes_and_the_pipeline_class_for_it():
    first_conv = "model.diffusion_model.input_blocks.0.0.weight"
    assert detect_variant({first_conv: [320, 9, 3, 3]}) == "inpaint"
    assert detect_variant({first_conv: [320, 4, 3, 3]}) == ""
    assert detect_variant({"unet.conv_in.weight": (16, 9, 3, 3)}) == "inpaint"
    assert detect_variant({}) == ""
    assert pipeline_family_class("sd15", "inpaint") == "StableDiffusionInpaintPipeline"
    assert pipeline_family_class("sdxl", "inpaint") == "StableDiffusionXLInpaintPipeline"
    assert pipeline_family_class("sdxl") == "StableDiffusionXLPipeline"


# ---- inpaint


# tiny-sd15 repaints with its inpainting partner tiny-sd15-inpaint; tiny-sd15-single and
# tiny-sdxl have none, so they repaint with diffusers' latent blending.
REPAINTS_WITH = {
    "tiny-sd15-inpaint": "inpaint",
    "tiny-sd15": "inpaint",
    "tiny-sd15-single": "",
    "tiny-sdxl": "",
}


@pytest.mark.parametrize("model", list(REPAINTS_WITH))
def test_inpaint_keeps_every_pixel_outside_the_feathered_mask(engine, model):
    (output,) = finished(inpaint(engine, model=model, grow=4, feather=4))
    result = output.pixels
    soft = soft_mask(MASK, 4, 4)
    assert result.shape == IMAGE.shape
    assert np.array_equal(result[soft == 0], IMAGE[soft == 0])
    inside = soft == 255
    assert np.abs(result[inside].astype(int) - IMAGE[inside]).mean() > 5
    recipe = output.meta["recipe"]
    assert recipe["task"] == "diffusion.inpaint" and recipe["version"] == 1
    assert recipe["model"].get("variant", "") == REPAINTS_WITH[model]


def test_an_ordinary_model_repaints_with_its_inpainting_partner_and_the_recipe_says_so(engine):
    (output,) = finished(inpaint(engine, model="tiny-sd15"))
    recipe = output.meta["recipe"]
    assert recipe["model"]["name"] == "tiny-sd15-inpaint"
    assert recipe["params"]["model"] == "tiny-sd15"  # reuse settings gets the chosen model
    assert recipe["params"]["extras"]["Inpainting model"] == "tiny-sd15-inpaint"


@pytest.mark.usefixtures("unmarked_pixels")
def test_inpainting_model_folder_and_single_file_give_the_same_result(engine):
    folder = finished(inpaint(engine, model="tiny-sd15-inpaint"))[0].pixels
    single = finished(inpaint(engine, model="tiny-sd15-inpaint-single"))[0].pixels
    assert np.abs(folder.astype(int) - single.astype(int)).max() <= 2


def test_inpaint_is_deterministic_and_batches_use_consecutive_seeds(engine):
    batch = finished(inpaint(engine, batch_count=2, seed=40))
    again = finished(inpaint(engine, seed=41))
    assert [o.meta["recipe"]["params"]["seed"] for o in batch] == [40, 41]
    assert np.array_equal(batch[1].pixels, again[0].pixels)
    assert not np.array_equal(batch[0].pixels, batch[1].pixels)


class Spy:
    """Wraps a pipeline and records the size of each call."""

    def __init__(self, pipe, calls: list) -> None:
        self._pipe, self._calls = pipe, calls

    def __getattr__(self, name):
        return getattr(self._pipe, name)

    def __call__(self, **kwargs):
        self._calls.append((kwargs["width"], kwargs["height"], kwargs["image"].size))
        return self._pipe(**kwargs)


def test_a_small_mask_on_a_large_canvas_is_a_model_sized_job(engine, monkeypatch):
    calls = []
    real = inpaint_module.load_pipeline
    monkeypatch.setattr(inpaint_module, "load_pipeline", lambda *a, **k: Spy(real(*a, **k), calls))
    canvas = picture(2048, 2048)
    mask = square((2048, 2048), 1500, 300, 64)
    changes = {"image": canvas, "mask": mask, "steps": 1, "work_size": 0, "context": 32}
    (output,) = finished(inpaint(engine, **changes))
    x, y, w, h = output.meta["crop_rect"]
    assert w == h and 64 + 2 * 32 <= w <= 64 + 2 * (32 + 8 + 8 + 1)  # mask + grow/feather + context
    assert x <= 1500 - 32 and x + w >= 1564 + 32 and y <= 300 - 32 and y + h >= 364 + 32
    assert calls == [(512, 512, (512, 512))]  # SD 1.x's native size, not 2048
    assert output.meta["work_size"] == [512, 512]
    assert output.meta["recipe"]["params"]["width"] == 512
    soft = soft_mask(mask, 8, 8)
    assert output.pixels.shape == canvas.shape
    assert np.array_equal(output.pixels[soft == 0], canvas[soft == 0])


def test_a_mask_placed_with_an_origin_is_clipped_to_the_canvas(engine):
    mask = np.full((20, 20), 255, np.uint8)
    (output,) = finished(inpaint(engine, mask=mask, mask_origin=(54, -6), grow=0, feather=0))
    changed = np.any(output.pixels != IMAGE, axis=2)
    assert changed[0:14, 54:64].any() and not changed[14:, :].any() and not changed[:, :54].any()


def test_colour_matching_changes_the_result(engine):
    matched = finished(inpaint(engine))[0].pixels
    plain = finished(inpaint(engine, match_colours=False))[0].pixels
    assert not np.array_equal(matched, plain)


def test_progress_reports_the_denoising_steps(engine):
    seen = []
    engine.subscribe(seen.append)
    inpaint(engine, steps=4, strength=0.5)
    stages = [e.stage for e in seen if isinstance(e, JobProgress) and "step" in e.stage]
    assert stages[-1].endswith("step 2 of 2")


# ---- outpaint


def test_outpaint_extends_the_canvas_and_keeps_the_old_pixels(engine):
    (output,) = finished(outpaint(engine, left=5, right=32, overlap=8))
    result = output.pixels
    assert result.shape == (64, 8 + 64 + 32, 4)  # 5 snapped up to 8
    assert output.meta["offset"] == [8, 0] and output.meta["extend"] == [8, 0, 32, 0]
    assert output.meta["recipe"]["params"]["left"] == 8  # as done, so it can be redone
    old = result[:, 8 : 8 + 64]
    assert np.array_equal(old[:, 8:-8], IMAGE[:, 8:-8])  # beyond the 8-pixel overlap
    assert (result[..., 3] == 255).all()
    new = result[:, 8 + 64 :, :3].astype(int)
    assert new.std() > 1  # painted, not blank


def test_outpaint_seam_is_continuous(engine):
    (output,) = finished(outpaint(engine, right=32, overlap=16))
    rgb = output.pixels[..., :3].astype(float)
    steps = np.abs(np.diff(rgb.mean(axis=0), axis=0)).mean(axis=1)  # column to column
    seam = steps[64 - 16 : 64 + 4]
    jump = np.abs(rgb[:, 63].mean(0) - rgb[:, 64 + 16 :].mean((0, 1))).mean()
    assert seam.max() < 25, seam
    assert seam.max() < max(jump, 10)  # no step at the seam bigger than the change overall


def test_outpaint_of_a_large_picture_runs_on_a_crop(engine):
    big = picture(1024, 768)
    (output,) = finished(outpaint(engine, image=big, top=64, steps=1, work_size=128))
    assert output.pixels.shape == (768 + 64, 1024, 4)
    x, y, w, h = output.meta["crop_rect"]
    assert y == 0 and w == 1024 and h < 768  # the top band and its context, not the whole
    assert output.meta["work_size"][0] <= 256
    assert np.array_equal(output.pixels[64 + 16 :], big[16:])


# ---- img2img


def test_img2img_is_deterministic_for_a_seed_and_strength_matters(engine):
    first, again = finished(img2img(engine))[0], finished(img2img(engine))[0]
    other_seed = finished(img2img(engine, seed=6))[0]
    stronger = finished(img2img(engine, strength=1.0))[0]
    assert first.pixels.shape == IMAGE.shape
    assert np.array_equal(first.pixels, again.pixels)
    assert not np.array_equal(first.pixels, other_seed.pixels)
    assert not np.array_equal(first.pixels, stronger.pixels)
    assert first.meta["recipe"]["task"] == "diffusion.img2img"
    assert first.meta["crop_rect"] == [0, 0, 64, 64]


def test_img2img_scales_to_the_work_size_and_back_and_keeps_alpha(engine):
    cutout = picture(96, 48)
    cutout[:, :10, 3] = 0
    (output,) = finished(img2img(engine, image=cutout, work_size=128))
    assert output.pixels.shape == (48, 96, 4)
    assert output.meta["work_size"] == [184, 88]  # about 128 x 128 pixels, the same aspect
    assert np.array_equal(output.pixels[..., 3], cutout[..., 3])


def test_img2img_and_inpaint_work_at_the_native_size_a_model_declares(engine, store, tiny_models):
    checkpoints = store.home / "models" / "checkpoints"
    copy_with_settings(tiny_models / "tiny-sd15", checkpoints / "tiny-96", {"native_size": 96})
    store.scan()
    native = {"model": "tiny-96", "work_size": 0, "steps": 2}
    (repainted,) = finished(img2img(engine, **native))
    assert repainted.meta["work_size"] == [96, 96] and repainted.pixels.shape == IMAGE.shape
    (filled,) = finished(inpaint(engine, **native))
    assert filled.meta["work_size"] == [96, 96]
    (mine,) = finished(img2img(engine, **{**native, "work_size": 64}))  # a given size wins
    assert mine.meta["work_size"] == [64, 64]


def test_img2img_works_with_sdxl(engine):
    (output,) = finished(img2img(engine, model="tiny-sdxl"))
    assert output.pixels.shape == IMAGE.shape


# ---- bad input: one clear message each


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: InpaintParams(image=None, mask=MASK), "needs a picture"),
        (lambda: InpaintParams(image=IMAGE, mask=np.zeros_like(MASK)), "The mask is empty: paint"),
        (lambda: InpaintParams(image=IMAGE, mask=None), "The mask is empty"),
        (lambda: InpaintParams(image=IMAGE, mask=MASK[:32]), "must be the same size"),
        (
            lambda: InpaintParams(image=IMAGE, mask=MASK, mask_origin=(64, 0)),
            "entirely outside the canvas",
        ),
        (lambda: InpaintParams(image=IMAGE, mask=MASK, strength=0.0), "Strength must be above 0"),
        (lambda: Img2ImgParams(image=IMAGE, strength=1.5), "Strength must be above 0"),
        (lambda: Img2ImgParams(image=IMAGE, strength=0.1, steps=5), "raise Strength or Steps"),
        (lambda: Img2ImgParams(image=IMAGE[:4]), "at least 8"),
        (lambda: Img2ImgParams(image=np.zeros((8, 20000, 4), np.uint8)), "up to 16384"),
        (lambda: Img2ImgParams(image=IMAGE[..., 0]), "RGBA"),
        (lambda: OutpaintParams(image=IMAGE), "Choose how far to extend"),
        (lambda: OutpaintParams(image=IMAGE, left=-8), "cannot be negative"),
        (lambda: OutpaintParams(image=IMAGE, top=5000), "at most 2048 pixels per side"),
        (
            lambda: OutpaintParams(image=np.zeros((8, 16000, 4), np.uint8), left=2048),
            "keep it within 16384",
        ),
    ],
)
def test_bad_input_fails_with_a_clear_message(engine, make, words):
    params = make()
    task = {InpaintParams: INPAINT, Img2ImgParams: IMG2IMG, OutpaintParams: OUTPAINT}[type(params)]
    event = run(engine, task, dataclasses.replace(params, prompt="x", model="tiny-sd15"))
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert words in event.message, event.message


def test_inpainting_model_is_refused_for_text_and_image_to_image(engine):
    for task, params in (
        (TXT2IMG, Txt2ImgParams(prompt="x", steps=2, width=64, height=64)),
        (IMG2IMG, Img2ImgParams(prompt="x", steps=2, image=IMAGE)),
    ):
        event = run(engine, task, dataclasses.replace(params, model="tiny-sd15-inpaint"))
        assert isinstance(event, JobFailed) and event.kind == "invalid_input"
        assert "inpainting model" in event.message and "Inpaint" in event.message


# ---- the command line


def save(path, pixels) -> str:
    Image.fromarray(pixels).save(path)
    return str(path)


FLAGS = ["--model", "tiny-sd15", "--steps", "2", "--seed", "3", "--work-size", "64"]


def test_cli_img2img_writes_a_png_with_its_recipe(atelier_home, tmp_path):
    import json

    source = save(tmp_path / "in.png", IMAGE)
    out = tmp_path / "out.png"
    assert (
        main(["img2img", source, "a red apple", "--strength", "0.6", *FLAGS, "-o", str(out)]) == 0
    )
    with Image.open(out) as image:
        assert image.size == (64, 64)
        recipe = json.loads(image.info["atelier"])["recipe"]
    assert recipe["task"] == "diffusion.img2img" and recipe["params"]["strength"] == 0.6
    assert "Denoising strength: 0.6" in image.info["parameters"]


def test_cli_inpaint_with_a_mask_file_and_from_alpha(atelier_home, tmp_path):
    source = save(tmp_path / "in.png", IMAGE[..., :3])
    mask = save(tmp_path / "mask.png", MASK)
    out = tmp_path / "out.png"
    assert main(["inpaint", source, "--mask", mask, "an apple", *FLAGS, "-o", str(out)]) == 0
    result = np.asarray(Image.open(out).convert("RGBA"))
    soft = soft_mask(MASK, 8, 8)
    assert np.array_equal(result[soft == 0], IMAGE[soft == 0])

    holed = IMAGE.copy()
    holed[..., 3] = 255 - MASK
    source = save(tmp_path / "holed.png", holed)
    out2 = tmp_path / "out2.png"
    assert main(["inpaint", source, "--mask-from-alpha", "", *FLAGS, "-o", str(out2)]) == 0
    result = np.asarray(Image.open(out2).convert("RGBA"))
    assert (result[..., 3] == 255).all()  # the hole is filled
    assert np.array_equal(result[soft == 0], holed[soft == 0])


def test_cli_outpaint(atelier_home, tmp_path):
    source = save(tmp_path / "in.png", IMAGE)
    out = tmp_path / "out.png"
    args = ["outpaint", source, "sky", "--left", "16", "--bottom", "8", *FLAGS, "-o", str(out)]
    assert main(args) == 0
    assert Image.open(out).size == (64 + 16, 64 + 8)


@pytest.mark.parametrize("broken", ["image", "mask"])
def test_cli_unreadable_input_is_one_line_and_exit_2(atelier_home, tmp_path, capsys, broken):
    good = save(tmp_path / "good.png", IMAGE)
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    image, mask = (bad, good) if broken == "image" else (good, bad)
    out = tmp_path / "out.png"
    assert main(["inpaint", str(image), "--mask", str(mask), "x", *FLAGS, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.png" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_empty_mask_fails_clearly(atelier_home, tmp_path, capsys):
    source = save(tmp_path / "in.png", IMAGE)
    mask = save(tmp_path / "mask.png", np.zeros((64, 64), np.uint8))
    out = tmp_path / "out.png"
    assert main(["inpaint", source, "--mask", mask, "x", *FLAGS, "-o", str(out)]) == 1
    assert "The mask is empty" in capsys.readouterr().err
