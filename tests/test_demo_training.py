"""The demo model's training script: every stage runs, resumes, repeats, and exports a model
the app loads; its pruned tokenizer splits captions exactly like the full CLIP one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPTokenizer

from demo_model.captions import pairs
from demo_model.tokenizer import FULL_TOKENIZER, build
from demo_model.train import main as train
from engine.model_store import ModelStore

TINY = ["--vae-steps", "2", "--vae-batch", "2", "--scenes", "16"]
TINY += ["--unet-steps", "2", "--unet-batch", "4", "--threads", "1"]
TINY += ["--refine-steps", "2", "--refine-batch", "4"]
TINY += ["--inpaint-samples", "8", "--inpaint-steps", "2", "--inpaint-batch", "4"]
TINY += ["--control-samples", "8", "--control-steps", "2", "--control-batch", "4"]
TINY += ["--control-binding-samples", "8", "--control-binding-steps", "2"]
TINY += ["--motion-clips", "2", "--motion-steps", "2", "--motion-batch", "1"]
TINY += ["--music-size", "tiny", "--music-pieces", "4", "--music-window", "2"]
TINY += ["--music-codec-steps", "2", "--music-codec-batch", "2"]
TINY += ["--music-steps", "2", "--music-batch", "2"]


def tokens(tokenizer: CLIPTokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text).input_ids)


def test_the_pruned_tokenizer_splits_captions_like_the_full_one(tmp_path):
    size = build(tmp_path)
    pruned = CLIPTokenizer.from_pretrained(tmp_path)
    full = CLIPTokenizer(str(FULL_TOKENIZER / "vocab.json"), str(FULL_TOKENIZER / "merges.txt"))
    assert size < 2000
    captions = [c.text for _, (_, c) in zip(range(1500), pairs(3, held_out=False), strict=False)]
    captions += [c.text for _, (_, c) in zip(range(300), pairs(4, held_out=True), strict=False)]
    for text in captions:
        assert tokens(pruned, text) == tokens(full, text)
    unknown = tokens(pruned, "a zebra on the moon")
    assert unknown[0] == "<|startoftext|>" and unknown[-1] == "<|endoftext|>"
    assert "".join(unknown[1:-1]).replace("</w>", " ").split() == [
        "a",
        "zebra",
        "on",
        "the",
        "moon",
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A whole tiny training run (2 steps per stage) and its exported model folder."""
    root = tmp_path_factory.mktemp("training")
    out = root / "models" / "demo"
    assert train([*TINY, "--work", str(root / "work"), "--out", str(out)]) == 0
    return root, out


def test_the_run_exports_an_inpainting_partner_beside_the_model(trained):
    root, out = trained
    partner = out.with_name("demo-inpaint")  # beside --out, never the shipped folder
    unet = json.loads((partner / "unet" / "config.json").read_text())
    assert unet["in_channels"] == 9
    assert (partner / "README.md").is_file() and (partner / "atelier.json").is_file()


def test_the_run_exports_a_scribble_control_that_fits_the_model(trained):
    root, out = trained
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

    control = out.with_name("demo-scribble")
    settings = json.loads((control / "atelier.json").read_text())
    assert (settings["control_kind"], settings["base"]) == ("scribble", "demo")
    assert (control / "README.md").is_file()
    controlnet = ControlNetModel.from_pretrained(control, dtype=torch.float32)
    pipe = StableDiffusionControlNetPipeline.from_pretrained(
        out, controlnet=controlnet, dtype=torch.float32
    )
    scribble = np.zeros((128, 128, 3), np.float32)
    scribble[30:40, 20:100] = 1.0
    image = pipe(
        "a red circle", image=scribble[None], num_inference_steps=2, output_type="np"
    ).images[0]
    assert image.shape == (128, 128, 3) and np.isfinite(image).all()


def test_the_run_exports_a_motion_adapter_made_for_the_model(trained, tmp_path):
    root, out = trained
    motion = out.with_name("demo-motion")
    assert json.loads((motion / "atelier.json").read_text())["base"] == "demo"
    store = ModelStore(home=tmp_path, builtin_dir=root / "models")
    from plugins.video.motion_choice import pick_motion_adapter

    assert pick_motion_adapter(store, store.default_checkpoint()).name == "demo-motion"


def test_the_run_exports_a_music_model_that_loads_as_musicgen_and_plays(trained):
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    _, out = trained
    music = out.with_name("demo-music")
    settings = json.loads((music / "atelier.json").read_text())
    assert settings["music"] == {"window_s": 2.0, "context_s": 1.0}
    model = MusicgenForConditionalGeneration.from_pretrained(music, local_files_only=True)
    processor = AutoProcessor.from_pretrained(music, local_files_only=True)
    assert model.dtype == torch.float16 and processor.feature_extractor.sampling_rate == 16000
    inputs = processor(text=["a happy piano melody at 120 bpm with drums"], return_tensors="pt")
    torch.manual_seed(0)
    audio = model.float().generate(**inputs, do_sample=True, max_new_tokens=28)
    assert audio.shape[:2] == (1, 1) and audio.shape[-1] >= 20 * 640  # frames of 640 samples
    assert torch.isfinite(audio).all()


