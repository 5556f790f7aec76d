"""What an image job will cost before it starts: time and memory from its pixels, steps and
device, so a size clearly out of reach is named before the designer waits hours for it.

Torch-free and Qt-free (the window asks before it submits). The figures are deliberately
conservative, for a Stable Diffusion 1.x-class model: a step costs SECONDS_PER_STEP at
512x512 on each device and grows with the latent size, linearly for the convolutions and
with its square for the share spent in self-attention (which every such UNet runs at its
finest latent level); the VAE decoder's full-resolution activations set the memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

REFERENCE_PIXELS = 512 * 512
# Seconds for one denoising step (both CFG passes) at 512x512, by device.
SECONDS_PER_STEP = {"cpu": 3.0, "mps": 0.5, "cuda": 0.08}
ATTENTION_SHARE = 0.25  # of a 512x512 step; it grows with the square of the latent size
# VAE decoding holds about three 128-channel tensors at full resolution.
DECODE_VALUES_PER_PIXEL = 3 * 128
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
TOO_LONG_S = 10 * 60  # beyond this, a designer is warned before the job starts
DEVICE_NAMES = {"cpu": "the CPU", "cuda": "the GPU", "mps": "the GPU"}


@dataclass(frozen=True)
class JobSize:
    """What an image job makes: its size in pixels, its denoising steps and image count."""

    width: int
    height: int
    steps: int
    images: int = 1


@dataclass(frozen=True)
class JobCost:
    seconds: float
    memory_bytes: int


def job_size(params: Any) -> JobSize | None:
    """The size of a job from its params' `width`, `height`, `steps` and `batch_count`
    fields (times `frames` for a video: each frame costs what an image does); None for
    params without a set width and height (those work at a model's native size, or a
    bounded work size)."""
    width, height = getattr(params, "width", 0), getattr(params, "height", 0)
    steps = getattr(params, "steps", 0)
    if not (isinstance(width, int) and isinstance(height, int) and isinstance(steps, int)):
        return None
    if width <= 0 or height <= 0 or steps <= 0:
        return None
    batch = max(1, int(getattr(params, "batch_count", 1)))
    frames = max(1, int(getattr(params, "frames", 1)))
    return JobSize(width, height, steps, batch * frames)


def estimate(size: JobSize, device: str = "cpu", dtype: str = "float32") -> JobCost:
    """A conservative estimate of the job's time and peak memory on `device`."""
    ratio = size.width * size.height / REFERENCE_PIXELS
    per_step = SECONDS_PER_STEP.get(device, SECONDS_PER_STEP["cpu"]) * (
        (1 - ATTENTION_SHARE) * ratio + ATTENTION_SHARE * ratio**2
    )
    memory = size.width * size.height * DECODE_VALUES_PER_PIXEL * DTYPE_BYTES.get(dtype, 4)
    return JobCost(per_step * size.steps * size.images, memory)


def physical_memory() -> int | None:
    """The machine's memory in bytes, where the system says (None elsewhere)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def cost_warning(size: JobSize, device: str = "cpu", dtype: str = "float32") -> str:
    """A sentence naming what is out of reach for `device` (time over TOO_LONG_S, memory
    over what the machine has, checked on the CPU), or "" when the job looks feasible."""
    cost = estimate(size, device, dtype)
    problems = []
    if cost.seconds > TOO_LONG_S:
        where = DEVICE_NAMES.get(device, device)
        problems.append(f"take about {duration_text(cost.seconds)} on {where}")
    memory = physical_memory() if device == "cpu" else None
    if memory is not None and cost.memory_bytes > memory:
        problems.append(
            f"need about {gb_text(cost.memory_bytes)} of memory, more than this machine "
            f"has ({gb_text(memory)})"
        )
    if not problems:
        return ""
    return (
        f"{size.width} \N{MULTIPLICATION SIGN} {size.height} pixels with {size.steps} steps "
        f"would {' and '.join(problems)}."
    )


def duration_text(seconds: float) -> str:
    """Seconds as a designer reads them: "40 minutes", "22 hours", "3 days"."""
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length * (2 if unit != "minute" else 1):
            count = round(seconds / length)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{round(seconds)} seconds"


def gb_text(size: int) -> str:
    return f"{size / 1024**3:.1f} GB"
