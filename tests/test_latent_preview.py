"""Previews while denoising: a model's own latent-to-RGB map wins over TAESD and the family's
factors, and the demo model's export fits that map by least squares."""

from __future__ import annotations

import numpy as np
import torch

from demo_model.latent_rgb_fit import fit_linear_rgb
from engine.home import models_dir
from engine.model_settings import LatentRgb
from plugins.diffusion.latent_preview import LatentPreviewer, linear_rgb

RED = (255, 0, 0, 255)
CHANNEL_0_IS_RED = LatentRgb(
    factors=((2.0, -1.0, -1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    bias=(-1.0, 0.0, 0.0),
)


def channel_0_latents(batch: int = 1) -> np.ndarray:
    """(batch, 4, 8, 8) latents that are 1 in channel 0 and 0 elsewhere."""
    latents = np.zeros((batch, 4, 8, 8), np.float32)
    latents[:, 0] = 1.0
    return latents


def test_a_models_own_factors_and_bias_make_the_colours():
    rgba = linear_rgb(channel_0_latents()[0], "sd15", CHANNEL_0_IS_RED)
    assert rgba.shape == (8, 8, 4) and rgba.dtype == np.uint8
    assert (rgba == RED).all()
    family = linear_rgb(channel_0_latents()[0], "sd15")
    assert tuple(family[0, 0]) == (172, 156, 168, 255)  # SD 1.x's channel 0, unchanged


def test_a_map_for_another_channel_count_falls_back_to_the_familys():
    three_rows = LatentRgb(factors=CHANNEL_0_IS_RED.factors[:3])
    latents = channel_0_latents()[0]
    assert np.array_equal(linear_rgb(latents, "sdxl", three_rows), linear_rgb(latents, "sdxl"))


def test_the_previewer_prefers_the_models_map_to_taesd(tmp_path):
    taesd = models_dir("vae", tmp_path) / "taesd"
    taesd.mkdir(parents=True)
    (taesd / "config.json").write_text("{not a config: loading it would fail")
    previewer = LatentPreviewer("sd15", home=tmp_path, latent_rgb=CHANNEL_0_IS_RED)
    preview = previewer(torch.from_numpy(channel_0_latents(batch=2)))
    assert preview.meta == {"preview": "model"}
    assert (preview.pixels == RED).all()
    plain = LatentPreviewer("sd15", home=tmp_path / "no-taesd")(torch.zeros(1, 4, 8, 8))
    assert plain.meta == {"preview": "linear"}


def test_the_fit_recovers_a_known_linear_map():
    rng = np.random.default_rng(0)
    factors = rng.normal(0, 0.4, (4, 3))
    bias = np.array([0.1, -0.2, 0.05])
    latents = torch.from_numpy(rng.normal(0, 1, (6, 4, 4, 5)))
    per_pixel = torch.einsum("nchw,cr->nrhw", latents, torch.from_numpy(factors))
    per_pixel += torch.from_numpy(bias)[None, :, None, None]
    images = per_pixel.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)  # (6, 3, 32, 40)
    images += torch.from_numpy(rng.normal(0, 0.05, images.shape))  # noise that pooling averages
    got_factors, got_bias = fit_linear_rgb(latents, images)
    assert got_factors.shape == (4, 3) and got_bias.shape == (3,)
    assert np.allclose(got_factors, factors, atol=0.01)
    assert np.allclose(got_bias, bias, atol=0.01)
