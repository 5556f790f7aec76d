"""Stage 3: train the UNet and the text encoder together on cached latents.

v-prediction on a zero-terminal-SNR schedule, timesteps drawn uniformly, captions
re-worded every time a scene is drawn (never a held-out wording), and one caption in
ten dropped to "" so classifier-free guidance has an unconditional model to push from.
Batches are made by step number (step_batches), in worker processes beside a GPU.
The text encoder also learns a side task (layout_head) that makes it tell place words
apart from the start.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from torch.utils.data import Dataset
from transformers import CLIPTextModel, CLIPTokenizer

from .architecture import LATENT_SIZE, MAX_TOKENS, make_text_encoder, make_unet, training_scheduler
from .captions import Caption, describe, is_held_out
from .latent_cache import training_scenes
from .layout_head import LayoutHead, layout_targets
from .scenes import Scene
from .step_batches import batch_rng, step_loader, worker_count
from .tokenizer import build as build_tokenizer
from .training_state import Ema, cosine_lr, descend, load_state, pace, save_state

CAPTION_DROPOUT = 0.1
PEAK_LR = 6e-4  # at batch 64; larger batches scale it by the square root
LAYOUT_WEIGHT = 0.5


def training_caption(scene: Scene, rng: np.random.Generator) -> Caption:
    """A fresh wording of the scene that is not reserved for evaluation."""
    while True:
        caption = describe(scene, rng)
        if not is_held_out(caption.text):
            return caption


def load_tokenizer(work: Path) -> CLIPTokenizer:
    folder = work / "tokenizer"
    if not (folder / "vocab.json").exists():
        build_tokenizer(folder)
    return CLIPTokenizer.from_pretrained(folder)


def token_ids(tokenizer: CLIPTokenizer, captions: list[str]) -> torch.Tensor:
    return tokenizer(
        captions, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt"
    ).input_ids


class StepBatches(Dataset):
    """Item s: step s's scene picks, caption token ids, layout targets, noise and timesteps."""

    def __init__(self, scenes: list[Scene], tokenizer: CLIPTokenizer, batch: int, seed: int):
        self.scenes, self.tokenizer, self.batch, self.seed = scenes, tokenizer, batch, seed
        self.timesteps = training_scheduler().config.num_train_timesteps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = batch_rng(self.seed, step)
        picks = rng.integers(len(self.scenes), size=self.batch)
        captions = [
            None if rng.random() < CAPTION_DROPOUT else training_caption(self.scenes[i], rng)
            for i in picks
        ]
        texts = [caption.text if caption else "" for caption in captions]
        layouts = [layout_targets(caption.described if caption else None) for caption in captions]
        noise = rng.standard_normal((self.batch, 4, LATENT_SIZE, LATENT_SIZE), dtype=np.float32)
        return {
            "picks": torch.from_numpy(picks),
            "token_ids": token_ids(self.tokenizer, texts),
            "layouts": torch.tensor(layouts),
            "noise": torch.from_numpy(noise),
            "timesteps": torch.from_numpy(rng.integers(self.timesteps, size=self.batch)),
        }


def _models(tokenizer: CLIPTokenizer, device: str, start_from: Path | None):
    """A new UNet and text encoder, or the ones saved in `start_from`."""
    if start_from is not None:
        unet = UNet2DConditionModel.from_pretrained(start_from / "unet", torch_dtype=torch.float32)
        text_encoder = CLIPTextModel.from_pretrained(
            start_from / "text_encoder", torch_dtype=torch.float32
        )
        return unet.to(device), text_encoder.to(device)
    vocab = tokenizer.get_vocab()
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    return make_unet().to(device), make_text_encoder(len(vocab), bos, eos, eos).to(device)


def trained_folder(work: Path, refined: bool) -> Path:
    """Where train_unet saves the EMA UNet and text encoder of the first or refining run."""
    return work / "refined" if refined else work


