"""Stage 2: encode a fixed, seeded set of scenes once, so the UNet trains on latents only."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from torch.utils.data import Dataset

from .scenes import Scene, random_scene
from .step_batches import step_loader, worker_count
from .vae_training import render_batch


def training_scenes(seed: int, count: int) -> list[Scene]:
    """The scenes behind the cached latents, regenerated from the seed (cheap: no drawing)."""
    rng = np.random.default_rng(seed + 1)
    return [random_scene(rng) for _ in range(count)]


class _Drawn(Dataset):
    """Item i: the i-th run of `size` scenes, drawn."""

    def __init__(self, scenes: list[Scene], size: int) -> None:
        self.scenes, self.size = scenes, size

    def __len__(self) -> int:
        return -(-len(self.scenes) // self.size)

    def __getitem__(self, index: int) -> torch.Tensor:
        return render_batch(self.scenes[index * self.size : (index + 1) * self.size])


@torch.no_grad()
def cache_latents(
    vae: AutoencoderKL, path: Path, count: int, seed: int, log=print, batch: int = 64
) -> None:
    """Write the scenes' latent means (fp16) and the scaling factor that gives them unit std."""
    drawn = _Drawn(training_scenes(seed, count), batch)
    device = next(vae.parameters()).device
    chunks, began = [], time.monotonic()
    loader = step_loader(drawn, range(len(drawn)), worker_count(device.type))
    for index, images in enumerate(loader):
        chunks.append(vae.encode(images.to(device)).latent_dist.mode().half().cpu())
        if index % 50 == 0:
            done = index * batch + len(images)
            log(f"latents {done}/{count}, {time.monotonic() - began:.0f} s")
    latents = torch.cat(chunks)
    scale = float(1 / latents.float().std())
    torch.save({"latents": latents, "scale": scale, "seed": seed, "count": count}, path)
    log(f"latents: {count} cached, scaling factor {scale:.4f}")
