"""Cheap pictures of latents while denoising: a linear latent-to-RGB map, or TAESD.

The linear factors are the widely used least-squares fits of the SD 1.x and SDXL VAEs'
latent space to RGB; TAESD (a tiny VAE decoder) is used when it is installed under
<home>/models/vae/taesd (SD 1.x) or taesdxl (SDXL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.home import models_dir
from engine.protocol import ImageData

_SD15_FACTORS = np.array(
    [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ],
    dtype=np.float32,
)
_SDXL_FACTORS = np.array(
    [
        [0.3651, 0.4232, 0.4341],
        [-0.2533, -0.0042, 0.1068],
        [0.1076, 0.1111, -0.0362],
        [-0.3165, -0.2492, -0.2188],
    ],
    dtype=np.float32,
)
_SDXL_BIAS = np.array([0.1084, -0.0175, -0.0011], dtype=np.float32)
_TAESD_FOLDERS = {"sd15": "taesd", "sd2": "taesd", "sdxl": "taesdxl"}


def linear_rgb(latents: np.ndarray, family: str) -> np.ndarray:
    """(C, h, w) latents -> (h, w, 4) uint8 RGBA using the family's linear fit."""
    channels = latents.shape[0]
    if family == "sdxl":
        factors, bias = _SDXL_FACTORS, _SDXL_BIAS
    else:
        factors, bias = _SD15_FACTORS, np.zeros(3, np.float32)
    factors = factors[:channels] if channels <= 4 else np.resize(factors, (channels, 3))
    rgb = np.einsum("chw,cr->hwr", latents.astype(np.float32), factors) + bias
    rgb = np.clip((rgb + 1.0) * 127.5, 0, 255).astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def taesd_folder(family: str, home: Path | None = None) -> Path | None:
    """The installed TAESD decoder folder for a family, if any."""
    name = _TAESD_FOLDERS.get(family)
    if name is None:
        return None
    folder = models_dir("vae", home) / name
    return folder if (folder / "config.json").is_file() else None


class LatentPreviewer:
    """Turns a batch of latents into a preview ImageData of the first image."""

    def __init__(self, family: str, device: str = "cpu", home: Path | None = None) -> None:
        self.family = family
        self._taesd: Any = None
        folder = taesd_folder(family, home)
        if folder is not None:
            from diffusers import AutoencoderTiny

            self._taesd = AutoencoderTiny.from_pretrained(folder, local_files_only=True)
            self._taesd.to(device)

    def __call__(self, latents: Any) -> ImageData:
        import torch

        with torch.no_grad():
            first = latents[:1].float()
            if self._taesd is not None:
                image = self._taesd.decode(first.to(self._taesd.dtype)).sample[0]
                rgb = ((image.clamp(-1, 1) + 1) * 127.5).byte().permute(1, 2, 0).cpu().numpy()
                alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
                return ImageData(np.concatenate([rgb, alpha], axis=2), {"preview": "taesd"})
            return ImageData(linear_rgb(first[0].cpu().numpy(), self.family), {"preview": "linear"})