def train_unet(
    work: Path,
    steps: int,
    batch: int,
    seed: int,
    device: str = "cpu",
    log=print,
    *,
    refine: bool = False,
    peak_lr: float | None = None,
) -> None:
    """Train (or resume) for `steps` steps; saves the EMA UNet and text encoder in
    trained_folder(work, refine). refine: start from the first run's saved weights (the
    side task's head starts afresh): a second run at a larger batch, which is free where
    a step's cost is the GPU's kernel launches. peak_lr: default PEAK_LR scaled to the batch."""
    name, seed = ("refine", seed + 3) if refine else ("unet", seed + 2)
    torch.manual_seed(seed)
    cache = torch.load(work / "latents.pt", weights_only=True)
    latents = cache["latents"].to(device).float() * cache["scale"]
    scenes = training_scenes(cache["seed"], cache["count"])
    tokenizer = load_tokenizer(work)
    unet, text_encoder = _models(tokenizer, device, work if refine else None)
    ema_unet, ema_text = Ema(unet), Ema(text_encoder)
    head = LayoutHead(text_encoder.config.hidden_size).to(device)
    parameters = [*unet.parameters(), *text_encoder.parameters(), *head.parameters()]
    peak_lr = peak_lr or PEAK_LR * (batch / 64) ** 0.5
    optimizer = torch.optim.AdamW(parameters, lr=peak_lr, weight_decay=0.01)
    scheduler = training_scheduler()
    checkpoint = work / ("refine.pt" if refine else "unet.pt")
    start = 0
    state = load_state(checkpoint, device=device)
    if state is not None:
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        head.load_state_dict(state["layout_head"])
        ema_unet.module.load_state_dict(state["ema_unet"])
        ema_text.module.load_state_dict(state["ema_text"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        log(f"{name}: resuming at step {start}/{steps}")
    batches = step_loader(
        StepBatches(scenes, tokenizer, batch, seed), range(start, steps), worker_count(device)
    )
    began, saved, losses = time.monotonic(), time.monotonic(), []
    for step, made in zip(range(start, steps), batches, strict=True):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, peak_lr, 200)
        made = {key: tensor.to(device, non_blocking=True) for key, tensor in made.items()}
        clean, noise, timesteps = latents[made["picks"]], made["noise"], made["timesteps"]
        noisy = scheduler.add_noise(clean, noise, timesteps)
        target = scheduler.get_velocity(clean, noise, timesteps)
        # bf16 on a GPU; fp32 on the CPU, as the CPU recipe was tuned.
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            text = text_encoder(made["token_ids"])[0]
            predicted = unet(noisy, timesteps, text).sample
        layout_loss = head.loss(text.float(), made["layouts"])
        loss = F.mse_loss(predicted.float(), target) + LAYOUT_WEIGHT * layout_loss
        descend(optimizer, loss, parameters)
        ema_unet.update(unet, step)
        ema_text.update(text_encoder, step)
        losses.append(loss.detach())  # read back every 50 steps: a read waits for the GPU
        done = step + 1
        if done % 50 == 0 or done == steps:
            loss_now = torch.stack(losses).mean().item()
            progress = pace(began, start, done, steps)
            log(f"{name} step {done}/{steps} loss {loss_now:.4f}, {progress}")
            losses.clear()
        if time.monotonic() - saved > 120 or done == steps:
            state = {"unet": unet.state_dict(), "text_encoder": text_encoder.state_dict()}
            state |= {"layout_head": head.state_dict()}
            state |= {"ema_unet": ema_unet.module.state_dict()}
            state |= {"ema_text": ema_text.module.state_dict()}
            save_state(checkpoint, state | {"optimizer": optimizer.state_dict(), "step": done})
            saved = time.monotonic()
    ema_unet.module.save_pretrained(trained_folder(work, refine) / "unet")
    ema_text.module.save_pretrained(trained_folder(work, refine) / "text_encoder")
