"""Latents to frames, a few frames at a time, so a clip never dies at its last step.

The denoised latents are kept while they are decoded in chunks of frames (the VAE's tiling
is on where the device policy says memory is short). When a chunk runs out of memory the
chunk is halved and decoding goes on, down to one frame; when even that fails the latents
are saved to `<home>/video-latents/<key>.safetensors` and the job fails saying so. The same
job run again (same seed and settings: the key) finds them and only decodes, with the
chunk it is given. Only the engine thread imports this module.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.file_writing import write_atomic
from engine.model_entry import ModelEntry
from engine.protocol import JobError
from engine.untrusted import display_path
from plugins.api import param_specs

LATENTS_FOLDER = "video-latents"
LATENTS_KEY = "latents"
UNKEYED = {"decode_chunk"}  # settings that do not change the latents

Decode = Callable[[Any], Any]  # (n, C, h, w) latents -> (n, 3, H, W) pixels in [-1, 1]


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an accelerator or host running out of memory."""
    import torch

    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def latents_key(task_id: str, params: Any, seed: int, models: list[ModelEntry]) -> str:
    """What identifies a job's latents: its task, settings (the still's pixels by hash),
    seed and the hashes of the models it used."""
    settings = {f.name: getattr(params, f.name) for f, _ in param_specs(type(params))}
    settings = {k: v for k, v in settings.items() if k not in UNKEYED}
    still = next((f.name for f in fields(params) if f.name == "image"), None)
    if still and getattr(params, still) is not None:
        image = np.ascontiguousarray(getattr(params, still))
        settings["image"] = hashlib.sha256(image.tobytes()).hexdigest() + str(image.shape)
    settings.update(task=task_id, seed=seed, models=[m.short_hash() for m in models])
    text = json.dumps(settings, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def latents_path(home: Path, key: str) -> Path:
    return Path(home) / LATENTS_FOLDER / f"{key}.safetensors"


def kept_latents(home: Path, key: str) -> Any:
    """The latents an earlier run of this job kept (a tensor), or None; a file that
    cannot be read counts as none."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = latents_path(home, key)
    if not path.is_file():
        return None
    try:
        return load_file(str(path)).get(LATENTS_KEY)
    except (OSError, SafetensorError):
        return None


def keep_latents(home: Path, key: str, latents: Any) -> Path:
    """Save the latents where the same job run again finds them; the path."""
    from safetensors.torch import save

    path = latents_path(home, key)
    write_atomic(path, save({LATENTS_KEY: latents.detach().cpu().contiguous()}))
    return path


def decode_frames(
    decode: Decode, latents: Any, chunk: int, report: Callable[[float], None]
) -> np.ndarray:
    """(F, C, h, w) latents as (F, H, W, 3) uint8 frames, `chunk` frames at a time (0: all),
    the chunk halved whenever memory runs out; `report(fraction)` after each chunk. The
    out-of-memory error when even one frame does not fit."""
    size = chunk or len(latents)
    while True:
        try:
            return _decode_all(decode, latents, size, report)
        except (RuntimeError, MemoryError) as e:
            if not is_out_of_memory(e) or size == 1:
                raise
            size = max(1, size // 2)
            _free_memory()


def _decode_all(
    decode: Decode, latents: Any, size: int, report: Callable[[float], None]
) -> np.ndarray:
    import torch

    frames = []
    with torch.no_grad():
        for start in range(0, len(latents), size):
            pixels = decode(latents[start : start + size]).float()
            frames.append(
                ((pixels.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            )
            report(min(1.0, (start + size) / len(latents)))
    return np.concatenate(frames)


def _free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def decode_or_keep(
    ctx: JobContext,
    decode: Decode,
    latents: Any,
    chunk: int,
    key: str,
    seed: int,
    span: tuple[float, float],
) -> np.ndarray:
    """decode_frames with progress over `span`; when memory runs out even for one frame,
    the latents are kept (keep_latents) and the job fails saying how to decode them."""
    start, width = span

    def report(fraction: float) -> None:
        ctx.check_cancelled()
        ctx.progress(start + width * fraction, "decoding frames")

    try:
        return decode_frames(decode, latents, chunk, report)
    except (RuntimeError, MemoryError) as e:
        if not is_out_of_memory(e):
            raise
        path = keep_latents(ctx.store.home, key, latents)
        raise JobError(
            "oom",
            f"The clip was made but not enough memory was left to decode it, even one frame "
            f"at a time. Its latents are kept in {display_path(path)}: free some memory and "
            f"run the same job again with seed {seed} (and a smaller Decode chunk); it will "
            "only decode them.",
        ) from None
