"""What a LoRA file says about itself: the model family it was trained for (and so which
checkpoints it fits), and its trigger words.

Torch-free: both come from tensor names and shapes and the safetensors header's metadata,
read with the bounded header reader (engine.checkpoint_files), so the window can show a
LoRA's trigger words without loading it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.checkpoint_files import read_safetensors_header, safetensors_metadata
from engine.protocol import JobError
from engine.untrusted import UntrustedInputError, clean_text, parse_json

MAX_TRIGGER_WORDS = 6
_CONTEXT_FAMILY = {768: "sd15", 1024: "sd2", 2048: "sdxl"}  # cross-attention's input width
_FAMILY_GROUP = {"sd15": "sd1", "sd2": "sd2", "sdxl": "sdxl"}  # SD 1.x LoRAs fit SD 1.x
_SECOND_ENCODER = re.compile(r"^(lora_te2_|text_encoder_2[._]|te2[._]|lora_te2[._])")
_DOWN = re.compile(r"(lora_down|lora[._]down|lora_A)[._]weight$")
# Where the UNet has attention tells the families apart without widths (so tiny test
# models too): SD 1.x/2.x attend in their first down level, SDXL does not but stacks
# several transformer layers per block.
_SD_LAYOUT = re.compile(r"down_blocks_0_attentions|input_blocks_[12]_1_|output_blocks_(9|10|11)_1_")
_XL_LAYOUT = re.compile(r"transformer_blocks_[1-9]|output_blocks_[0-2]_1_")


def lora_base_family(shapes: Mapping[str, Sequence[int]]) -> str:
    """The checkpoint family a LoRA was trained for ("sd15", "sd2", "sdxl") from its
    tensor names and shapes (kohya, diffusers and PEFT naming); "" when they do not say."""
    if any(_SECOND_ENCODER.match(key) for key in shapes):
        return "sdxl"
    for key, shape in shapes.items():
        if "attn2" in key and "to_k" in key and _DOWN.search(key) and len(shape) == 2:
            family = _CONTEXT_FAMILY.get(shape[1])
            if family:
                return family
    flat = " ".join(key.replace(".", "_") for key in shapes)
    if _XL_LAYOUT.search(flat):
        return "sdxl"
    return "sd15" if _SD_LAYOUT.search(flat) else ""


def lora_fits(made_for: str, family: str) -> bool:
    """Whether a LoRA made for the family `made_for` ("": it does not say) fits a checkpoint
    of `family`."""
    return not made_for or _FAMILY_GROUP.get(made_for) == _FAMILY_GROUP.get(family)


def lora_file_family(path: str | Path) -> str:
    """The family the LoRA file at `path` was made for (lora_base_family, from its header's
    tensor names and shapes); "" for a file that is not safetensors or cannot be read (the
    job that uses it says why)."""
    if Path(path).suffix.lower() != ".safetensors":
        return ""
    try:
        return lora_base_family(safetensors_shapes(read_safetensors_header(path)))
    except (OSError, UntrustedInputError, JobError):
        return ""


def safetensors_shapes(header: Mapping[str, object]) -> dict[str, list[int]]:
    """Tensor name -> shape, from a safetensors header."""
    return {k: v["shape"] for k, v in header.items() if isinstance(v, dict) and "shape" in v}


def trigger_words(metadata: Mapping[str, str]) -> tuple[str, ...]:
    """A LoRA's trigger words from its safetensors metadata: `modelspec.trigger_phrase`
    (split at commas), then the tags its training captions used most (kohya's
    `ss_tag_frequency`); at most MAX_TRIGGER_WORDS, none twice. Unreadable metadata
    gives none (it is only a hint)."""
    words = [w.strip() for w in metadata.get("modelspec.trigger_phrase", "").split(",")]
    words += _frequent_tags(metadata.get("ss_tag_frequency", ""))
    unique: dict[str, str] = {}
    for word in words:
        word = clean_text(word).strip()
        if word and word.casefold() not in unique:
            unique[word.casefold()] = word
    return tuple(unique.values())[:MAX_TRIGGER_WORDS]


def _frequent_tags(text: str) -> list[str]:
    """kohya's {"folder": {"tag": count}} as tags, most frequent first."""
    if not text:
        return []
    try:
        folders = parse_json(text, "ss_tag_frequency")
    except UntrustedInputError:
        return []
    counts: Counter[str] = Counter()
    for tags in folders.values() if isinstance(folders, dict) else ():
        if isinstance(tags, dict):
            counts.update({str(t): n for t, n in tags.items() if isinstance(n, int) and n > 0})
    return [tag for tag, _ in counts.most_common(MAX_TRIGGER_WORDS)]


def lora_file_triggers(path: str | Path) -> tuple[str, ...]:
    """The trigger words of a LoRA file (see trigger_words); none for a file that is not
    safetensors. Raises engine.protocol.JobError with one sentence for a damaged file."""
    if Path(path).suffix.lower() != ".safetensors":
        return ()
    return trigger_words(safetensors_metadata(read_safetensors_header(path)))
