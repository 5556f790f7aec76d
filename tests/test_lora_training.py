"""The LoRA training job on the tiny SD 1.x and SDXL models: it learns, resumes exactly,
keeps a loadable checkpoint on cancel, stops on a diverging loss, and writes a LoRA that
diffusers loads; and the `atelier train-lora` command."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from engine.protocol import JobCancelled, JobFailed, JobFinished, JobProgress, ModelData
from engine.worker import Engine, InlineEngine
from plugins.lora_training.checkpoints import load_checkpoint
from plugins.lora_training.params import TrainLoraParams, validate_train_lora
from plugins.lora_training.run_folder import CHECKPOINT_FILE
from plugins.registry import discover

TASK = "lora_training.train"


def write_photos(folder: Path, count: int = 6) -> Path:
    """Pictures of one made-up emblem (a cross) in several colours and places."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        picture = np.full((256, 256, 3), rng.integers(0, 256, 3), np.uint8)
        x, y = (int(v) for v in rng.integers(70, 186, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.rectangle(picture, (x - 50, y - 16), (x + 50, y + 16), colour, -1)
        cv2.rectangle(picture, (x - 16, y - 50), (x + 16, y + 50), colour, -1)
        Image.fromarray(picture).save(folder / f"photo{i}.png")
    (folder / "photo0.txt").write_text("a zqx emblem on a plain background")
    return folder


def params(folder: Path, **changes) -> TrainLoraParams:
    base = TrainLoraParams(
        folder=folder,
        model="tiny-sd15",
        trigger="zqx",
        class_word="emblem",
        train_steps=6,
        rank=4,
        learning_rate=1e-3,
        batch_size=2,
        resolution=64,
        seed=3,
    )
    return dataclasses.replace(base, **changes)


def train(p: TrainLoraParams) -> JobFinished | JobFailed | JobCancelled:
    engine = InlineEngine.from_registry(discover(), preview_interval_s=None)
    return engine.submit(TASK, p).future.result()


def run_folder_of(home: Path) -> Path:
    (folder,) = (home / "training").iterdir()
    return folder


@pytest.fixture
def photos(tmp_path) -> Path:
    return write_photos(tmp_path / "photos")


def test_validation_messages(tmp_path):
    folder = write_photos(tmp_path / "p", 1)
    cases = {
        "Choose the folder": dict(folder=None),
        "is not a folder": dict(folder=tmp_path / "missing"),
        "Type a trigger word": dict(trigger="  "),
        "must be one word": dict(trigger="two words"),
        "The class must be": dict(class_word=""),
        "multiple of 64": dict(resolution=100),
    }
    for message, change in cases.items():
        with pytest.raises(ValueError, match=message):
            validate_train_lora(dataclasses.replace(params(folder), **change))


def test_a_folder_without_usable_photos_is_refused(atelier_home, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not a picture")
    event = train(params(folder))
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert "broken.png" in event.message or "usable" in event.message


def test_training_writes_a_kohya_lora_with_its_metadata(atelier_home, photos):
    event = train(params(photos))
    assert isinstance(event, JobFinished), event
    (model,) = event.outputs
    assert isinstance(model, ModelData)
    downs = [k for k in model.tensors if k.endswith(".lora_down.weight")]
    assert downs and all(k.startswith("lora_unet_") for k in downs)
    assert model.metadata["modelspec.trigger_phrase"].startswith("zqx")
    assert model.metadata["ss_network_dim"] == "4"
    assert model.thumbnail is not None and "provenance" in model.thumbnail.meta
    assert model.meta["recipe"]["params"]["train_steps"] == 6
    checkpoint = load_checkpoint(run_folder_of(atelier_home) / CHECKPOINT_FILE)
    assert checkpoint.info["step"] == 6 and len(checkpoint.info["losses"]) == 6


def test_resume_continues_at_the_step_and_matches_an_uninterrupted_run(
    atelier_home, photos, tmp_path
):
    whole = train(params(photos, train_steps=6))
    assert isinstance(whole, JobFinished)
    folder = run_folder_of(atelier_home)
    uninterrupted = load_checkpoint(folder / CHECKPOINT_FILE)
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    assert isinstance(train(params(photos, train_steps=3)), JobFinished)
    assert load_checkpoint(run_folder_of(atelier_home) / CHECKPOINT_FILE).info["step"] == 3
    resumed = train(params(photos, train_steps=6))
    assert isinstance(resumed, JobFinished)
    after = load_checkpoint(run_folder_of(atelier_home) / CHECKPOINT_FILE)
    assert after.info["step"] == 6
    assert after.info["losses"] == pytest.approx(uninterrupted.info["losses"])
    for name, tensor in uninterrupted.lora.items():
        torch.testing.assert_close(after.lora[name], tensor, rtol=0, atol=1e-6)


def test_resume_off_starts_again(atelier_home, photos):
    assert isinstance(train(params(photos, train_steps=3)), JobFinished)
    engine = InlineEngine.from_registry(discover(), preview_interval_s=None)
    steps = []
    engine.subscribe(lambda e: isinstance(e, JobProgress) and steps.append(e.metrics.get("step")))
    engine.submit(TASK, params(photos, train_steps=4, resume=False)).future.result()
    assert [s for s in steps if s][0] == 1


def test_cancel_keeps_a_checkpoint_that_resumes(atelier_home, photos):
    engine = Engine.from_registry(discover(), preview_interval_s=None)
    reached = threading.Event()

    def watch(event):
        if isinstance(event, JobProgress) and event.metrics.get("step", 0) >= 3:
            reached.set()

    engine.subscribe(watch)
    handle = engine.submit(TASK, params(photos, train_steps=400))
    assert reached.wait(120)
    engine.cancel(handle.id)
    assert isinstance(handle.future.result(60), JobCancelled)
    engine.shutdown()
    path = run_folder_of(atelier_home) / CHECKPOINT_FILE
    for _ in range(100):  # the step under way ends in the background, then it saves
        if path.exists():
            break
        threading.Event().wait(0.1)
    saved = load_checkpoint(path)
    assert saved is not None and 3 <= saved.info["step"] < 400
    steps = []
    inline = InlineEngine.from_registry(discover(), preview_interval_s=None)
    inline.subscribe(lambda e: isinstance(e, JobProgress) and steps.append(e.metrics.get("step")))
    event = inline.submit(TASK, params(photos, train_steps=saved.info["step"] + 2)).future.result()
    assert isinstance(event, JobFinished)
    assert [s for s in steps if s][0] == saved.info["step"] + 1


def test_a_diverging_loss_stops_and_keeps_the_last_good_checkpoint(atelier_home, photos):
    assert isinstance(train(params(photos, train_steps=3)), JobFinished)
    path = run_folder_of(atelier_home) / CHECKPOINT_FILE
    before = path.read_bytes()
    event = train(params(photos, train_steps=60, learning_rate=1e12))
    assert isinstance(event, JobFailed)
    assert "the loss became" in event.message and "step 3 is kept" in event.message
    assert path.read_bytes() == before


def _fixed_loss(photos_folder: Path, home: Path, checkpoint=None) -> float:
    """The loss over every cached photo with fixed noise and timesteps: the base model's
    (a fresh adapter adds nothing) or with the checkpoint's adapter."""
    from diffusers import StableDiffusionPipeline

    from plugins.lora_training.adapter_training import adapter_on
    from plugins.lora_training.presets import TrainingSettings
    from plugins.lora_training.run_folder import CACHE_FILE
    from plugins.lora_training.training_data import load_cache, stack

    pipe = StableDiffusionPipeline.from_pretrained(
        home / "models" / "checkpoints" / "tiny-sd15", safety_checker=None
    )
    settings = TrainingSettings(4, 4.0, 1e-3, 1, 1, 64, False, "fp32", "adamw", 0, 50, 0)
    from safetensors import safe_open

    cache = run_folder_of(home) / CACHE_FILE
    with safe_open(str(cache), "pt") as f:
        count = int(f.metadata()["photos"])
    examples, _ = load_cache(cache, count, 0)
    with adapter_on(pipe, settings, seed=0) as training, torch.no_grad():
        if checkpoint is not None:
            training.load_lora_state(checkpoint.lora)
        losses = [
            training._loss(stack([e], "cpu", torch.float32), torch.Generator().manual_seed(i))
            for i, e in enumerate(examples)
        ]
    return float(torch.stack(losses).mean())


def test_a_short_run_lowers_the_loss(atelier_home, photos):
    assert isinstance(train(params(photos, train_steps=30, learning_rate=5e-3)), JobFinished)
    trained = load_checkpoint(run_folder_of(atelier_home) / CHECKPOINT_FILE)
    before = _fixed_loss(photos, atelier_home)
    after = _fixed_loss(photos, atelier_home, trained)
    assert after < 0.95 * before


def _unet_output(pipe, prompt: str) -> torch.Tensor:
    embeds = pipe.encode_prompt(prompt, "cpu", 1, False)[0]
    latents = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return pipe.unet(latents, torch.tensor([500]), encoder_hidden_states=embeds).sample


def test_the_lora_changes_the_trigger_prompt_more_and_loads_in_diffusers(
    atelier_home, photos, tmp_path
):
    from diffusers import StableDiffusionPipeline

    from plugins.lora_training.model_export import write_model

    event = train(
        params(photos, train_steps=40, learning_rate=1e-2, rank=8, layers="cross_attention")
    )
    assert isinstance(event, JobFinished), event
    path = write_model(tmp_path / "zqx.safetensors", event.outputs[0])
    pipe = StableDiffusionPipeline.from_pretrained(
        atelier_home / "models" / "checkpoints" / "tiny-sd15", safety_checker=None
    )
    before = {p: _unet_output(pipe, p) for p in ("zqx emblem", "a red circle")}
    pipe.load_lora_weights(str(path))
    change = {p: (_unet_output(pipe, p) - before[p]).abs().mean().item() for p in before}
    assert change["zqx emblem"] > 0
    assert change["zqx emblem"] > change["a red circle"]


def test_sdxl_trains_too(atelier_home, photos):
    event = train(params(photos, model="tiny-sdxl", train_steps=2))
    assert isinstance(event, JobFinished), event
    assert event.outputs[0].metadata["modelspec.architecture"].startswith("stable-diffusion-xl")


def test_the_cli_trains_and_writes_the_file(atelier_home, photos, tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "zqx.safetensors"
    argv = ["train-lora", str(photos), "--trigger", "zqx", "--class", "emblem"]
    flags = ["--model", "tiny-sd15", "--steps", "2", "--resolution", "64", "--rank", "4"]
    assert main([*argv, *flags, "-o", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 0
    assert main(["train-lora", str(tmp_path / "none"), "--trigger", "zqx", "-o", str(out)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train-lora", str(empty), "--trigger", "zqx", "-o", str(out)]) == 1
    assert "photo" in capsys.readouterr().err


def test_training_leaves_the_shared_checkpoint_as_it_was(atelier_home, photos, unmarked_pixels):
    from plugins.diffusion.params import Txt2ImgParams

    engine = InlineEngine.from_registry(discover(), preview_interval_s=None)
    ask = Txt2ImgParams(
        prompt="zqx emblem", model="tiny-sd15", seed=4, steps=3, width=64, height=64
    )
    before = engine.submit("diffusion.txt2img", ask).future.result()
    assert isinstance(
        engine.submit(TASK, params(photos, train_steps=3)).future.result(), JobFinished
    )
    after = engine.submit("diffusion.txt2img", ask).future.result()
    np.testing.assert_array_equal(after.outputs[0].pixels, before.outputs[0].pixels)


def test_encoding_upcasts_the_shared_vae_and_gives_its_precision_back():
    from plugins.lora_training.training_data import vae_for_encoding
    from tests.fixtures.tiny_models import build_tiny_pipeline

    vae = build_tiny_pipeline("sdxl").vae.to(torch.float16)
    vae.register_to_config(force_upcast=True)
    with vae_for_encoding(vae) as encoding:
        assert encoding.dtype == torch.float32
    assert vae.dtype == torch.float16


def _cached_classes(home: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    from plugins.lora_training.run_folder import CACHE_FILE

    tensors = load_file(str(run_folder_of(home) / CACHE_FILE))
    return {name: t for name, t in tensors.items() if name.startswith("class.")}


def test_preserving_by_class_pictures_draws_them_first(atelier_home, photos):
    changes = {"prior_method": "class_pictures", "prior_images": 3, "train_steps": 2}
    assert isinstance(train(params(photos, prior_preservation=True, **changes)), JobFinished)
    latents = [name for name in _cached_classes(atelier_home) if name.endswith(".latent")]
    assert len(latents) == 3


def _cache(home: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    from plugins.lora_training.run_folder import CACHE_FILE

    return load_file(str(run_folder_of(home) / CACHE_FILE))


def test_preserving_by_the_base_output_pairs_each_photo_with_its_generic_caption(
    atelier_home, photos
):
    """Each photo's latent twice: with its caption made generic, then with one everyday
    prompt of Atelier's list (the model folder has none of its own)."""
    assert isinstance(train(params(photos, prior_preservation=True, train_steps=2)), JobFinished)
    tensors = _cache(atelier_home)
    count = len(list(photos.glob("*.png")))
    for i in range(count):  # the photo's own latent, another caption
        assert torch.equal(tensors[f"class.{i}.latent"], tensors[f"photo.{i}.latent"])
        assert not torch.equal(tensors[f"class.{i}.embeds"], tensors[f"photo.{i}.embeds"])
        kept = tensors[f"class.{count + i}.embeds"]
        assert torch.equal(tensors[f"class.{count + i}.latent"], tensors[f"photo.{i}.latent"])
        assert not torch.equal(kept, tensors[f"class.{i}.embeds"])
    everyday = [tensors[f"class.{count + i}.embeds"] for i in range(count)]
    assert not torch.equal(everyday[0], everyday[1])  # the list's prompts in turn
    assert f"class.{2 * count}.latent" not in tensors


def test_each_step_keeps_the_generic_captions_and_half_as_many_kept_prompts():
    """Four photos, each with its generic caption (g) and two kept prompts (k): a step of
    batch 2 takes two generic captions and one kept prompt, each in turn; without kept
    prompts, the class examples in turn alone."""
    from types import SimpleNamespace

    from plugins.lora_training.trainer import _prior_batch

    classes = [f"g{i}" for i in range(4)] + [f"k{i}" for i in range(8)]
    job = SimpleNamespace(photos=[None] * 4, kept_prompts=["a red box"])
    steps = [_prior_batch(job, classes, 2, step) for step in range(3)]
    assert steps == [["g0", "g1", "k0"], ["g2", "g3", "k1"], ["g0", "g1", "k2"]]
    alone = SimpleNamespace(photos=[None] * 4, kept_prompts=[])
    assert _prior_batch(alone, classes[:4], 2, 1) == ["g2", "g3"]
    assert _prior_batch(alone, [], 2, 1) is None


def test_a_model_folder_may_bring_its_own_preservation_prompts(atelier_home, photos):
    """The model's atelier.json asks for two kept prompts a photo and its folder lists two:
    every photo gets both, in the list's order."""
    model = atelier_home / "models" / "checkpoints" / "tiny-sd15"
    (model / "preservation_prompts.txt").write_text("# the model's own\na red box\n\na blue ring\n")
    (model / "atelier.json").write_text('{"lora_training": {"prior_prompts": 2}}')
    assert isinstance(train(params(photos, prior_preservation=True, train_steps=2)), JobFinished)
    tensors = _cache(atelier_home)
    count = len(list(photos.glob("*.png")))
    box, ring = (tensors[f"class.{count + i}.embeds"] for i in range(2))
    assert not torch.equal(box, ring)
    for i in range(count):
        first, second = count + 2 * i, count + 2 * i + 1
        assert torch.equal(tensors[f"class.{first}.embeds"], box)
        assert torch.equal(tensors[f"class.{second}.embeds"], ring)
        assert torch.equal(tensors[f"class.{second}.latent"], tensors[f"photo.{i}.latent"])
    assert f"class.{3 * count}.latent" not in tensors


def test_an_unreadable_preservation_list_stops_the_job_with_a_sentence(atelier_home, photos):
    model = atelier_home / "models" / "checkpoints" / "tiny-sd15"
    (model / "preservation_prompts.txt").write_bytes(b"\xff\xfe not text")
    event = train(params(photos, prior_preservation=True, train_steps=2))
    assert isinstance(event, JobFailed) and event.kind == "invalid_input"
    assert "cannot be read from" in event.message and "preservation_prompts.txt" in event.message
    assert isinstance(train(params(photos, train_steps=2)), JobFinished)  # not needed: fine


def test_preserving_the_base_output_keeps_prompts_without_the_trigger(atelier_home, photos):
    """The same run without preservation, preserving the photos' generic captions only, and
    (the default) with an everyday prompt a photo as well: preserved, the generic caption's
    output moves far less, while the trigger's still moves; the everyday prompts keep a
    prompt unlike the captions better than the captions alone do."""
    from diffusers import StableDiffusionPipeline

    from plugins.lora_training.model_export import write_model

    model = atelier_home / "models" / "checkpoints" / "tiny-sd15"
    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None)
    prompts = ("zqx emblem", "emblem", "a red car in the snow at night")
    before = {p: _unet_output(pipe, p) for p in prompts}
    changes = {}
    for run, (kept, extra) in {
        "none": (False, 0),
        "captions": (True, 0),
        "both": (True, 1),
    }.items():
        (model / "atelier.json").write_text(json.dumps({"lora_training": {"prior_prompts": extra}}))
        event = train(params(photos, train_steps=40, learning_rate=1e-2, prior_preservation=kept))
        assert isinstance(event, JobFinished), event
        path = write_model(atelier_home / f"{run}.safetensors", event.outputs[0])
        pipe.load_lora_weights(str(path), adapter_name=run)
        pipe.set_adapters([run])
        changes[run] = {p: (_unet_output(pipe, p) - before[p]).abs().mean().item() for p in prompts}
        pipe.delete_adapters(run)
    assert changes["captions"]["emblem"] < 0.6 * changes["none"]["emblem"]  # 0.51 here

    def generic_share(run: str) -> float:
        return changes[run]["emblem"] / changes[run]["zqx emblem"]

    assert generic_share("captions") < 0.8 * generic_share("none")  # 0.62 against 1.02 here
    unlike = prompts[2]
    assert changes["both"][unlike] < 0.9 * changes["captions"][unlike]  # 0.22 against 0.28
    assert changes["both"]["zqx emblem"] > 0.5 * changes["none"]["zqx emblem"]  # 0.71 here
