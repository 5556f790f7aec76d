"""The demo VAE's own linear latent-to-RGB map, for Atelier's previews while denoising.

Atelier previews latents with a linear map (plugins.diffusion.latent_preview.linear_rgb):
rgb in [-1, 1] = latents @ factors + bias per latent pixel. The SD 1.x factors it falls back
to fit SD's VAE, not this one, so export fits the map to this VAE and writes it into atelier.json
("latent_rgb", read by engine.model_settings).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from .vae_training import scene_batch

FIT_SCENES = 256
FIT_SEED = 20240607
_BATCH = 32


def fit_linear_rgb(latents: torch.Tensor, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares (factors (C, 3), bias (3,)) with images ~ latents @ factors + bias.

    `latents` are (N, C, h, w); `images` (N, 3, H, W) in [-1, 1] with H, W multiples of h,
    w: each image is average-pooled to the latent grid, so every latent pixel is matched
    with the mean colour of the patch it stands for.
    """
    pooled = F.adaptive_avg_pool2d(images.float(), latents.shape[-2:])
    x = latents.float().permute(0, 2, 3, 1).reshape(-1, latents.shape[1]).double().numpy()
    y = pooled.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy()
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    return solution[:-1], solution[-1]


@torch.no_grad()
def fit_vae_latent_rgb(
    vae: AutoencoderKL,
    scaling_factor: float,
    count: int = FIT_SCENES,
    seed: int = FIT_SEED,
) -> dict[str, list]:
    """atelier.json's "latent_rgb" for `vae`: the map fitted on `count` seeded random scenes.

    The scenes are encoded to their latent modes and multiplied by `scaling_factor`, since
    the previews see latents as the pipeline holds them while denoising. Values are rounded
    to 4 decimals.
    """
    rng = np.random.default_rng(seed)
    device = next(vae.parameters()).device
    dtype = next(vae.parameters()).dtype
    latents, images = [], []
    for start in range(0, count, _BATCH):
        batch = scene_batch(rng, min(_BATCH, count - start))
        mode = vae.encode(batch.to(device, dtype)).latent_dist.mode()
        latents.append(mode.float().cpu() * scaling_factor)
        images.append(batch)
    factors, bias = fit_linear_rgb(torch.cat(latents), torch.cat(images))
    return {
        "factors": [[round(float(v), 4) for v in row] for row in factors],
        "bias": [round(float(v), 4) for v in bias],
    }
