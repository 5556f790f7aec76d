"""Stage 2: encode a fixed, seeded set of scenes once, so the UNet trains on latents only."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL

from .scenes import Scene, random_scene
from .vae_training import render_batch


def training_scenes(seed: int, count: int) -> list[Scene]:
    """The scenes behind the cached latents, regenerated from the seed (cheap: no drawing)."""
    rng = np.random.default_rng(seed + 1)
    return [random_scene(rng) for _ in range(count)]


@torch.no_grad()
def cache_latents(
    vae: AutoencoderKL, path: Path, count: int, seed: int, log=print, batch: int = 64
) -> None:
    """Write the scenes' latent means (fp16) and the scaling factor that gives them unit std."""
    scenes = training_scenes(seed, count)
    device = next(vae.parameters()).device
    chunks, began = [], time.monotonic()
    for start in range(0, count, batch):
        images = render_batch(scenes[start : start + batch]).to(device)
        chunks.append(vae.encode(images).latent_dist.mode().half().cpu())
        if (start // batch) % 50 == 0:
            log(f"latents {start + len(images)}/{count}, {time.monotonic() - began:.0f} s")
    latents = torch.cat(chunks)
    scale = float(1 / latents.float().std())
    torch.save({"latents": latents, "scale": scale, "seed": seed, "count": count}, path)
    log(f"latents: {count} cached, scaling factor {scale:.4f}")
