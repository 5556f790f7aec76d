"""Training settings chosen from the device and the base model's family, and the memory
estimate that makes them fit before a run starts. Torch-free: the panel shows them too.

`preset` gives what a designer should not have to choose (in the spirit of kohya's and
diffusers' DreamBooth-LoRA recipes); `resolve_settings` lets every field the user set win
over it, falls back where the device cannot do what was asked, and makes the result fit
memory with `fit_to_memory`, which changes only what the user left to the preset. Every
change comes with a sentence for the panel and the CLI.

`model_bytes`, wherever it is asked for, is the base model's weights at 32 bits (4 bytes a
parameter: UNet, text encoders and VAE together); training loads them at its precision.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.job_cost import DEVICE_NAMES, gb_text
from plugins.lora_training.params import TrainLoraParams


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    memory_bytes: int  # what training may use: free GPU memory, or the computer's RAM
    bf16: bool = False  # the GPU computes in bfloat16
    bitsandbytes: bool = False  # bitsandbytes' 8-bit Adam works here


@dataclass(frozen=True)
class TrainingSettings:
    rank: int
    alpha: float
    learning_rate: float
    steps: int
    batch_size: int
    resolution: int
    gradient_checkpointing: bool
    precision: str  # "fp32", "fp16" or "bf16" (mixed precision: LoRA weights stay fp32)
    optimizer: str  # "adamw" or "adamw8bit"
    sample_every: int  # steps between sample pictures
    checkpoint_every: int  # steps between checkpoints
    prior_images: int  # class pictures for prior preservation (0: none)
    prior_weight: float = 1.0
    # how prior preservation keeps prompts without the trigger (when it is on):
    # "base_output", the adapter trained to leave the base model's prediction for the photos'
    # captions with the subject made generic as it was (no pictures to make); or
    # "class_pictures", DreamBooth's pictures of the class made by the base model first
    prior_method: str = "base_output"
    # base_output only: how many prompts of the model's preservation list (its folder's
    # preservation_prompts.txt, else Atelier's everyday ones) each photo is also paired with,
    # so prompts unlike the photos' captions are kept too (preservation_prompts.py)
    prior_prompts: int = 1
    warmup_steps: int = 0
    # which UNet layers the adapter trains (adapter_training.TARGETS): "blocks", kohya's
    # default (attention, projections and MLP of the transformer blocks), or
    # "cross_attention" (only the layers that read the prompt: the least drift for prompts
    # without the trigger, as Custom Diffusion found)
    layers: str = "blocks"


TRAINABLE_FAMILIES = ("sd15", "sd2", "sdxl")
GiB = 1024**3
STEPS_PER_PHOTO, MIN_STEPS, MAX_STEPS = 100, 400, 1500
SAMPLES_PER_RUN = 8  # a sample picture every 1/8 of the run
CHECKPOINTS_PER_RUN, MIN_CHECKPOINT_EVERY = 10, 50  # every 1/10 of the run, >= 50 steps apart
MAX_DEFAULT_PRIOR_IMAGES = 200
SDXL_BIG_RANK_MEMORY = 16 * GiB  # SDXL gets rank 32 on GPUs with this much, else 16
MEMORY_SHARE = 0.9  # of device.memory_bytes a run may plan to use
PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
_CHOICES = {
    "precision": tuple(PRECISION_BYTES),
    "optimizer": ("adamw", "adamw8bit"),
    "layers": ("blocks", "cross_attention"),
    "prior_method": ("base_output", "class_pictures"),
}
_LABELS = {
    "gradient_checkpointing": "gradient checkpointing",
    "optimizer": "optimizer",
    "batch_size": "batch size",
    "resolution": "resolution",
}
_FIT_NOTES = {
    "gradient_checkpointing": "Gradient checkpointing turned on to fit {memory} (slower).",
    "optimizer": "8-bit AdamW chosen to fit {memory}.",
    "batch_size": "Batch size lowered to {s.batch_size} to fit {memory}.",
    "resolution": "Resolution lowered to {s.resolution} px to fit {memory}.",
}
_MAY_BE_ZERO = ("prior_images", "prior_weight", "prior_prompts", "warmup_steps")

# The memory model, calibrated to public figures (a rough estimate, and said to be one):
# - diffusers' train_dreambooth_lora on SD 1.5 at 512 px, batch 1, fp16: roughly 8-9 GB of
#   VRAM without gradient checkpointing, roughly 6 GB with it and 8-bit Adam;
# - diffusers' train_dreambooth_lora_sdxl at 1024 px, batch 1, gradient checkpointing:
#   roughly 12-16 GB.
# SD 1.5 in fp16 is 2.1 GB of weights (1.07 B parameters), SDXL 7 GB (3.5 B); with the fixed
# overhead below, activations at the reference size take the rest: about 5.5 GB for SD 1.5
# (2.2 GB with checkpointing), 13 GB for SDXL (5.2 GB with it). SD 2.x at 768 px has 2.25
# times SD 1.5's latent pixels but memory-efficient attention; 8 GB puts its LoRA at 768 px
# with checkpointing near the 7-10 GB reported for it.
REFERENCE_SIZE = {"sd15": 512, "sd2": 768, "sdxl": 1024}
ACTIVATION_BYTES = {"sd15": 5.5 * GiB, "sd2": 8 * GiB, "sdxl": 13 * GiB}  # batch 1, 16-bit
# The checkpoints those figures are for, at 4 bytes a parameter (SD 2.x: 1.3 B). A smaller
# model of the family (the built-in one is 0.6% of SD 1.5) keeps far fewer activations:
# they grow with the layers' widths, its weights with their squares, so they are scaled by
# the square root of its share, never above the figure (a fp32 file of SD 1.5 is SD 1.5).
REFERENCE_MODEL_BYTES = {"sd15": 4.3e9, "sd2": 5.2e9, "sdxl": 14e9}
CHECKPOINTING_SHARE = 0.4  # of the activations gradient checkpointing keeps
# LoRA parameters per unit of rank on the UNet's attention layers (diffusers' rank-4 LoRA
# files: 3.2 MB in fp32 for SD 1.5, 23 MB for SDXL)
LORA_PARAMS_PER_RANK = {"sd15": 200_000, "sd2": 210_000, "sdxl": 1_450_000}
# per LoRA parameter: fp32 weight and gradient, then the optimizer's two moments
LORA_BYTES_PER_PARAM = 8
OPTIMIZER_BYTES_PER_PARAM = {"adamw": 8, "adamw8bit": 2}
OVERHEAD_BYTES = {"cuda": 1 * GiB, "mps": 1 * GiB, "cpu": 0.75 * GiB}  # runtime, allocator


def preset(
    family: str,
    native_size: int,
    device: DeviceInfo,
    photo_count: int,
    overrides: Mapping[str, Any] = {},
) -> TrainingSettings:
    """The settings for `photo_count` photos on a model of `family` ("sd15", "sd2", "sdxl")
    whose native size is `native_size`, on `device`; `overrides` (a model's own
    recommendations) replace fields by name, ignoring unknown names and unusable values.
    ValueError with a sentence for other families."""
    _check_family(family)
    gpu = device.kind != "cpu"
    steps = min(max(STEPS_PER_PHOTO * photo_count, MIN_STEPS), MAX_STEPS)
    rank = 32 if family == "sdxl" and gpu and device.memory_bytes >= SDXL_BIG_RANK_MEMORY else 16
    chosen: dict[str, Any] = {
        "rank": rank,
        "learning_rate": 1e-4,
        "steps": steps,
        "batch_size": 2 if device.kind == "cuda" and family != "sdxl" else 1,
        "resolution": native_size,
        "gradient_checkpointing": family == "sdxl",
        "precision": ("bf16" if device.bf16 else "fp16") if gpu else "fp32",
        "optimizer": "adamw8bit" if device.bitsandbytes else "adamw",
        "prior_images": 0,
    }
    usable = {name: value for name, value in overrides.items() if _usable(name, value)}
    chosen.update(usable)  # may hold alpha and the intervals too: they win over these
    return TrainingSettings(
        **{"alpha": float(chosen["rank"]), **_intervals(chosen["steps"])} | chosen
    )


def resolve_settings(
    params: TrainLoraParams,
    family: str,
    native_size: int,
    device: DeviceInfo,
    photo_count: int,
    model_bytes: int,
    overrides: Mapping[str, Any] = {},
) -> tuple[TrainingSettings, list[str]]:
    """The preset with every field `params` sets (non-0, non-"auto") in its place, what the
    device cannot do replaced, then fitted to memory without touching the fields the user
    set. Returns the settings and sentences saying what was changed and why."""
    settings = preset(family, native_size, device, photo_count, overrides)
    asked = _asked(params, settings.steps, photo_count)
    settings = replace(settings, **asked)
    settings, notes = _fall_back(settings, device, asked)
    settings, fit_notes = fit_to_memory(settings, device, model_bytes, family, fixed=asked)
    return settings, notes + fit_notes


def estimate_memory(
    settings: TrainingSettings, device: DeviceInfo, model_bytes: int, family: str
) -> int:
    """Peak bytes a run with `settings` needs, roughly: the frozen weights at the training
    precision, the LoRA's weights, gradients and optimizer moments, the activations of one
    batch and of prior preservation's examples beside it (far fewer with gradient
    checkpointing; fewer for a model smaller than the family's own) and a fixed
    overhead."""
    _check_family(family)
    precision_bytes = PRECISION_BYTES[settings.precision]
    weights = model_bytes * precision_bytes / 4
    lora_params = LORA_PARAMS_PER_RANK[family] * settings.rank
    lora = lora_params * (LORA_BYTES_PER_PARAM + OPTIMIZER_BYTES_PER_PARAM[settings.optimizer])
    scale = (settings.resolution / REFERENCE_SIZE[family]) ** 2 * precision_bytes / 2
    scale *= min(1.0, math.sqrt(model_bytes / REFERENCE_MODEL_BYTES[family]))
    examples = settings.batch_size + prior_batch_size(settings)
    activations = ACTIVATION_BYTES[family] * examples * scale
    if settings.gradient_checkpointing:
        activations *= CHECKPOINTING_SHARE
    return round(weights + lora + activations + OVERHEAD_BYTES.get(device.kind, 1 * GiB))


def prior_batch_size(settings: TrainingSettings) -> int:
    """Prior preservation's examples in each step: as many as the batch (class pictures, or
    the photos' generic captions), and by the base output with kept prompts half as many
    again of those (at least one; measured on the built-in model: bench/train_lora.py)."""
    if not settings.prior_images:
        return 0
    if settings.prior_method != "base_output" or not settings.prior_prompts:
        return settings.batch_size
    return settings.batch_size + kept_per_step(settings.batch_size)


def kept_per_step(batch_size: int) -> int:
    """The kept prompts' examples in each step's prior batch."""
    return max(1, batch_size // 2)


def fit_to_memory(
    settings: TrainingSettings,
    device: DeviceInfo,
    model_bytes: int,
    family: str,
    fixed: Collection[str] = (),
) -> tuple[TrainingSettings, list[str]]:
    """`settings` changed, while the estimate exceeds 90% of the device's memory, in this
    order: gradient checkpointing on, 8-bit AdamW where it works, the batch halved down to
    1, the resolution lowered in steps of 64 down to half of what it was. Fields named in
    `fixed` stay as they are. Returns the settings and a sentence per change, or one saying
    the run may not fit."""
    budget = MEMORY_SHARE * device.memory_bytes
    lowest = max(64, settings.resolution // 2)
    shrinks = {
        "gradient_checkpointing": lambda s: replace(s, gradient_checkpointing=True),
        "optimizer": lambda s: replace(s, optimizer="adamw8bit") if device.bitsandbytes else s,
        "batch_size": lambda s: replace(s, batch_size=max(1, s.batch_size // 2)),
        "resolution": lambda s: replace(s, resolution=max(lowest, s.resolution - 64)),
    }

    def fits(candidate: TrainingSettings) -> bool:
        return estimate_memory(candidate, device, model_bytes, family) <= budget

    notes = []
    for name, shrink in shrinks.items():
        if name in fixed:
            continue
        before = settings
        while not fits(settings) and (smaller := shrink(settings)) != settings:
            settings = smaller
        if settings != before:
            notes.append(_FIT_NOTES[name].format(s=settings, memory=gb_text(device.memory_bytes)))
    if not fits(settings):
        needed = estimate_memory(settings, device, model_bytes, family)
        notes.append(_too_big(needed, device, [name for name in shrinks if name in fixed]))
    return settings, notes


def describe(settings: TrainingSettings) -> str:
    """The settings in one line: "rank 16, learning rate 0.0001, 800 steps, batch 2, 512 px,
    fp16, AdamW 8-bit, gradient checkpointing"."""
    parts = [
        f"rank {settings.rank}",
        f"learning rate {settings.learning_rate:g}",
        f"{settings.steps} steps",
        f"batch {settings.batch_size}",
        f"{settings.resolution} px",
        settings.precision,
        "AdamW 8-bit" if settings.optimizer == "adamw8bit" else "AdamW",
    ]
    if settings.gradient_checkpointing:
        parts.append("gradient checkpointing")
    if settings.prior_images and settings.prior_method == "class_pictures":
        parts.append(f"{settings.prior_images} class images")
    elif settings.prior_images:
        kept = settings.prior_prompts
        more = f" and {kept} more prompt{'s' if kept > 1 else ''} a photo" if kept else ""
        parts.append(f"prior preservation by the base model's output{more}")
    return ", ".join(parts)