def test_a_run_exports_a_model_the_store_loads_and_generates_with(trained, tmp_path):
    root, out = trained
    settings = json.loads((out / "atelier.json").read_text())
    assert settings["native_size"] == 128 and settings["defaults"]["steps"] > 0
    store = ModelStore(home=tmp_path, builtin_dir=root / "models")
    entry = store.default_checkpoint()
    assert (entry.name, entry.source, entry.family) == ("demo", "builtin", "sd15")
    from diffusers import StableDiffusionPipeline

    pipeline = StableDiffusionPipeline.from_pretrained(out, dtype=torch.float32)
    image = pipeline("a red circle", num_inference_steps=2, output_type="np").images[0]
    assert image.shape == (128, 128, 3) and np.isfinite(image).all()


def test_the_export_takes_the_refined_weights(trained):
    """The refining run starts from the first run's weights, changes them, and its
    weights (not the first run's) are the ones exported."""
    from diffusers import UNet2DConditionModel

    root, out = trained
    work = root / "work"

    def weights(folder):
        unet = UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32)
        return unet.conv_out.weight.detach()

    first, refined, shipped = weights(work), weights(work / "refined"), weights(out)
    assert not torch.equal(first, refined)
    assert torch.equal(shipped, refined.half().float())
    assert (refined - first).abs().max() < 0.05  # two small steps from the first run's weights


def test_the_export_fits_previews_to_its_own_vae(trained, tmp_path):
    """The exported latent-to-RGB map previews unseen scenes' latents closer to the scenes'
    colours than SD 1.x's factors do, and than their mean colour alone, even for a VAE
    trained two steps (whose latents still say little about colour)."""
    from diffusers import AutoencoderKL

    from demo_model.vae_training import scene_batch
    from engine.model_settings import LatentRgb
    from plugins.diffusion.latent_preview import linear_rgb

    root, out = trained
    entry = ModelStore(home=tmp_path, builtin_dir=root / "models").default_checkpoint()
    own = entry.settings.latent_rgb
    assert own is not None and len(own.factors) == 4
    vae = AutoencoderKL.from_pretrained(out / "vae", torch_dtype=torch.float32)
    scenes = scene_batch(np.random.default_rng(7), 8)
    with torch.no_grad():
        latents = vae.encode(scenes).latent_dist.mode() * vae.config.scaling_factor
    wanted = (F.avg_pool2d(scenes, 8).permute(0, 2, 3, 1).numpy() + 1) * 127.5

    def error(map_) -> float:
        previews = [linear_rgb(z.numpy(), "sd15", map_)[..., :3] for z in latents]
        return float(np.abs(np.stack(previews).astype(np.float32) - wanted).mean())

    mean_colour = LatentRgb(factors=((0.0, 0.0, 0.0),) * 4, bias=own.bias)
    assert error(own) < error(mean_colour) < error(None)


def test_a_stage_resumes_where_it_stopped_and_repeats_exactly(tmp_path, capsys):
    args = ["--stage", "vae", "--vae-batch", "2", "--threads", "1"]
    train([*args, "--vae-steps", "1", "--work", str(tmp_path / "a")])
    train([*args, "--vae-steps", "2", "--work", str(tmp_path / "a")])
    assert "resuming at step 1/2" in capsys.readouterr().out
    train([*args, "--vae-steps", "2", "--work", str(tmp_path / "b")])
    resumed = torch.load(tmp_path / "a" / "vae.pt", weights_only=True)["model"]
    straight = torch.load(tmp_path / "b" / "vae.pt", weights_only=True)["model"]
    assert resumed.keys() == straight.keys()
    for name, tensor in straight.items():
        assert torch.equal(resumed[name], tensor), name


def test_unet_batches_depend_on_their_step_alone(tmp_path):
    """Worker processes make the same batches as the training process itself, so a run's
    data does not depend on the machine's cores; different steps get different data."""
    from demo_model.latent_cache import training_scenes
    from demo_model.step_batches import step_loader
    from demo_model.unet_training import StepBatches, load_tokenizer

    batches = StepBatches(training_scenes(1, 32), load_tokenizer(tmp_path), 6, seed=3)
    here = list(step_loader(batches, range(4, 8), workers=0))
    there = list(step_loader(batches, range(4, 8), workers=2))
    for mine, theirs in zip(here, there, strict=True):
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[name], theirs[name]) for name in mine)
    assert not torch.equal(here[0]["noise"], here[1]["noise"])
    assert here[0]["token_ids"].shape == (6, 77) and here[0]["picks"].max() < 32
