"""What a training run learns from, encoded once: each photo's latent and its caption's
text embedding (and the class pictures' for prior preservation), cached in the run folder
and reused when the run resumes; and the order batches are drawn in, fixed by the seed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass
class Example:
    """One encoded picture: its latent (4, h/8, w/8) and its caption's embeddings."""

    latent: torch.Tensor
    embeds: torch.Tensor  # (tokens, width)
    pooled: torch.Tensor | None  # SDXL's pooled text embedding

    @property
    def size(self) -> tuple[int, int]:
        """The latent's (height, width): examples of one size share a batch."""
        return tuple(self.latent.shape[-2:])  # type: ignore[return-value]


def encode_prompt(pipe: Any, text: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The conditioning of `text` as the pipeline makes it: (embeddings, pooled or None)."""
    with torch.no_grad():
        encoded = pipe.encode_prompt(
            prompt=text,
            device=pipe.device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
        )
    pooled = encoded[2] if len(encoded) == 4 else None
    return encoded[0][0].float().cpu(), None if pooled is None else pooled[0].float().cpu()


def encode_latent(vae: Any, pixels: np.ndarray) -> torch.Tensor:
    """The VAE latent (mean, scaled) of an (h, w, 3) uint8 picture."""
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    with torch.no_grad():
        latent = vae.encode(x.to(vae.device, vae.dtype)).latent_dist.mean
    return (latent[0] * vae.config.scaling_factor).float().cpu()


@contextlib.contextmanager
def vae_for_encoding(vae: Any) -> Iterator[Any]:
    """The VAE in float32 while encoding when its config asks for that (SDXL's overflows in
    float16), its own precision given back after: the model cache shares it with every job."""
    dtype = vae.dtype
    upcast = getattr(vae.config, "force_upcast", False) and dtype != torch.float32
    if upcast:
        vae.to(torch.float32)
    try:
        yield vae
    finally:
        if upcast:
            vae.to(dtype)


def encode_examples(
    pipe: Any,
    pictures: Sequence[tuple[np.ndarray, str]],
    check: Callable[[int], None],
) -> list[Example]:
    """Encode each (pixels, caption); `check(i)` runs before each (progress, cancel)."""
    examples = []
    with vae_for_encoding(pipe.vae) as vae:
        for i, (pixels, caption) in enumerate(pictures):
            check(i)
            embeds, pooled = encode_prompt(pipe, caption)
            examples.append(Example(encode_latent(vae, pixels), embeds, pooled))
    return examples


def save_cache(path: Path, photos: list[Example], classes: list[Example]) -> None:
    """Write the encoded photos and class pictures into one safetensors file, atomically."""
    from safetensors.torch import save

    from engine.file_writing import write_atomic

    tensors: dict[str, torch.Tensor] = {}
    for group, examples in (("photo", photos), ("class", classes)):
        for i, example in enumerate(examples):
            tensors[f"{group}.{i}.latent"] = example.latent.contiguous()
            tensors[f"{group}.{i}.embeds"] = example.embeds.contiguous()
            if example.pooled is not None:
                tensors[f"{group}.{i}.pooled"] = example.pooled.contiguous()
    counts = {"photos": str(len(photos)), "classes": str(len(classes))}
    write_atomic(path, save(tensors, metadata=counts))


def load_cache(path: Path, photos: int, classes: int) -> tuple[list[Example], list[Example]] | None:
    """The cached examples when `path` holds exactly `photos` and `classes` of them; None
    when there is no usable cache (missing, damaged, or of other counts): encode again."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
        return _examples(tensors, "photo", photos), _examples(tensors, "class", classes)
    except (SafetensorError, OSError, KeyError, ValueError):
        return None


def _examples(tensors: dict[str, torch.Tensor], group: str, count: int) -> list[Example]:
    if f"{group}.{count}.latent" in tensors:
        raise ValueError("more examples cached than asked for")
    return [
        Example(
            tensors[f"{group}.{i}.latent"],
            tensors[f"{group}.{i}.embeds"],
            tensors.get(f"{group}.{i}.pooled"),
        )
        for i in range(count)
    ]


# ---- the order of batches


def epoch_batches(sizes: Sequence[tuple[int, int]], batch: int, seed: int, epoch: int) -> list:
    """The batches of one epoch, as lists of example indices: examples of one size together,
    shuffled within their size and then as batches, the same for the same seed and epoch."""
    rng = np.random.default_rng([seed, epoch])
    by_size: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(sizes):
        by_size.setdefault(size, []).append(index)
    batches = []
    for size in sorted(by_size):
        members = [by_size[size][i] for i in rng.permutation(len(by_size[size]))]
        batches += [members[i : i + batch] for i in range(0, len(members), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def batch_at(sizes: Sequence[tuple[int, int]], batch: int, seed: int, step: int) -> list[int]:
    """The example indices of training step `step` (0-based): resuming at a step draws
    exactly the batch an uninterrupted run would have."""
    epoch = 0
    while True:
        batches = epoch_batches(sizes, batch, seed, epoch)
        if step < len(batches):
            return batches[step]
        step -= len(batches)
        epoch += 1


def stack(examples: Sequence[Example], device: Any, dtype: torch.dtype) -> dict[str, Any]:
    """A batch's tensors on the device: latents, embeddings, and SDXL's pooled embeddings
    with its size conditioning (the picture's size, uncropped)."""
    latents = torch.stack([e.latent for e in examples]).to(device, dtype)
    embeds = torch.stack([e.embeds for e in examples]).to(device, dtype)
    batch: dict[str, Any] = {"latents": latents, "embeds": embeds}
    if examples[0].pooled is not None:
        h, w = (side * 8 for side in examples[0].size)
        ids = torch.tensor([[h, w, 0, 0, h, w]] * len(examples), dtype=dtype, device=device)
        pooled = torch.stack([e.pooled for e in examples]).to(device, dtype)  # type: ignore[misc]
        batch["added"] = {"text_embeds": pooled, "time_ids": ids}
    return batch
