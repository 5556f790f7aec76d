"""Stages inpaint-latents and inpaint: the inpainting variant of the built-in model.

The variant is the base model's UNet with the 9-channel input of diffusers' inpainting
pipelines (noisy latents, the mask at latent size, the latents of the picture with the
masked part blanked to grey), started from the exported base model: the four old input
channels keep their weights, the five new ones start at zero, so step 0 draws what the
base model draws. The VAE, text encoder and tokenizer are the base model's, unchanged.
Trained on inpaint_samples (a region with a named new shape, or a region to clear) with
the base model's v-prediction loss, the masked part weighted double: outside it the
answer can be copied from the masked picture's latents.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch.utils.data import Dataset
from transformers import CLIPTextModel, CLIPTokenizer

from .architecture import training_scheduler
from .inpaint_samples import CELL, IMAGE_SIZE, InpaintSample, make_sample
from .step_batches import batch_rng, step_loader, worker_count
from .training_state import Ema, cosine_lr, descend, load_state, pace, save_state
from .unet_training import token_ids

INPAINT_CHANNELS = 9
PEAK_LR = 3e-4  # at batch 64; larger batches scale it by the square root
WARMUP = 100
MASK_WEIGHT = 2.0


def samples(seed: int, count: int) -> list[InpaintSample]:
    """The `count` samples behind the cache, drawn from one seeded generator."""
    rng = np.random.default_rng([seed, 7])
    return [make_sample(rng) for _ in range(count)]


def _pixels(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 RGB images as a (n, 3, h, w) float batch in [-1, 1], as the VAE takes them."""
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return stacked / 127.5 - 1


def masked_pixels(sample: InpaintSample) -> np.ndarray:
    """The picture with the masked part grey (0 in the VAE's range), as diffusers'
    inpainting pipelines blank it before encoding."""
    return np.where(sample.mask[..., None], np.uint8(128), sample.before)


def latent_mask(mask: np.ndarray) -> np.ndarray:
    """A mask on whole 8x8 cells at latent size (1 = repaint)."""
    side = IMAGE_SIZE // CELL
    return mask.reshape(side, CELL, side, CELL).any(axis=(1, 3)).astype(np.float16)


@torch.no_grad()
def cache_inpaint_latents(
    base: Path, path: Path, count: int, seed: int, log=print, batch: int = 64
) -> None:
    """Encode every sample's picture after (the target) and its masked picture before (the
    condition) with the base model's VAE, scaled; with the latent masks and captions."""
    vae = AutoencoderKL.from_pretrained(base / "vae", torch_dtype=torch.float32)
    scale = vae.config.scaling_factor
    made = samples(seed, count)
    targets, conditions, began = [], [], time.monotonic()
    for start in range(0, count, batch):
        chunk = made[start : start + batch]
        after = _pixels([s.after for s in chunk])
        masked = _pixels([masked_pixels(s) for s in chunk])
        targets.append((vae.encode(after).latent_dist.mode() * scale).half())
        conditions.append((vae.encode(masked).latent_dist.mode() * scale).half())
        if start // batch % 25 == 0:
            log(f"inpaint latents {start + len(chunk)}/{count}, {time.monotonic() - began:.0f} s")
    torch.save(
        {
            "targets": torch.cat(targets),
            "conditions": torch.cat(conditions),
            "masks": torch.from_numpy(np.stack([latent_mask(s.mask) for s in made])),
            "captions": [s.caption for s in made],
            "seed": seed,
            "count": count,
        },
        path,
    )
    log(f"inpaint latents: {count} cached")


class InpaintBatches(Dataset):
    """Item s: step s's sample picks, caption token ids, noise and timesteps."""

    def __init__(self, captions: list[str], tokenizer: CLIPTokenizer, batch: int, seed: int):
        self.captions, self.tokenizer, self.batch, self.seed = captions, tokenizer, batch, seed
        self.timesteps = training_scheduler().config.num_train_timesteps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = batch_rng(self.seed, step)
        picks = rng.integers(len(self.captions), size=self.batch)
        side = IMAGE_SIZE // 8
        noise = rng.standard_normal((self.batch, 4, side, side), dtype=np.float32)
        return {
            "picks": torch.from_numpy(picks),
            "token_ids": token_ids(self.tokenizer, [self.captions[i] for i in picks]),
            "noise": torch.from_numpy(noise),
            "timesteps": torch.from_numpy(rng.integers(self.timesteps, size=self.batch)),
        }


