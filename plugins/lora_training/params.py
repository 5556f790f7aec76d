"""What a LoRA training job asks for: the photo folder, the trigger word and class, and
the settings a preset fills when left at 0 / "auto" (plugins.lora_training.presets)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from plugins.api import param

# offered in the panel; any short noun phrase works ("vintage car", "watercolour style")
CLASS_SUGGESTIONS = (
    "person",
    "man",
    "woman",
    "child",
    "dog",
    "cat",
    "pet",
    "object",
    "product",
    "emblem",
    "character",
    "building",
    "style",
)
CROP_MODES = ("auto", "face", "saliency", "center")
SWITCHES = ("auto", "on", "off")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
OPTIMIZERS = ("auto", "adamw", "adamw8bit")
LAYERS = ("auto", "blocks", "cross_attention")
PRIOR_METHODS = ("auto", "base_output", "class_pictures")
KEPT_PROMPTS = ("auto", "0", "1", "2", "3")  # a photo, from the preservation list
MAX_PRIOR_WEIGHT = 100.0
MAX_CLASS_WORDS = 4
AUTOMATIC = "Automatic"  # how a field the presets fill at 0 shows 0
_WORD = re.compile(r"^[^\s<>:,]+$")  # a trigger is one word a prompt can hold as it is


@dataclass(frozen=True)
class TrainLoraParams:
    """One training run. Fields at 0 or "auto" take the preset's value for the device and
    the base model's family; the job reports what it chose."""

    folder: Path | None = field(default=None)  # the photos (the task's "folder" input)
    model: str = field(default="")  # the base checkpoint; "" = the default one
    trigger: str = param(
        "", "Trigger word", cli="--trigger", help="A new word that will mean your subject."
    )
    class_word: str = param(
        "person",
        "Class",
        cli="--class",
        help="What the subject is: person, dog, cat, object, style, ...",
    )
    name: str = param(
        "", "LoRA name", help="The file's name in the LoRA folder (default: the trigger word)."
    )
    train_steps: int = param(
        0,
        "Steps",
        cli="--steps",
        minimum=0,
        maximum=20000,
        zero_label=AUTOMATIC,
        help="0 = the preset's.",
    )
    prior_preservation: bool = param(
        False,
        "Prior preservation",
        help="Keep what prompts without the trigger word make as the base model made it (slower).",
    )
    rank: int = param(
        0,
        "Rank",
        minimum=0,
        maximum=256,
        advanced=True,
        zero_label=AUTOMATIC,
        help="0 = the preset's.",
    )
    learning_rate: float = param(
        0.0,
        "Learning rate",
        minimum=0.0,
        maximum=0.1,
        advanced=True,
        zero_label=AUTOMATIC,
        help="0 = the preset's.",
    )
    batch_size: int = param(
        0,
        "Batch size",
        cli="--batch-size",
        minimum=0,
        maximum=64,
        advanced=True,
        zero_label=AUTOMATIC,
        help="0 = the preset's.",
    )
    resolution: int = param(
        0,
        "Resolution",
        minimum=0,
        maximum=2048,
        step=64,
        unit="px",
        advanced=True,
        help="0 = the model's native size.",
    )
    gradient_checkpointing: str = param(
        "auto",
        "Gradient checkpointing",
        choices=SWITCHES,
        advanced=True,
        help="Saves memory for some speed.",
    )
    precision: str = param("auto", "Precision", choices=PRECISIONS, advanced=True)
    optimizer: str = param(
        "auto",
        "Optimizer",
        choices=OPTIMIZERS,
        advanced=True,
        help="adamw8bit needs bitsandbytes and a GPU.",
    )
    layers: str = param(
        "auto",
        "Layers",
        choices=LAYERS,
        advanced=True,
        help="blocks: attention, projections and MLP (kohya's); cross_attention: only the "
        "layers that read the prompt (changes prompts without the trigger least).",
    )
    crop: str = param(
        "auto",
        "Crop",
        choices=CROP_MODES,
        advanced=True,
        help="auto: faces where found, else the most salient part.",
    )
    prior_method: str = param(
        "auto",
        "Preserve by",
        choices=PRIOR_METHODS,
        advanced=True,
        help="base_output: the adapter learns to leave the base model's prediction for your "
        "captions, with the class word in place of the trigger, as it was; class_pictures: "
        "the base model first draws pictures of the class to train on as well.",
    )
    prior_images: int = param(
        0,
        "Class images",
        minimum=0,
        maximum=500,
        advanced=True,
        zero_label="As many as the photos",
        help="With class_pictures: 0 = as many as your photos.",
    )
    prior_weight: float = param(
        0.0,
        "Preservation weight",
        minimum=0.0,
        maximum=MAX_PRIOR_WEIGHT,
        step=0.5,
        advanced=True,
        zero_label=AUTOMATIC,
        help="How much keeping prompts without the trigger counts against learning the "
        "subject: higher keeps them closer, lower learns the subject faster (0 = the "
        "preset's).",
    )
    kept_prompts: str = param(
        "auto",
        "Kept prompts",
        choices=KEPT_PROMPTS,
        advanced=True,
        help="With base_output: prompts from the model's preservation list (else Atelier's "
        "everyday ones) kept as the base model makes them, so many a photo; 0 = only your "
        "captions with the class word (auto = the preset's).",
    )
    sample_every: int = param(
        0,
        "Sample every",
        minimum=0,
        maximum=5000,
        unit="steps",
        advanced=True,
        zero_label=AUTOMATIC,
        help="A sample picture with the trigger word this often (0 = the preset's).",
    )
    seed: int = param(0, "Seed", minimum=0, maximum=2**32 - 1, advanced=True)
    resume: bool = param(
        True, "Resume", help="Continue an interrupted run of the same photos and settings."
    )


def validate_train_lora(params: TrainLoraParams) -> None:
    """ValueError with a sentence for settings no run can use (the photos are checked by
    the job itself, plugins.lora_training.folder_check)."""
    if params.folder is None:
        raise ValueError("Choose the folder of photos to train on.")
    if not Path(params.folder).is_dir():
        raise ValueError(f"{params.folder} is not a folder.")
    trigger = params.trigger.strip()
    if not trigger:
        raise ValueError("Type a trigger word: a new word that will mean your subject.")
    if not _WORD.match(trigger):
        raise ValueError(
            f"The trigger word {trigger!r} must be one word without spaces, commas, "
            "colons or angle brackets."
        )
    words = params.class_word.split()
    if not words or len(words) > MAX_CLASS_WORDS:
        raise ValueError(
            f"The class must be one to {MAX_CLASS_WORDS} words (person, dog, object, style)."
        )
    if params.name and not _WORD.match(params.name.strip()):
        raise ValueError(f"The LoRA name {params.name!r} must be one word a file can be named.")
    if params.resolution and params.resolution % 64:
        raise ValueError(f"The resolution must be a multiple of 64, not {params.resolution}.")


def lora_name(params: TrainLoraParams) -> str:
    """The LoRA's name: the one given, else the trigger word."""
    return (params.name or params.trigger).strip()
