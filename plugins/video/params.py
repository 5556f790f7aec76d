"""The requests of the video tasks, their checks, and each video model's rule for frame
counts and sizes. Torch- and Qt-free.

The prompt, steps, CFG, seed, scheduler, size and LoRA fields are the diffusion tasks'
own (the same specs), so the Generate panel shows them in its shared form and the CLI
gives them the same flags; the rest are the video tasks' own (motion LoRAs: a form field
and `--motion-lora NAME[:WEIGHT]`, read like `--lora`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from plugins.api import Param, param
from plugins.diffusion.params import (
    Img2ImgParams,
    LoraSpec,
    Txt2ImgParams,
    cli_list,
    validate_img2img,
    validate_txt2img,
)

MAX_FRAMES = 256
MAX_FPS = 60
DEFAULT_FRAMES = 16
DEFAULT_FPS = 8  # AnimateDiff's clips: 16 frames at 8 per second
METHODS = ("auto", "svd", "sparsectrl", "animatediff")
STRIP_FRAMES = 4  # frames side by side in a step preview
# Wan and CogVideoX: frames of 4k+1 and 8N+1 (their VAEs compress 4 frames into one latent
# frame, plus the first), sides multiples of 16 (8x VAE and 2x2 patches)
FRAME_RULES = {"wan": 4, "cogvideox": 8}
SIDE_MULTIPLE = 16
CHOICES = "plugins.video.model_choices"  # the pickers of the model fields


def _shared(name: str, help_text: str = "") -> Any:
    """The diffusion tasks' field `name` (same default and spec), with `help_text` in place
    of its help when given."""
    shared = Txt2ImgParams.__dataclass_fields__[name]
    metadata = dict(shared.metadata)
    if help_text:
        metadata["param"] = replace(metadata["param"], help=help_text)
    return field(default=shared.default, metadata=metadata)


def _frames(default: int) -> Any:
    return param(
        default,
        "Frames",
        minimum=0,
        nonzero_minimum=2,
        maximum=MAX_FRAMES,
        help="Frames to make; 0 = the video model's own clip length.",
    )


def _fps() -> Any:
    return param(
        0.0,
        "Frame rate",
        minimum=0.0,
        maximum=MAX_FPS,
        unit="fps",
        help="Frames per second; 0 = the motion or video model's own (8 for AnimateDiff).",
    )


def _motion() -> Any:
    return param(
        "",
        "Motion model",
        advanced=True,
        models=f"{CHOICES}:motion_choices",
        zero_label="Automatic (one that fits the checkpoint)",
        help="The AnimateDiff motion adapter's name; empty = one made for the checkpoint.",
    )


def _motion_loras() -> Any:
    """LoRAs of the motion modules (camera moves such as AnimateDiff's ZoomIn): a form field
    (advanced) and a repeatable CLI flag, both NAME[:WEIGHT]."""
    shown = Param(
        "Motion LoRAs",
        help="Motion LoRAs (camera moves) as NAME:WEIGHT, separated by commas; empty = none.",
        advanced=True,
    )
    flag = cli_list("--motion-lora", "NAME[:WEIGHT]", "lora", "add a motion LoRA (repeatable)")
    return field(default=(), metadata={"param": shown, **flag})


def _context() -> Any:
    return param(
        0,
        "Context window",
        minimum=0,
        maximum=64,
        advanced=True,
        help="Frames the motion model sees at once; a longer clip slides this window over "
        "it (FreeNoise). 0 = the motion model's own.",
    )


def _interpolate() -> Any:
    return param(False, "Smooth 2x", help="Double the frames (and the frame rate) by flow.")


def _upscale() -> Any:
    return param(False, "Upscale 2x", help="Double each frame's width and height.")


def _decode_chunk() -> Any:
    return param(
        0,
        "Decode chunk",
        minimum=0,
        maximum=MAX_FRAMES,
        advanced=True,
        help="Frames decoded at a time; 0 = all at once, halved when memory runs short. A "
        "job that ran out of memory while decoding keeps its latents: run it again with "
        "the same seed and a smaller chunk.",
    )


@dataclass(frozen=True)
class VideoOptions:
    """What both video tasks share beyond the diffusion fields."""

    prompt: str = _shared("prompt")
    negative_prompt: str = _shared("negative_prompt")
    steps: int = _shared("steps")
    cfg_scale: float = _shared("cfg_scale")
    seed: int = _shared("seed")
    scheduler: str = _shared("scheduler")
    model: str = field(default="")  # an SD 1.x checkpoint; "" = the default one
    loras: tuple[LoraSpec, ...] = _shared("loras")
    motion_loras: tuple[LoraSpec, ...] = _motion_loras()


@dataclass(frozen=True)
class TextToVideoParams(VideoOptions):
    """A clip from a prompt: AnimateDiff on an SD 1.x checkpoint, or a Wan / CogVideoX model."""

    width: int = _shared("width")
    height: int = _shared("height")
    frames: int = _frames(DEFAULT_FRAMES)
    fps: float = _fps()
    motion: str = _motion()
    video_model: str = param(
        "",
        "Video model",
        advanced=True,
        models=f"{CHOICES}:text_video_choices",
        zero_label="None (AnimateDiff on the checkpoint)",
        help="A Wan or CogVideoX model's name to make the clip with; empty = AnimateDiff "
        "on the checkpoint.",
    )
    context: int = _context()
    interpolate: bool = _interpolate()
    upscale: bool = _upscale()
    decode_chunk: int = _decode_chunk()


@dataclass(frozen=True)
class ImageToVideoParams(VideoOptions):
    """A clip that starts from a still: Stable Video Diffusion, else AnimateDiff on it."""

    method: str = param(
        "auto",
        "Method",
        choices=METHODS,
        help="auto: Stable Video Diffusion when one is installed, else SparseCtrl (the still "
        "as the first frame) when one fits the checkpoint, else AnimateDiff on the still.",
    )
    frames: int = _frames(0)
    fps: float = _fps()
    strength: float = param(
        0.6,
        "Strength",
        minimum=0.0,
        maximum=1.0,
        step=0.05,
        help="AnimateDiff: how far the clip may move from the still (1 = ignore it).",
    )
    motion_bucket: int = param(
        127,
        "Motion amount",
        minimum=1,
        maximum=255,
        help="Stable Video Diffusion: how much moves (its motion bucket).",
    )
    noise_aug: float = param(
        0.02,
        "Noise on the still",
        minimum=0.0,
        maximum=1.0,
        step=0.01,
        advanced=True,
        help="Stable Video Diffusion: noise added to the still; more frees the motion.",
    )
    video_model: str = param(
        "",
        "Video model",
        advanced=True,
        models=f"{CHOICES}:svd_choices",
        zero_label="Automatic (the first installed)",
        help="The Stable Video Diffusion model's name; empty = the first installed.",
    )
    motion: str = _motion()
    context: int = _context()
    work_size: int = param(
        0,
        "Work size",
        minimum=0,
        maximum=2048,
        step=64,
        unit="px",
        advanced=True,
        help="The clip is made at about this size squared in the still's shape; 0 = the "
        "model's native size.",
    )
    interpolate: bool = _interpolate()
    upscale: bool = _upscale()
    decode_chunk: int = _decode_chunk()
    image: np.ndarray | None = field(default=None, compare=False)  # (h, w, 4) uint8 RGBA


# ---- sizes


def snap_video_size(family: str, frames: int, width: int, height: int) -> tuple[int, int, int, str]:
    """(frames, width, height) as `family`'s model takes them, and a note saying what
    changed ("" when nothing did): Wan 4k+1 frames, CogVideoX 8N+1, both sides in
    multiples of 16; other families as they are. Rounded to the nearest allowed value
    (frames up on a tie), never below one step of the rule."""
    step = FRAME_RULES.get(family)
    if step is None:
        return frames, width, height, ""
    snapped_frames = max(step + 1, math.floor((frames - 1) / step + 0.5) * step + 1)
    snapped = [
        max(SIDE_MULTIPLE, round(side / SIDE_MULTIPLE) * SIDE_MULTIPLE) for side in (width, height)
    ]
    changes = []
    if snapped_frames != frames:
        rule = f"{step}k+1" if family == "wan" else f"{step}N+1"
        changes.append(f"{frames} frames became {snapped_frames} (its frame counts are {rule})")
    if snapped != [width, height]:
        changes.append(
            f"{width}x{height} became {snapped[0]}x{snapped[1]} (its sides are multiples of "
            f"{SIDE_MULTIPLE})"
        )
    label = {"wan": "Wan", "cogvideox": "CogVideoX"}[family]
    note = f"{label}: {'; '.join(changes)}." if changes else ""
    return snapped_frames, snapped[0], snapped[1], note


# ---- validation


def _check_video(params: VideoOptions) -> None:
    frames, fps = params.frames, params.fps
    if frames != 0 and not 2 <= frames <= MAX_FRAMES:
        raise ValueError(f"Frames must be between 2 and {MAX_FRAMES} (or 0: the model's own).")
    if not 0 <= fps <= MAX_FPS or not math.isfinite(fps):
        raise ValueError(f"The frame rate must be between 0 and {MAX_FPS} frames per second.")
    if not 0 <= params.context <= 64 or params.context == 1:
        raise ValueError("The context window must be 0 (the motion model's) or 2 to 64 frames.")
    if not 0 <= params.decode_chunk <= MAX_FRAMES:
        raise ValueError(f"Decode chunk must be between 0 and {MAX_FRAMES} frames.")
    for spec in params.motion_loras:
        if not spec.name.strip() or not math.isfinite(spec.weight):
            raise ValueError(f"Write each motion LoRA as NAME:WEIGHT, not '{spec.name}'.")


def as_image_params(params: VideoOptions, image_type: type) -> Any:
    """The diffusion params of `image_type` holding the fields `params` shares with it, so
    the diffusion tasks' checks run on them."""
    names = {f.name for f in dataclasses.fields(image_type)}
    shared = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    return image_type(**{name: value for name, value in shared.items() if name in names})


def validate_text_to_video(params: TextToVideoParams) -> None:
    """Reject what cannot work, with a message a designer can act on (no torch needed)."""
    if params.frames == 0:
        raise ValueError("Choose how many frames to make (2 or more).")
    _check_video(params)
    validate_txt2img(as_image_params(params, Txt2ImgParams))


def validate_image_to_video(params: ImageToVideoParams) -> None:
    if params.method not in METHODS:
        raise ValueError(f"Unknown method '{params.method}'; one of {', '.join(METHODS)}.")
    if not 1 <= params.motion_bucket <= 255:
        raise ValueError("Motion amount must be between 1 and 255.")
    if not 0 <= params.noise_aug <= 1:
        raise ValueError("Noise on the still must be between 0 and 1.")
    if not 0 <= params.work_size <= 2048:
        raise ValueError("Work size must be between 0 and 2048 pixels.")
    _check_video(params)
    validate_img2img(as_image_params(params, Img2ImgParams))  # still, strength, sampling