def _check_family(family: str) -> None:
    if family not in TRAINABLE_FAMILIES:
        raise ValueError(
            f"LoRA training works with SD 1.x, 2.x and SDXL checkpoints; {family!r} is not one "
            "of them."
        )


def _intervals(steps: int) -> dict[str, int]:
    """How often a run of `steps` makes a sample picture and a checkpoint."""
    return {
        "sample_every": max(1, round(steps / SAMPLES_PER_RUN)),
        "checkpoint_every": max(MIN_CHECKPOINT_EVERY, round(steps / CHECKPOINTS_PER_RUN)),
    }


_TYPES = typing.get_type_hints(TrainingSettings)


def _usable(name: str, value: Any) -> bool:
    """Whether an override may replace the field `name`: a field of TrainingSettings, a
    value of its type (an int where a float goes), positive, one of the choices."""
    kind = _TYPES.get(name)
    if kind is None or (isinstance(value, bool) and kind is not bool):
        return False
    if kind is float and isinstance(value, int):
        kind = int
    if not isinstance(value, kind):
        return False
    if isinstance(value, str):
        return value in _CHOICES.get(name, ())
    return isinstance(value, bool) or value > 0 or (value == 0 and name in _MAY_BE_ZERO)


def _asked(params: TrainLoraParams, preset_steps: int, photo_count: int) -> dict[str, Any]:
    """The settings `params` sets itself (non-0, non-"auto"), by TrainingSettings' names;
    the sample and checkpoint intervals follow the user's steps."""
    asked: dict[str, Any] = {}
    if params.train_steps:
        asked["steps"] = params.train_steps
        intervals = _intervals(params.train_steps)
        if not params.sample_every:
            asked["sample_every"] = intervals["sample_every"]
        asked["checkpoint_every"] = intervals["checkpoint_every"]
    if params.rank:
        asked.update(rank=params.rank, alpha=float(params.rank))
    for name in ("learning_rate", "batch_size", "resolution", "sample_every"):
        if getattr(params, name):
            asked[name] = getattr(params, name)
    if params.gradient_checkpointing != "auto":
        asked["gradient_checkpointing"] = params.gradient_checkpointing == "on"
    for name in ("precision", "optimizer", "layers", "prior_method"):
        if getattr(params, name) != "auto":
            asked[name] = getattr(params, name)
    if params.prior_weight:
        asked["prior_weight"] = params.prior_weight
    if params.kept_prompts != "auto":
        asked["prior_prompts"] = int(params.kept_prompts)
    if params.prior_preservation:
        asked["prior_images"] = params.prior_images or min(photo_count, MAX_DEFAULT_PRIOR_IMAGES)
    return asked


