"""The inpainting variant's training data and its widened UNet (no training run here)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from demo_model.inpaint_samples import CELL, IMAGE_SIZE, border_mask, make_sample
from demo_model.inpaint_training import latent_mask, masked_pixels, widen_input
from demo_model.scenes import Scene, render
from tests.fixtures.tiny_models import build_tiny_pipeline


def samples(count: int, seed: int = 3) -> list:
    rng = np.random.default_rng(seed)
    return [make_sample(rng) for _ in range(count)]


def test_samples_change_nothing_outside_their_whole_cell_masks():
    for sample in samples(60):
        cells = sample.mask.reshape(IMAGE_SIZE // CELL, CELL, -1, CELL)
        assert np.all(cells.all(axis=(1, 3)) == cells.any(axis=(1, 3)))  # whole 8x8 cells
        assert sample.mask.any()
        outside = ~sample.mask
        assert np.array_equal(sample.after[outside], sample.before[outside])


def test_a_named_new_shape_lies_wholly_inside_the_region():
    named = [s for s in samples(60) if s.new is not None and s.caption]
    assert len(named) > 20
    for sample in named:
        alone = render(Scene("black", ()), IMAGE_SIZE, (replace(sample.new, color="white"),))
        footprint = alone.max(axis=2) > 20
        assert footprint.sum() > 40 and not (footprint & ~sample.mask).any()
        assert sample.new.color in sample.caption


def test_captions_name_only_the_new_shape_or_the_whole_scene_for_a_border():
    for sample in samples(80):
        if sample.new is not None and sample.caption:
            assert sample.caption.count(sample.new.color) >= 1
            assert " and " not in sample.caption  # one shape, never the scene's others


def test_border_masks_are_whole_sides():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = border_mask(rng)
        rows, cols = mask.all(axis=1), mask.all(axis=0)
        assert np.array_equal(mask, rows[:, None] | cols[None, :])


def test_the_condition_blanks_the_mask_grey_and_the_latent_mask_is_per_cell():
    sample = samples(1)[0]
    blank = masked_pixels(sample)
    assert np.all(blank[sample.mask] == 128)
    assert np.array_equal(blank[~sample.mask], sample.before[~sample.mask])
    small = latent_mask(sample.mask)
    assert small.shape == (16, 16)
    assert np.array_equal(np.repeat(np.repeat(small, 8, 0), 8, 1).astype(bool), sample.mask)


def test_the_widened_unet_starts_out_drawing_as_the_base_did():
    unet = build_tiny_pipeline("sd15").unet.eval()
    torch.manual_seed(0)
    latents, text = torch.randn(2, 4, 8, 8), torch.randn(2, 77, unet.config.cross_attention_dim)
    with torch.no_grad():
        before = unet(latents, 10, text).sample
        widened = widen_input(unet)
        extra = torch.randn(2, 5, 8, 8)
        after = widened(torch.cat([latents, extra], dim=1), 10, text).sample
    assert widened.config.in_channels == 9 and widened.conv_in.in_channels == 9
    assert torch.allclose(before, after, atol=1e-5)
