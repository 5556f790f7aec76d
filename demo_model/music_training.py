"""Stages music-tokens and music: the built-in music model's text encoder and decoder.

music-tokens encodes every rendered piece of the codec's bank into its four codebooks'
codes once (and builds the caption tokenizer); music trains a MusicGen of random
weights around the frozen codec: each step takes a window of each piece's codes, lays
the codebooks out with MusicGen's delay pattern (codebook k shifted k frames), and learns
to predict them from the caption, written afresh each step. One caption in ten is
dropped (zero text states, nothing attended), as `generate` does for the unconditional
half of classifier-free guidance. The weights kept are an EMA of the trained ones.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import EncodecModel, MusicgenForConditionalGeneration, T5TokenizerFast

from .music_architecture import CODEBOOK_SIZE, MusicSizes, build_model
from .music_captions import caption
from .music_codec_training import PIECE_S, render_bank, training_pieces
from .music_pieces import Piece
from .music_tokenizer import build_tokenizer
from .training_state import Ema, cosine_lr, descend, load_state, pace, save_state

PEAK_LR = 1e-3
WARMUP = 100
EMA_DECAY = 0.995
DROP_CAPTION = 0.1
TOKENIZER_CAPTIONS = 20000


@torch.no_grad()
def cache_tokens(work: Path, pieces: int, seed: int, log=print, batch: int = 16) -> None:
    """Codes of every bank piece (pieces, CODEBOOKS, frames) int16, and the tokenizer."""
    path = work / "music_tokens.pt"
    if path.exists():
        return
    codec = EncodecModel.from_pretrained(work / "music_codec").eval()
    bank = render_bank(work / "music_bank.npy", pieces, seed, log)[:pieces]
    chunks, began = [], time.monotonic()
    bandwidth = codec.config.target_bandwidths[-1]
    for start in range(0, len(bank), batch):
        audio = torch.from_numpy(bank[start : start + batch].astype(np.float32)).unsqueeze(1)
        codes = codec.encode(audio, bandwidth=bandwidth).audio_codes[0]
        chunks.append(codes.to(torch.int16))
        if start // batch % 20 == 0:
            log(f"music tokens {start + len(audio)}/{len(bank)}, {time.monotonic() - began:.0f} s")
    rng = np.random.default_rng([seed, 47])
    texts = [
        caption(piece, rng) for piece in _cycle(training_pieces(seed, pieces), TOKENIZER_CAPTIONS)
    ]
    build_tokenizer(texts).save_pretrained(work / "music_tokenizer")
    torch.save({"codes": torch.cat(chunks), "seed": seed}, path)
    log(f"music tokens: {len(bank)} pieces cached")


def _cycle(pieces: list[Piece], count: int) -> list[Piece]:
    return [pieces[i % len(pieces)] for i in range(count)]


def delayed(codes: torch.Tensor) -> torch.Tensor:
    """MusicGen's delay pattern: (B, K, T) codes -> (B, K, T + K - 1), codebook k shifted
    right by k frames, the gaps holding the pad token."""
    batch, books, frames = codes.shape
    size = (batch, books, frames + books - 1)
    out = torch.full(size, CODEBOOK_SIZE, dtype=torch.long, device=codes.device)
    for k in range(books):
        out[:, k, k : k + frames] = codes[:, k]
    return out


def music_loss(
    model: MusicgenForConditionalGeneration,
    tokenizer: T5TokenizerFast,
    codes: torch.Tensor,
    captions: list[str],
    drop: torch.Tensor,
) -> torch.Tensor:
    """Cross-entropy of the delayed codes given the captions (rows in `drop` unconditioned)."""
    text = tokenizer(captions, return_tensors="pt", padding=True).to(codes.device)
    mask = text.attention_mask * (~drop).long().unsqueeze(1)
    states = model.text_encoder(input_ids=text.input_ids, attention_mask=text.attention_mask)
    states = states.last_hidden_state * (~drop).float()[:, None, None]
    targets = delayed(codes)
    start = torch.full_like(targets[..., :1], CODEBOOK_SIZE)
    inputs = torch.cat([start, targets[..., :-1]], dim=-1)
    logits = model(
        encoder_outputs=(states,),
        attention_mask=mask,
        decoder_input_ids=inputs.reshape(-1, inputs.shape[-1]),
    ).logits  # (B * K, T, V)
    labels = targets.masked_fill(targets == CODEBOOK_SIZE, -100)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
    )


def train_music(
    work: Path,
    sizes: MusicSizes,
    pieces: int,
    steps: int,
    batch: int,
    window_s: float,
    seed: int,
    device: str,
    log=print,
) -> Path:
    """Train (or resume) the text encoder and decoder; the finished model's folder."""
    out = work / "music_model"
    if (out / "config.json").exists():
        log("music model: already trained")
        return out
    codes = torch.load(work / "music_tokens.pt", weights_only=True)["codes"].long()
    tokenizer = T5TokenizerFast.from_pretrained(work / "music_tokenizer")
    codec = EncodecModel.from_pretrained(work / "music_codec")
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 53])
    model = build_model(sizes, len(tokenizer), codec).to(device)
    model.audio_encoder.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=PEAK_LR, weight_decay=0.01)
    ema = Ema(model, EMA_DECAY)
    table = training_pieces(seed, pieces)
    frames = round(window_s * codes.shape[-1] / PIECE_S)
    state_path, step = work / "music_model.pt", 0
    state = load_state(state_path, rng, device)
    if state is not None:
        model.load_state_dict(state["model"])
        ema.module.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log(f"music model: resuming at step {step}")
    began, start, saved = time.monotonic(), step, time.monotonic()
    while step < steps:
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, PEAK_LR, WARMUP)
        rows = rng.integers(len(table), size=batch)
        offsets = rng.integers(codes.shape[-1] - frames + 1, size=batch)
        window = torch.stack(
            [codes[r, :, o : o + frames] for r, o in zip(rows, offsets, strict=True)]
        )
        captions = [caption(table[r], rng) for r in rows]
        drop = torch.from_numpy(rng.random(batch) < DROP_CAPTION)
        loss = music_loss(model, tokenizer, window.to(device), captions, drop.to(device))
        if not torch.isfinite(loss):
            raise RuntimeError(f"music model: the loss is {loss.item()} at step {step}")
        descend(optimizer, loss, trained)
        ema.update(model, step)
        step += 1
        if step % 25 == 0 or step == steps:
            log(
                f"music model {step}/{steps} loss {loss.item():.3f}, "
                + pace(began, start, step, steps)
            )
        if time.monotonic() - saved > 120 or step == steps:
            state = {
                "model": model.state_dict(),
                "ema": ema.module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
            }
            save_state(state_path, state, rng)
            saved = time.monotonic()
    ema.module.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log(f"music model: saved to {out}")
    return out
