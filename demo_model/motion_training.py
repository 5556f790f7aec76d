"""Stages motion-latents and motion: the built-in motion adapter (AnimateDiff).

A diffusers `MotionAdapter` with the base model's channels, put into the exported base
model's UNet with `UNetMotionModel.from_unet2d` (its temporal attention's output starts at
zero, so step 0 draws what the base model draws, frame by frame) and trained with the
base model's v-prediction loss while the UNet, text encoder and VAE stay frozen. Every
clip's frames are encoded once; each step plays a clip forwards or backwards (a reversed
clip is another true clip: moving right becomes moving left) and words its caption
afresh, never with a held-out wording.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, MotionAdapter, UNet2DConditionModel, UNetMotionModel
from torch.utils.data import Dataset
from transformers import CLIPTextModel, CLIPTokenizer

from .architecture import LATENT_SIZE, training_scheduler
from .captions import is_held_out
from .motion_clips import FRAMES, MotionClip, describe_clip, random_clip, render_clip, reversed_clip
from .step_batches import batch_rng, step_loader, worker_count
from .training_state import Ema, cosine_lr, descend, load_state, pace, save_state
from .unet_training import token_ids

PEAK_LR = 5e-4  # at batch 8; other batches scale it by the square root
WARMUP = 100
EMA_DECAY = 0.995


def make_adapter(block_out_channels: tuple[int, ...]) -> MotionAdapter:
    """A motion adapter for a UNet with these channels: two temporal layers per block as
    AnimateDiff's, a mid-block one, four heads, positions for up to 32 frames."""
    return MotionAdapter(
        block_out_channels=tuple(block_out_channels),
        motion_layers_per_block=2,
        motion_mid_block_layers_per_block=1,
        motion_num_attention_heads=4,
        motion_norm_num_groups=16,
        motion_max_seq_length=32,
        use_motion_mid_block=True,
    )


def training_clips(seed: int, count: int) -> list[MotionClip]:
    """The `count` clips behind the cache, drawn from one seeded generator."""
    rng = np.random.default_rng([seed, 31])
    return [random_clip(rng) for _ in range(count)]


@torch.no_grad()
def cache_motion_latents(
    base: Path, path: Path, count: int, seed: int, log=print, batch: int = 8
) -> None:
    """Encode every clip's frames with the base model's VAE, scaled: (clips, 4, frames,
    h, w) float16, the layout a motion UNet takes."""
    vae = AutoencoderKL.from_pretrained(base / "vae", torch_dtype=torch.float32)
    scale = vae.config.scaling_factor
    clips = training_clips(seed, count)
    chunks, began = [], time.monotonic()
    for start in range(0, count, batch):
        frames = np.concatenate([render_clip(clip) for clip in clips[start : start + batch]])
        pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
        latents = vae.encode(pixels).latent_dist.mode() * scale
        latents = latents.reshape(-1, FRAMES, *latents.shape[1:]).permute(0, 2, 1, 3, 4)
        chunks.append(latents.half())
        if start // batch % 25 == 0:
            done, seconds = start + len(chunks[-1]), time.monotonic() - began
            log(f"motion latents {done}/{count}, {seconds:.0f} s")
    torch.save({"targets": torch.cat(chunks), "seed": seed, "count": count}, path)
    log(f"motion latents: {count} clips cached")


def training_caption(clip: MotionClip, rng: np.random.Generator) -> str:
    """A wording of the clip that is not held out for evaluation."""
    while True:
        text = describe_clip(clip, rng)
        if not is_held_out(text):
            return text


class MotionBatches(Dataset):
    """Item s: step s's clip picks, which play backwards, their captions' token ids,
    noise and timesteps."""

    def __init__(
        self, clips: list[MotionClip], tokenizer: CLIPTokenizer, batch: int, seed: int
    ) -> None:
        self.clips, self.tokenizer, self.batch, self.seed = clips, tokenizer, batch, seed
        self.timesteps = training_scheduler().config.num_train_timesteps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = batch_rng(self.seed, step)
        picks = rng.integers(len(self.clips), size=self.batch)
        backwards = rng.random(self.batch) < 0.5
        shown = [
            reversed_clip(self.clips[i]) if back else self.clips[i]
            for i, back in zip(picks, backwards, strict=True)
        ]
        captions = [training_caption(clip, rng) for clip in shown]
        shape = (self.batch, 4, FRAMES, LATENT_SIZE, LATENT_SIZE)
        return {
            "picks": torch.from_numpy(picks),
            "backwards": torch.from_numpy(backwards),
            "token_ids": token_ids(self.tokenizer, captions),
            "noise": torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)),
            "timesteps": torch.from_numpy(rng.integers(self.timesteps, size=self.batch)),
        }


