"""The built-in demo model: shipped like a user model, and it follows what a prompt names."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open

from app.cli import main
from demo_model.scenes import PALETTE
from demo_model.scoring import background_rgb, nearest_color, palette_labels
from engine.home import RESOURCES
from engine.model_store import ModelStore
from plugins.provenance import watermark
from tests.image_checks import psnr

SHIPPED = RESOURCES / "models" / "atelier-demo"
pytestmark = pytest.mark.skipif(not SHIPPED.is_dir(), reason="the demo model is not built")


def generate(tmp_path, prompt: str, seed: int = 1, *extra: str) -> np.ndarray:
    out = tmp_path / f"{abs(hash((prompt, seed, extra)))}.png"
    assert main(["generate", prompt, "--seed", str(seed), *extra, "-o", str(out)]) == 0
    return np.asarray(Image.open(out).convert("RGB"))


def share_of(image: np.ndarray, colour: str) -> float:
    """Fraction of pixels whose nearest palette colour is `colour`."""
    return float(np.mean(palette_labels(image) == list(PALETTE).index(colour)))


def test_the_store_finds_it_as_the_default_small_fp16_model(tmp_path):
    store = ModelStore(home=tmp_path, builtin_dir=RESOURCES / "models")
    entry = store.default_checkpoint()
    assert (entry.name, entry.source, entry.family, entry.format) == (
        "atelier-demo",
        "builtin",
        "sd15",
        "diffusers",
    )
    assert entry.settings.native_size == 128 and entry.settings.example_prompt
    assert entry.size <= 25 * 2**20
    with safe_open(SHIPPED / "unet" / "diffusion_pytorch_model.safetensors", "pt") as weights:
        names = weights.keys()
        assert {str(weights.get_tensor(name).dtype) for name in names} == {"torch.float16"}
    assert "licen" in (SHIPPED / "README.md").read_text().lower()


def test_its_previews_show_the_colours_its_vae_decodes(tmp_path):
    """The latent-to-RGB map export writes into atelier.json fits this model's own VAE: a
    preview of scenes' latents is close to what the VAE decodes them to, SD 1.x's is not."""
    import torch
    import torch.nn.functional as F
    from diffusers import AutoencoderKL

    from demo_model.vae_training import scene_batch
    from plugins.diffusion.latent_preview import linear_rgb

    entry = ModelStore(home=tmp_path, builtin_dir=RESOURCES / "models").default_checkpoint()
    if entry.settings.latent_rgb is None:
        pytest.skip("the shipped model was exported before it declared a latent_rgb map")
    vae = AutoencoderKL.from_pretrained(SHIPPED / "vae", torch_dtype=torch.float32)
    scale = vae.config.scaling_factor
    with torch.no_grad():
        latents = vae.encode(scene_batch(np.random.default_rng(99), 16)).latent_dist.mode()
        decoded = vae.decode(latents).sample.clamp(-1, 1)
    wanted = (F.avg_pool2d(decoded, 8).permute(0, 2, 3, 1).numpy() + 1) * 127.5

    def error(latent_rgb) -> float:
        previews = [linear_rgb(z.numpy() * scale, "sd15", latent_rgb)[..., :3] for z in latents]
        return float(np.abs(np.stack(previews).astype(np.float32) - wanted).mean())

    assert error(entry.settings.latent_rgb) < 0.7 * error(None)


def test_a_fixed_seed_gives_the_same_picture(with_builtin, tmp_path):
    first = generate(tmp_path, "a red circle on a blue background", 5)
    again = generate(tmp_path, "a red circle on a blue background", 5, "--batch", "1")
    other = generate(tmp_path, "a red circle on a blue background", 6)
    assert first.shape == (128, 128, 3)
    # Same seed, same file: the watermark's id comes from the recipe, not from chance.
    assert np.array_equal(first, again)
    assert psnr(first, other) < 30
    marks = [watermark.detect_image(np.ascontiguousarray(image)) for image in (first, other)]
    assert all(mark.present for mark in marks)
    assert marks[0].payload != marks[1].payload


@pytest.mark.parametrize(
    ("prompt", "background"),
    [
        ("a small white circle on a green background", "green"),
        ("a purple background with a yellow star at the top left", "purple"),
        ("a big red square in the middle, blue background", "blue"),
        ("an orange triangle on black", "black"),
    ],
)
def test_the_named_background_colour_dominates(with_builtin, tmp_path, prompt, background):
    image = generate(tmp_path, prompt, 3)
    assert nearest_color(background_rgb(image)) == background
    assert share_of(image, background) > 0.6


def test_img2img_and_inpaint_run_on_it(with_builtin, tmp_path):
    source = tmp_path / "source.png"
    Image.fromarray(generate(tmp_path, "a white square on a green background", 2)).save(source)
    changed = tmp_path / "changed.png"
    assert (
        main(
            [
                "img2img",
                str(source),
                "a white square on a pink background",
                "--seed",
                "1",
                "--strength",
                "0.9",
                "-o",
                str(changed),
            ]
        )
        == 0
    )
    assert share_of(np.asarray(Image.open(changed).convert("RGB")), "pink") > 0.5

    mask = np.zeros((128, 128), np.uint8)
    mask[16:64, 16:64] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    repainted = tmp_path / "repainted.png"
    assert (
        main(
            [
                "inpaint",
                str(source),
                "a yellow circle on a green background",
                "--mask",
                str(tmp_path / "mask.png"),
                "--seed",
                "1",
                "-o",
                str(repainted),
            ]
        )
        == 0
    )
    before = np.asarray(Image.open(source).convert("RGB")).astype(int)
    after = np.asarray(Image.open(repainted).convert("RGB")).astype(int)
    assert after.shape == before.shape
    assert np.abs(after - before)[16:64, 16:64].mean() > 0  # the masked part was repainted
    assert np.abs(after - before)[96:, 96:].max() <= 1  # far from the mask: kept
