"""The request for text-to-image: one frozen dataclass that drives the GUI form and CLI flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from plugins.api import param
from plugins.diffusion.schedulers import SCHEDULER_NAMES

SCHEDULERS = SCHEDULER_NAMES
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096
MIN_SIDE = 64
NATIVE_SIZE = {"sd15": 512, "sd2": 768, "sdxl": 1024, "sdxl_refiner": 1024}


@dataclass(frozen=True)
class Txt2ImgParams:
    prompt: str = param("", "Prompt", multiline=True, help="What to draw.")
    negative_prompt: str = param(
        "", "Negative prompt", multiline=True, cli="--negative", help="What to avoid."
    )
    steps: int = param(25, "Steps", minimum=1, maximum=150, help="Denoising steps.")
    cfg_scale: float = param(
        7.0,
        "CFG scale",
        minimum=0.0,
        maximum=30.0,
        step=0.5,
        cli="--cfg",
        help="How strongly to follow the prompt.",
    )
    width: int = param(
        0, "Width", minimum=0, maximum=MAX_SIDE, step=8, help="0 = the model's native size."
    )
    height: int = param(
        0, "Height", minimum=0, maximum=MAX_SIDE, step=8, help="0 = the model's native size."
    )
    seed: int = param(-1, "Seed", minimum=-1, maximum=2**32 - 1, help="-1 = a random seed.")
    batch_count: int = param(
        1, "Batch count", minimum=1, maximum=16, cli="--batch", help="Images to make."
    )
    scheduler: str = param("Euler a", "Scheduler", choices=SCHEDULERS, help="Sampling method.")
    model: str = field(default="")  # chosen with the model picker / --model; "" = default


def snap8(value: int) -> int:
    """Round a side to the nearest multiple of 8 (latents are 1/8 of the image)."""
    return max(8, (int(value) + 4) // 8 * 8)


def resolved_size(params: Txt2ImgParams, family: str) -> tuple[int, int]:
    """(width, height) snapped to multiples of 8, 0 meaning the family's native size."""
    native = NATIVE_SIZE.get(family, 512)
    return snap8(params.width or native), snap8(params.height or native)


def validate_txt2img(params: Txt2ImgParams) -> None:
    """Reject what cannot work, with a message a designer can act on (no torch needed)."""
    if not params.prompt.strip():
        raise ValueError("Type a prompt first.")
    for name, side in (("width", params.width), ("height", params.height)):
        if side != 0 and not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(f"The {name} must be between {MIN_SIDE} and {MAX_SIDE} pixels.")
    if params.width * params.height > MAX_PIXELS:
        raise ValueError("That size is too large; keep it within 4096 x 4096 pixels.")
    if not 1 <= params.steps <= 150:
        raise ValueError("Steps must be between 1 and 150.")
    if not 0 <= params.cfg_scale <= 30:
        raise ValueError("CFG scale must be between 0 and 30.")
    if not 1 <= params.batch_count <= 16:
        raise ValueError("Batch count must be between 1 and 16.")
    if params.scheduler not in SCHEDULERS:
        raise ValueError(f"Unknown scheduler '{params.scheduler}'; one of {', '.join(SCHEDULERS)}.")
    if params.seed < -1 or params.seed >= 2**32:
        raise ValueError("The seed must be -1 (random) or between 0 and 4294967295.")