def _fall_back(
    settings: TrainingSettings, device: DeviceInfo, asked: Mapping[str, Any]
) -> tuple[TrainingSettings, list[str]]:
    """What the user asked for that this device cannot do, replaced, with a sentence each."""
    notes = []
    if asked.get("optimizer") == "adamw8bit" and not device.bitsandbytes:
        settings = replace(settings, optimizer="adamw")
        notes.append(
            "8-bit AdamW needs bitsandbytes on a CUDA GPU, which does not work here; "
            "training uses AdamW."
        )
    if asked.get("precision") in ("fp16", "bf16") and device.kind == "cpu":
        settings = replace(settings, precision="fp32")
        notes.append(f"The CPU trains in fp32, not {asked['precision']}.")
    elif asked.get("precision") == "bf16" and not device.bf16:
        settings = replace(settings, precision="fp16")
        notes.append("This GPU does not compute in bf16; training uses fp16.")
    return settings, notes


def _too_big(needed: int, device: DeviceInfo, kept: list[str]) -> str:
    """The sentence for settings that still do not fit, naming the user's fields kept."""
    where = DEVICE_NAMES.get(device.kind, device.kind)
    sentence = (
        f"Training needs about {gb_text(needed)} by a rough estimate, more than the "
        f"{gb_text(device.memory_bytes)} {where} has for it, so it may run out of memory"
    )
    if kept:
        labels = [_LABELS[name] for name in kept]
        listed = " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
        sentence += f" (the {listed} you chose {'were' if len(labels) > 1 else 'was'} kept)"
    return sentence + "."