def motion_unet(base: Path, device: str) -> UNetMotionModel:
    """The base model's UNet with a new motion adapter in it, its own weights frozen."""
    unet = UNet2DConditionModel.from_pretrained(base / "unet", torch_dtype=torch.float32)
    model = UNetMotionModel.from_unet2d(unet, make_adapter(unet.config.block_out_channels))
    model.freeze_unet2d_params()
    return model.to(device)


def _played(targets: torch.Tensor, picks: torch.Tensor, backwards: torch.Tensor) -> torch.Tensor:
    clean = targets[picks]
    return torch.where(backwards[:, None, None, None, None], clean.flip(2), clean)


def train_motion(
    base: Path, work: Path, steps: int, batch: int, seed: int, device: str = "cpu", log=print
) -> None:
    """Train (or resume) the motion adapter for `steps` steps against the exported base
    model in `base`; saves the EMA adapter in work/motion/adapter."""
    seed += 23
    torch.manual_seed(seed)
    cache = torch.load(work / "motion_latents.pt", weights_only=True)
    targets = cache["targets"].to(device).float()
    clips = training_clips(cache["seed"], cache["count"])
    tokenizer = CLIPTokenizer.from_pretrained(base / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder", torch_dtype=torch.float32)
    text_encoder = text_encoder.to(device).eval().requires_grad_(False)
    model = motion_unet(base, device)
    ema = Ema(model, decay=EMA_DECAY)
    parameters = [p for p in model.parameters() if p.requires_grad]
    peak_lr = PEAK_LR * (batch / 8) ** 0.5
    optimizer = torch.optim.AdamW(parameters, lr=peak_lr, weight_decay=0.01)
    scheduler = training_scheduler()
    checkpoint = work / "motion.pt"
    start = 0
    state = load_state(checkpoint, device=device)
    if state is not None:
        model.load_state_dict(state["model"])
        ema.module.load_state_dict(state["ema_model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        log(f"motion: resuming at step {start}/{steps}")
    batches = step_loader(
        MotionBatches(clips, tokenizer, batch, seed), range(start, steps), worker_count(device)
    )
    began, saved, losses = time.monotonic(), time.monotonic(), []
    for step, items in zip(range(start, steps), batches, strict=True):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, peak_lr, WARMUP)
        items = {key: tensor.to(device, non_blocking=True) for key, tensor in items.items()}
        clean = _played(targets, items["picks"], items["backwards"])
        noise, timesteps = items["noise"], items["timesteps"]
        shape = (batch, 1, 1, 1, 1)
        alphas = scheduler.alphas_cumprod.to(device)[timesteps].reshape(shape)
        noisy = alphas.sqrt() * clean + (1 - alphas).sqrt() * noise
        target = alphas.sqrt() * noise - (1 - alphas).sqrt() * clean
        with torch.no_grad():
            text = text_encoder(items["token_ids"])[0].repeat_interleave(FRAMES, dim=0)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            predicted = model(noisy, timesteps, text).sample
        loss = ((predicted.float() - target) ** 2).mean()
        descend(optimizer, loss, parameters)
        ema.update(model, step)
        losses.append(loss.detach())
        done = step + 1
        if done % 25 == 0 or done == steps:
            loss_now = torch.stack(losses).mean().item()
            progress = pace(began, start, done, steps)
            log(f"motion step {done}/{steps} loss {loss_now:.4f}, {progress}")
            losses.clear()
        if time.monotonic() - saved > 120 or done == steps:
            state = {"model": model.state_dict(), "ema_model": ema.module.state_dict()}
            save_state(checkpoint, state | {"optimizer": optimizer.state_dict(), "step": done})
            saved = time.monotonic()
    ema.module.save_motion_modules(str(work / "motion" / "adapter"), safe_serialization=True)
