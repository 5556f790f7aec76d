"""Stages control-latents, control and control-binding: the built-in scribble ControlNet.

A ControlNet made with diffusers' `ControlNetModel.from_unet` from the exported base
model's UNet (its encoder copied, its zero convolutions at zero, so step 0 draws what the
base model draws), trained with the base model's v-prediction loss while the UNet, text
encoder and VAE stay frozen. The pictures' latents are cached once; the scribbles are
drawn afresh for every step (a new wobble, thickness and gaps each time the layout comes
back), in the [0, 1] range diffusers' ControlNet pipelines hand the model.

A second run (control-binding) goes on from the first one's weights on layouts that more
often hold two or three shapes, at a lower learning rate: alone, one shape is placed right
almost always, and what fails is giving each of several outlines the colour the caption
binds to its kind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
from torch.utils.data import Dataset
from transformers import CLIPTextModel, CLIPTokenizer

from .architecture import LATENT_SIZE, training_scheduler
from .control_samples import (
    SHAPE_COUNT_WEIGHTS,
    ControlLayout,
    picture,
    random_layout,
    scribble,
    training_caption,
)
from .step_batches import batch_rng, step_loader, worker_count
from .training_state import Ema, cosine_lr, descend, load_state, pace, save_state
from .unet_training import token_ids

WARMUP = 100
EMA_DECAY = 0.995  # a short average: a ControlNet's zero convolutions wake up late


@dataclass(frozen=True)
class ControlRun:
    """One training run of the ControlNet. Its files in the work folder: <name>_latents.pt
    (the cache), <name>.pt (the checkpoint) and <name>/controlnet (the EMA weights)."""

    name: str
    count_weights: tuple[float, ...]  # how likely one, two and three shapes are
    peak_lr: float  # at batch 64; larger batches scale it by the square root
    stream: int  # the layouts' and batches' random stream, apart from the other run's
    start_from: str | None = None  # the run whose EMA weights this one starts from


FIRST = ControlRun("control", SHAPE_COUNT_WEIGHTS, 4e-4, 13)
BINDING = ControlRun("control-binding", (0.2, 0.4, 0.4), 1.5e-4, 14, start_from="control")


def layouts(seed: int, count: int, run: ControlRun) -> list[ControlLayout]:
    """The `count` layouts behind `run`'s cache, drawn from one seeded generator."""
    rng = np.random.default_rng([seed, run.stream])
    return [random_layout(rng, run.count_weights) for _ in range(count)]


def _pixels(images: list[np.ndarray]) -> torch.Tensor:
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return stacked / 127.5 - 1


@torch.no_grad()
def cache_control_latents(
    base: Path, work: Path, run: ControlRun, count: int, seed: int, log=print, batch: int = 64
) -> None:
    """Encode every layout's picture of `run` with the base model's VAE, scaled."""
    vae = AutoencoderKL.from_pretrained(base / "vae", torch_dtype=torch.float32)
    scale = vae.config.scaling_factor
    made = layouts(seed, count, run)
    chunks, began = [], time.monotonic()
    for start in range(0, count, batch):
        pixels = _pixels([picture(layout) for layout in made[start : start + batch]])
        chunks.append((vae.encode(pixels).latent_dist.mode() * scale).half())
        if start // batch % 25 == 0:
            done = start + len(pixels)
            log(f"{run.name} latents {done}/{count}, {time.monotonic() - began:.0f} s")
    cache = {"targets": torch.cat(chunks), "seed": seed, "count": count}
    torch.save(cache, work / f"{run.name}_latents.pt")
    log(f"{run.name} latents: {count} cached")


class ControlBatches(Dataset):
    """Item s: step s's layout picks, their scribbles, caption token ids, noise, timesteps."""

    def __init__(
        self, made: list[ControlLayout], tokenizer: CLIPTokenizer, batch: int, seed: int
    ) -> None:
        self.layouts, self.tokenizer, self.batch, self.seed = made, tokenizer, batch, seed
        self.timesteps = training_scheduler().config.num_train_timesteps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = batch_rng(self.seed, step)
        picks = rng.integers(len(self.layouts), size=self.batch)
        chosen = [self.layouts[i] for i in picks]
        scribbles = np.stack([scribble(layout, rng) for layout in chosen])
        captions = [training_caption(layout, rng) for layout in chosen]
        noise = rng.standard_normal((self.batch, 4, LATENT_SIZE, LATENT_SIZE), dtype=np.float32)
        return {
            "picks": torch.from_numpy(picks),
            "scribbles": torch.from_numpy(scribbles).permute(0, 3, 1, 2).float() / 255,
            "token_ids": token_ids(self.tokenizer, captions),
            "noise": torch.from_numpy(noise),
            "timesteps": torch.from_numpy(rng.integers(self.timesteps, size=self.batch)),
        }