def widen_input(unet: UNet2DConditionModel) -> UNet2DConditionModel:
    """The same UNet taking 9 input channels: old weights for the first four, zeros for the
    mask and the masked picture's latents (so it starts out drawing as the base did)."""
    old = unet.conv_in
    new = torch.nn.Conv2d(
        INPAINT_CHANNELS, old.out_channels, old.kernel_size, old.stride, old.padding
    )
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=INPAINT_CHANNELS)
    return unet


def train_inpaint(
    base: Path, work: Path, steps: int, batch: int, seed: int, device: str = "cpu", log=print
) -> None:
    """Train (or resume) the inpainting UNet for `steps` steps from the exported base model
    in `base`; saves the EMA UNet in work/inpaint/unet."""
    seed += 11
    torch.manual_seed(seed)
    cache = torch.load(work / "inpaint_latents.pt", weights_only=True)
    targets = cache["targets"].to(device).float()
    conditions = cache["conditions"].to(device).float()
    masks = cache["masks"].to(device).float()[:, None]
    tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder", torch_dtype=torch.float32)
    text_encoder = text_encoder.to(device).eval().requires_grad_(False)
    unet = UNet2DConditionModel.from_pretrained(base / "unet", torch_dtype=torch.float32)
    unet = widen_input(unet).to(device)
    ema = Ema(unet)
    parameters = list(unet.parameters())
    peak_lr = PEAK_LR * (batch / 64) ** 0.5
    optimizer = torch.optim.AdamW(parameters, lr=peak_lr, weight_decay=0.01)
    scheduler = training_scheduler()
    checkpoint = work / "inpaint.pt"
    start = 0
    state = load_state(checkpoint, device=device)
    if state is not None:
        unet.load_state_dict(state["unet"])
        ema.module.load_state_dict(state["ema_unet"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        log(f"inpaint: resuming at step {start}/{steps}")
    batches = step_loader(
        InpaintBatches(cache["captions"], tokenizer, batch, seed),
        range(start, steps),
        worker_count(device),
    )
    began, saved, losses = time.monotonic(), time.monotonic(), []
    for step, made in zip(range(start, steps), batches, strict=True):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, peak_lr, WARMUP)
        made = {key: tensor.to(device, non_blocking=True) for key, tensor in made.items()}
        picks, noise, timesteps = made["picks"], made["noise"], made["timesteps"]
        clean, mask = targets[picks], masks[picks]
        noisy = scheduler.add_noise(clean, noise, timesteps)
        target = scheduler.get_velocity(clean, noise, timesteps)
        with torch.no_grad():
            text = text_encoder(made["token_ids"])[0]
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            inputs = torch.cat([noisy, mask, conditions[picks]], dim=1)
            predicted = unet(inputs, timesteps, text).sample
        weight = 1 + (MASK_WEIGHT - 1) * mask
        loss = (weight * (predicted.float() - target) ** 2).mean()
        descend(optimizer, loss, parameters)
        ema.update(unet, step)
        losses.append(loss.detach())
        done = step + 1
        if done % 50 == 0 or done == steps:
            loss_now = torch.stack(losses).mean().item()
            progress = pace(began, start, done, steps)
            log(f"inpaint step {done}/{steps} loss {loss_now:.4f}, {progress}")
            losses.clear()
        if time.monotonic() - saved > 120 or done == steps:
            state = {"unet": unet.state_dict(), "ema_unet": ema.module.state_dict()}
            save_state(checkpoint, state | {"optimizer": optimizer.state_dict(), "step": done})
            saved = time.monotonic()
    ema.module.save_pretrained(work / "inpaint" / "unet")
