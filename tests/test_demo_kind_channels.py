"""The kind map the autoencoder is asked to write into its latent matches the drawn shapes."""

from __future__ import annotations

import numpy as np
import torch

from demo_model.kind_channels import CHANNELS, CODE_SCALE, kind_code_loss, kind_targets
from demo_model.scenes import KINDS, Scene, Shape, kind_coverage, render


def _one(kind: str, position: str = "top left", size: str = "large") -> Scene:
    return Scene("blue", (Shape(kind, "red", size, position),))


def test_coverage_is_where_the_shape_is_drawn():
    scene = _one("square", "bottom right")
    coverage = kind_coverage(scene, grid=16, size=128)
    assert coverage.shape == (16, 16, len(KINDS))
    square = coverage[..., KINDS.index("square")]
    drawn = (np.abs(render(scene).astype(int) - (30, 70, 230)).sum(-1) > 60).astype(float)
    drawn_cells = drawn.reshape(16, 8, 16, 8).mean(axis=(1, 3))
    assert np.abs(square - drawn_cells).max() < 0.2
    assert square[12:, 12:].sum() > 4 and square[:8].sum() == 0
    others = np.delete(coverage, KINDS.index("square"), axis=-1)
    assert others.sum() == 0


def test_each_kind_has_its_own_code_and_the_background_none():
    scenes = [_one(kind) for kind in KINDS]
    targets = kind_targets(scenes, grid=16, size=128)
    assert targets.shape == (len(KINDS), 2, 16, 16)
    assert targets[:, :, 8:, 8:].abs().sum() == 0
    codes = targets[:, :, 2, 2]  # a cell inside every shape at the top left
    assert torch.allclose(codes.norm(dim=1), torch.full((len(KINDS),), CODE_SCALE))
    gaps = torch.cdist(codes, codes) + torch.eye(len(KINDS)) * 99
    assert gaps.min() > CODE_SCALE


def test_the_loss_reads_only_the_kind_channels():
    scenes = [_one("star"), _one("circle", "center", "small")]
    targets = kind_targets(scenes, grid=16, size=128)
    latent = torch.randn(2, 4, 16, 16)
    latent[:, CHANNELS] = targets
    assert kind_code_loss(latent, targets) == 0
    latent[:, :2] += 5
    assert kind_code_loss(latent, targets) == 0
    latent[:, CHANNELS] += 1
    assert kind_code_loss(latent, targets) == 1
