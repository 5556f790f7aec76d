"""Stage 3: train the UNet and the text encoder together on cached latents.

v-prediction on a zero-terminal-SNR schedule, timesteps drawn uniformly, captions
re-worded every time a scene is drawn (never a held-out wording), and one caption in
ten dropped to "" so classifier-free guidance has an unconditional model to push from.
The text encoder also learns a side task (layout_head) that makes it tell place words
apart from the start.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import CLIPTokenizer

from .architecture import MAX_TOKENS, make_text_encoder, make_unet, training_scheduler
from .captions import Caption, describe, is_held_out
from .latent_cache import training_scenes
from .layout_head import LayoutHead, layout_targets
from .scenes import Scene
from .tokenizer import build as build_tokenizer
from .training_state import Ema, cosine_lr, descend, load_state, pace, save_state

CAPTION_DROPOUT = 0.1
PEAK_LR = 6e-4
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


def _models(tokenizer: CLIPTokenizer, device: str):
    vocab = tokenizer.get_vocab()
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    text_encoder = make_text_encoder(len(vocab), bos, eos, eos).to(device)
    return make_unet().to(device), text_encoder


def train_unet(
    work: Path, steps: int, batch: int, seed: int, device: str = "cpu", log=print
) -> None:
    """Train (or resume) for `steps` steps; saves the EMA UNet and text encoder in `work`."""
    torch.manual_seed(seed + 2)
    rng = np.random.default_rng(seed + 2)
    cache = torch.load(work / "latents.pt", weights_only=True)
    latents, scale = cache["latents"], cache["scale"]
    scenes = training_scenes(cache["seed"], cache["count"])
    tokenizer = load_tokenizer(work)
    unet, text_encoder = _models(tokenizer, device)
    ema_unet, ema_text = Ema(unet), Ema(text_encoder)
    head = LayoutHead(text_encoder.config.hidden_size).to(device)
    parameters = [*unet.parameters(), *text_encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=PEAK_LR, weight_decay=0.01)
    scheduler = training_scheduler()
    checkpoint = work / "unet.pt"
    start = 0
    state = load_state(checkpoint, rng, device)
    if state is not None:
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        head.load_state_dict(state["layout_head"])
        ema_unet.module.load_state_dict(state["ema_unet"])
        ema_text.module.load_state_dict(state["ema_text"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        log(f"unet: resuming at step {start}/{steps}")
    began, saved, losses = time.monotonic(), time.monotonic(), []
    for step in range(start, steps):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, PEAK_LR, 200)
        picks = rng.integers(len(scenes), size=batch)
        captions = [
            None if rng.random() < CAPTION_DROPOUT else training_caption(scenes[i], rng)
            for i in picks
        ]
        texts = [caption.text if caption else "" for caption in captions]
        layouts = [layout_targets(caption.described if caption else None) for caption in captions]
        clean = latents[torch.from_numpy(picks)].float().to(device) * scale
        noise = torch.randn_like(clean)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (batch,))
        noisy = scheduler.add_noise(clean, noise, timesteps)
        target = scheduler.get_velocity(clean, noise, timesteps)
        text = text_encoder(token_ids(tokenizer, texts).to(device))[0]
        predicted = unet(noisy, timesteps.to(device), text).sample
        layout_loss = head.loss(text, torch.tensor(layouts, device=device))
        loss = F.mse_loss(predicted, target) + LAYOUT_WEIGHT * layout_loss
        descend(optimizer, loss, parameters)
        ema_unet.update(unet, step)
        ema_text.update(text_encoder, step)
        losses.append(loss.item())
        done = step + 1
        if done % 50 == 0 or done == steps:
            loss_now = np.mean(losses[-50:])
            log(f"unet step {done}/{steps} loss {loss_now:.4f}, {pace(began, start, done, steps)}")
        if time.monotonic() - saved > 120 or done == steps:
            state = {"unet": unet.state_dict(), "text_encoder": text_encoder.state_dict()}
            state |= {"layout_head": head.state_dict()}
            state |= {"ema_unet": ema_unet.module.state_dict()}
            state |= {"ema_text": ema_text.module.state_dict()}
            save_state(checkpoint, state | {"optimizer": optimizer.state_dict(), "step": done}, rng)
            saved = time.monotonic()
    ema_unet.module.save_pretrained(work / "unet")
    ema_text.module.save_pretrained(work / "text_encoder")
