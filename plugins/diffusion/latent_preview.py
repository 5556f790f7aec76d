"""Cheap pictures of latents while denoising: a linear latent-to-RGB map, or TAESD.

A model whose atelier.json declares its own linear map ("latent_rgb", fitted to its own
VAE) is previewed with that map, always: TAESD and the family's factors are fits of the
family's standard VAE, wrong for a model with a VAE of its own. Otherwise TAESD (a tiny
VAE decoder) is used when it is installed under <home>/models/vae/taesd (SD 1.x) or
taesdxl (SDXL), else the widely used least-squares fits of the SD 1.x and SDXL VAEs'
latent space to RGB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.home import models_dir
from engine.model_settings import LatentRgb
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


def fits(own: LatentRgb | None, channels: int) -> bool:
    """Whether a model's own map `own` is there and has one row per latent channel."""
    return own is not None and len(own.factors) == channels


def linear_rgb(latents: np.ndarray, family: str, own: LatentRgb | None = None) -> np.ndarray:
    """(C, h, w) latents -> (h, w, 4) uint8 RGBA using the model's own linear map `own` when
    it has one row per channel, else the family's linear fit."""
    channels = latents.shape[0]
    if fits(own, channels):
        factors = np.array(own.factors, dtype=np.float32)
        bias = np.array(own.bias, dtype=np.float32)
    else:
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
    """Turns a batch of latents into a preview ImageData of the first image.

    `latent_rgb` is the model's own linear map (ModelSettings.latent_rgb): given, it is
    used instead of TAESD and the family's factors."""

    def __init__(
        self,
        family: str,
        device: str = "cpu",
        home: Path | None = None,
        latent_rgb: LatentRgb | None = None,
    ) -> None:
        self.family = family
        self.latent_rgb = latent_rgb
        self._taesd: Any = None
        folder = None if latent_rgb is not None else taesd_folder(family, home)
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
            rgba = linear_rgb(first[0].cpu().numpy(), self.family, self.latent_rgb)
            own = fits(self.latent_rgb, first.shape[1])
            return ImageData(rgba, {"preview": "model" if own else "linear"})
