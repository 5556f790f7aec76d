"""Stage music-codec: the built-in music model's EnCodec codec, trained from nothing.

transformers' `EncodecModel` only runs a trained codec, so the training loop is here: the
encoder's frames go through a residual vector quantizer of four codebooks whose entries
follow exponential moving averages of the frames assigned to them (EnCodec's own rule,
with unused entries restarted from random frames), the decoder learns from the quantized
frames (straight-through), and the loss is the waveform's L1 plus log-magnitude
spectrogram L1 at three resolutions plus the encoder's commitment to its codes. The
codebooks are written into the model's own buffers, so `encode`/`decode` use them.
Crops are cut from a bank of rendered pieces, drawn once and kept in the work folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import EncodecModel

from .music_architecture import CODEBOOKS, MusicSizes, build_codec
from .music_pieces import RATE, Piece, random_piece, render
from .training_state import cosine_lr, descend, load_state, pace, save_state

PIECE_S = 10.0
EMA_DECAY = 0.99
COMMITMENT = 0.25
RESTART_BELOW = 0.005  # an entry whose EMA count falls below this restarts
PEAK_LR = 1e-3
WARMUP = 100


def render_bank(path: Path, count: int, seed: int, log=print) -> np.ndarray:
    """`count` rendered pieces of PIECE_S seconds, float16 (count, N), cached at `path`."""
    if path.exists():
        return np.load(path)
    bank = np.stack([render(p, PIECE_S).astype(np.float16) for p in training_pieces(seed, count)])
    temporary = path.with_suffix(".tmp.npy")
    np.save(temporary, bank)
    temporary.replace(path)
    log(f"music bank: {count} pieces of {PIECE_S:.0f} s rendered")
    return bank


def training_pieces(seed: int, count: int) -> list[Piece]:
    """The pieces of the bank, drawn from one seeded generator."""
    rng = np.random.default_rng([seed, 41])
    return [random_piece(rng) for _ in range(count)]


class ResidualQuantizer:
    """EMA codebooks over the codec's quantizer buffers (one per codebook)."""

    def __init__(self, codec: EncodecModel) -> None:
        self.books = [layer.codebook for layer in codec.quantizer.layers[:CODEBOOKS]]

    @torch.no_grad()
    def start(self, frames: torch.Tensor) -> None:
        """Seed every codebook with random frames' residuals (k-means' usual start)."""
        residual = frames
        for book in self.books:
            pick = torch.randint(len(residual), (book.embed.shape[0],))
            book.embed.copy_(residual[pick])
            book.embed_avg.copy_(residual[pick])
            book.cluster_size.fill_(1.0)
            book.inited.fill_(True)
            residual = residual - book.embed[_nearest(residual, book.embed)]

    def __call__(self, frames: torch.Tensor, learn: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantized frames (straight-through) and the commitment loss; `frames` (M, D)."""
        residual, total = frames, torch.zeros_like(frames)
        for book in self.books:
            index = _nearest(residual.detach(), book.embed)
            chosen = book.embed[index]
            if learn:
                self._update(book, residual.detach(), index)
            total = total + chosen
            residual = residual - chosen
        commitment = F.mse_loss(frames, total.detach())
        return frames + (total - frames).detach(), commitment

    @torch.no_grad()
    def _update(self, book, residual: torch.Tensor, index: torch.Tensor) -> None:
        size = book.embed.shape[0]
        counts = torch.bincount(index, minlength=size).float()
        sums = torch.zeros_like(book.embed).index_add_(0, index, residual)
        book.cluster_size.mul_(EMA_DECAY).add_(counts, alpha=1 - EMA_DECAY)
        book.embed_avg.mul_(EMA_DECAY).add_(sums, alpha=1 - EMA_DECAY)
        n = book.cluster_size.sum()
        smoothed = (book.cluster_size + 1e-5) / (n + size * 1e-5) * n
        book.embed.copy_(book.embed_avg / smoothed.unsqueeze(1))
        dead = book.cluster_size < RESTART_BELOW
        if dead.any():
            pick = torch.randint(len(residual), (int(dead.sum()),))
            book.embed[dead] = residual[pick]
            book.embed_avg[dead] = residual[pick]
            book.cluster_size[dead] = 1.0


def _nearest(frames: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    distance = frames.pow(2).sum(1, keepdim=True) - 2 * frames @ embed.T + embed.pow(2).sum(1)[None]
    return distance.argmin(1)


def spectral_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Log-magnitude L1 at three STFT sizes."""
    loss = torch.zeros((), device=output.device)
    for size in (256, 512, 1024):
        window = torch.hann_window(size, device=output.device)
        spectra = [
            torch.stft(x, size, size // 4, window=window, return_complex=True).abs()
            for x in (output, target)
        ]
        loss = loss + F.l1_loss(torch.log(spectra[0] + 1e-5), torch.log(spectra[1] + 1e-5))
    return loss / 3


def codec_loss(
    codec: EncodecModel, quantizer: ResidualQuantizer, audio: torch.Tensor, learn: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, output) for a batch of audio (B, 1, N)."""
    frames = codec.encoder(audio)  # (B, D, T)
    flat = frames.transpose(1, 2).reshape(-1, frames.shape[1])
    quantized, commitment = quantizer(flat, learn)
    quantized = quantized.reshape(frames.shape[0], -1, frames.shape[1]).transpose(1, 2)
    output = codec.decoder(quantized)[..., : audio.shape[-1]]
    wave = F.l1_loss(output, audio)
    spectral = spectral_loss(output[:, 0], audio[:, 0])
    return wave + spectral + COMMITMENT * commitment, output


def _crops(bank: np.ndarray, batch: int, samples: int, rng: np.random.Generator):
    rows = rng.integers(len(bank), size=batch)
    starts = rng.integers(bank.shape[1] - samples, size=batch)
    crops = np.stack([bank[r, s : s + samples] for r, s in zip(rows, starts, strict=True)])
    return torch.from_numpy(crops.astype(np.float32)).unsqueeze(1)


def train_codec(
    work: Path,
    sizes: MusicSizes,
    pieces: int,
    steps: int,
    batch: int,
    crop_s: float,
    seed: int,
    device: str,
    log=print,
) -> Path:
    """Train (or resume) the codec; the finished codec's folder under `work`."""
    out = work / "music_codec"
    if (out / "config.json").exists():
        log("music codec: already trained")
        return out
    bank = render_bank(work / "music_bank.npy", pieces, seed, log)
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 43])
    codec = build_codec(sizes).to(device)
    quantizer = ResidualQuantizer(codec)
    optimizer = torch.optim.AdamW(codec.parameters(), lr=PEAK_LR, betas=(0.8, 0.99))
    samples = round(crop_s * RATE)
    state_path, step = work / "music_codec.pt", 0
    state = load_state(state_path, rng, device)
    if state is not None:
        codec.load_state_dict(state["codec"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log(f"music codec: resuming at step {step}")
    else:
        with torch.no_grad():
            first = codec.encoder(_crops(bank, 64, samples, rng).to(device))
            quantizer.start(first.transpose(1, 2).reshape(-1, first.shape[1]))
    began, start, saved = time.monotonic(), step, time.monotonic()
    while step < steps:
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, PEAK_LR, WARMUP)
        loss, _ = codec_loss(codec, quantizer, _crops(bank, batch, samples, rng).to(device), True)
        descend(optimizer, loss, codec.parameters())
        step += 1
        if step % 50 == 0 or step == steps:
            log(
                f"music codec {step}/{steps} loss {loss.item():.3f}, "
                + pace(began, start, step, steps)
            )
        if time.monotonic() - saved > 120 or step == steps:
            save_state(
                state_path,
                {"codec": codec.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                rng,
            )
            saved = time.monotonic()
    codec.save_pretrained(out)
    log(f"music codec: saved to {out}")
    return out