def _frozen(module: torch.nn.Module, device: str) -> torch.nn.Module:
    return module.to(device).eval().requires_grad_(False)


def _start(run: ControlRun, unet: UNet2DConditionModel, work: Path) -> ControlNetModel:
    """The ControlNet `run` starts from: the weights of the run it goes on from, else a
    copy of the base UNet's encoder."""
    if run.start_from is None:
        return ControlNetModel.from_unet(unet)
    folder = work / run.start_from / "controlnet"
    return ControlNetModel.from_pretrained(folder, torch_dtype=torch.float32)


def train_control(
    base: Path,
    work: Path,
    run: ControlRun,
    steps: int,
    batch: int,
    seed: int,
    device: str = "cpu",
    log=print,
) -> None:
    """Train (or resume) `run` of the scribble ControlNet for `steps` steps against the
    exported base model in `base`; saves the EMA ControlNet in work/<run.name>/controlnet."""
    cache = torch.load(work / f"{run.name}_latents.pt", weights_only=True)
    seed += run.stream + 4  # the first run's batches keep the seed they had (seed + 17)
    torch.manual_seed(seed)
    targets = cache["targets"].to(device).float()
    made = layouts(cache["seed"], cache["count"], run)
    tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder", torch_dtype=torch.float32)
    text_encoder = _frozen(text_encoder, device)
    unet = UNet2DConditionModel.from_pretrained(base / "unet", torch_dtype=torch.float32)
    controlnet = _start(run, unet, work).to(device)
    unet = _frozen(unet, device)
    ema = Ema(controlnet, decay=EMA_DECAY)
    parameters = list(controlnet.parameters())
    peak_lr = run.peak_lr * (batch / 64) ** 0.5
    optimizer = torch.optim.AdamW(parameters, lr=peak_lr, weight_decay=0.01)
    scheduler = training_scheduler()
    checkpoint = work / f"{run.name}.pt"
    start = 0
    state = load_state(checkpoint, device=device)
    if state is not None:
        controlnet.load_state_dict(state["controlnet"])
        ema.module.load_state_dict(state["ema_controlnet"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        log(f"{run.name}: resuming at step {start}/{steps}")
    batches = step_loader(
        ControlBatches(made, tokenizer, batch, seed), range(start, steps), worker_count(device)
    )
    began, saved, losses = time.monotonic(), time.monotonic(), []
    for step, items in zip(range(start, steps), batches, strict=True):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, peak_lr, WARMUP)
        items = {key: tensor.to(device, non_blocking=True) for key, tensor in items.items()}
        clean, noise, timesteps = targets[items["picks"]], items["noise"], items["timesteps"]
        noisy = scheduler.add_noise(clean, noise, timesteps)
        target = scheduler.get_velocity(clean, noise, timesteps)
        with torch.no_grad():
            text = text_encoder(items["token_ids"])[0]
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            down, middle = controlnet(
                noisy, timesteps, text, controlnet_cond=items["scribbles"], return_dict=False
            )
            predicted = unet(
                noisy,
                timesteps,
                text,
                down_block_additional_residuals=down,
                mid_block_additional_residual=middle,
            ).sample
        loss = ((predicted.float() - target) ** 2).mean()
        descend(optimizer, loss, parameters)
        ema.update(controlnet, step)
        losses.append(loss.detach())
        done = step + 1
        if done % 50 == 0 or done == steps:
            loss_now = torch.stack(losses).mean().item()
            progress = pace(began, start, done, steps)
            log(f"{run.name} step {done}/{steps} loss {loss_now:.4f}, {progress}")
            losses.clear()
        if time.monotonic() - saved > 120 or done == steps:
            state = {"controlnet": controlnet.state_dict()}
            state |= {"ema_controlnet": ema.module.state_dict()}
            save_state(checkpoint, state | {"optimizer": optimizer.state_dict(), "step": done})
            saved = time.monotonic()
    ema.module.save_pretrained(work / run.name / "controlnet")
