"""A training-time target that makes the autoencoder write each shape's kind into its latent.

Trained on reconstruction alone, the VAE encoded kinds faintly: the latents of a red
circle and a red square at the same place differed by 0.8 (norm over the 16x16x4
latent), less than moving the circle by one pixel (1.2), while red vs green differed by
15. The UNet's loss could hardly see the kind, and it drew every kind as the same blob
(circle and square alike, triangle and star alike). Asking two latent channels to hold
a fixed 2-D code per kind, scaled by how much of each latent cell the shape covers,
makes kinds as far apart in the latent as colours are, so the UNet learns them the way
it learns colour. The decoder reads the code back, which also sharpens its outlines.
"""

from __future__ import annotations

import numpy as np
import torch

from .scenes import Scene, kind_coverage

# One direction per kind, in the order of KINDS: circle, square, triangle, star.
_CODES = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], np.float32)
CODE_SCALE = 2.0  # ~3x the latent's spread (std 0.66 in the shipped VAE): kinds show like colours
CHANNELS = slice(2, 4)


def kind_targets(scenes: list[Scene], grid: int, size: int) -> torch.Tensor:
    """(N, 2, grid, grid) the code each latent cell should hold (0 where no shape is)."""
    maps = np.stack([kind_coverage(scene, grid, size) @ _CODES for scene in scenes])
    return torch.from_numpy(maps).permute(0, 3, 1, 2) * CODE_SCALE


def kind_code_loss(latent_mean: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the kind channels of the (unscaled) latent mean from targets."""
    return torch.nn.functional.mse_loss(latent_mean[:, CHANNELS].float(), targets)
