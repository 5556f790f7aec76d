"""A1111's `<lora:name:weight>` prompt tags: read, strip, merge with a job's LoRAs, and edit.

The prompt is the single truth about a job's LoRAs in the window: the LoRA picker edits
the tags in the prompt text, and the engine reads them back out of the prompt and the
negative prompt before encoding. `SamplingParams.loras` (the CLI's and a plugin's way)
come first; a tag naming the same LoRA replaces its weight (A1111 applies a LoRA named
twice twice, with the last weight; Atelier applies it once, with the last weight).
Torch-free and Qt-free: the GUI, the CLI and the engine share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from plugins.diffusion.params import LoraSpec

# A1111's extra-network pattern (modules/extra_networks.py), for the "lora" network only;
# any arguments after the weight (A1111's separate text encoder and UNet weights) are read
# past: the first weight applies to both.
TAG = re.compile(r"<lora:([^:>]+)(?::([^:>]*))?(?::[^>]*)?>")
MAX_LORA_WEIGHT = 10.0  # far past any useful weight; a bigger one is a typing slip


@dataclass(frozen=True)
class LoraTag:
    """One tag as it appears in a prompt: the LoRA's name, its weight and where it is."""

    name: str
    weight: float
    start: int
    end: int


def _weight(text: str | None, tag: str) -> float:
    """A tag's weight (none written: 1); ValueError naming the tag when it is not a number."""
    if text is None or not text.strip():
        return 1.0
    try:
        weight = float(text)
    except ValueError:
        raise ValueError(f"The LoRA tag {tag} has a weight that is not a number.") from None
    if not abs(weight) <= MAX_LORA_WEIGHT:
        raise ValueError(
            f"The LoRA tag {tag} has the weight {text.strip()}; "
            f"use a weight between -{MAX_LORA_WEIGHT:g} and {MAX_LORA_WEIGHT:g}."
        )
    return weight


def find_tags(prompt: str) -> list[LoraTag]:
    """The LoRA tags of a prompt, in order; ValueError for a tag whose weight is unusable."""
    return [
        LoraTag(m[1].strip(), _weight(m[2], m[0]), m.start(), m.end()) for m in TAG.finditer(prompt)
    ]


def strip_tags(prompt: str) -> str:
    """The prompt without its LoRA tags (and the spaces and commas they leave doubled)."""
    if not TAG.search(prompt):
        return prompt
    text = TAG.sub("", prompt)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\s*,(\s*,)*", ",", text)
    return text.strip().strip(",").strip()


def merged_loras(loras: Iterable[LoraSpec], *prompts: str) -> tuple[LoraSpec, ...]:
    """`loras` and then the tags of `prompts`, one per name (matched without case): a later
    one replaces an earlier one's weight and keeps its place."""
    merged: dict[str, LoraSpec] = {}
    tags = [LoraSpec(tag.name, tag.weight) for prompt in prompts for tag in find_tags(prompt)]
    for spec in (*loras, *tags):
        key = spec.name.casefold()
        merged[key] = LoraSpec(merged[key].name if key in merged else spec.name, spec.weight)
    return tuple(merged.values())


def format_weight(weight: float) -> str:
    """A weight as a tag writes it: "1", "0.75", "-0.5"."""
    return f"{round(weight, 2):g}"


def format_tag(name: str, weight: float) -> str:
    """`<lora:name:weight>`."""
    return f"<lora:{name}:{format_weight(weight)}>"


def set_tag(prompt: str, name: str, weight: float) -> str:
    """The prompt with the LoRA `name` at `weight`: its first tag rewritten (and any others
    of it removed), or a new tag at the end."""
    tags = [t for t in find_tags_lenient(prompt) if t.name.casefold() == name.casefold()]
    if not tags:
        joint = " " if prompt and not prompt.endswith((" ", "\n")) else ""
        return f"{prompt}{joint}{format_tag(name, weight)}"
    first, *others = tags
    for tag in reversed(others):
        prompt = _cut(prompt, tag)
    return prompt[: first.start] + format_tag(first.name, weight) + prompt[first.end :]


def remove_tag(prompt: str, name: str) -> str:
    """The prompt without any tag of the LoRA `name`."""
    for tag in reversed(find_tags_lenient(prompt)):
        if tag.name.casefold() == name.casefold():
            prompt = _cut(prompt, tag)
    return prompt


def find_tags_lenient(prompt: str) -> list[LoraTag]:
    """The tags of a prompt being typed: a weight that is not a number yet counts as 1."""
    tags = []
    for m in TAG.finditer(prompt):
        try:
            weight = _weight(m[2], m[0])
        except ValueError:
            weight = 1.0
        tags.append(LoraTag(m[1].strip(), weight, m.start(), m.end()))
    return tags


def _cut(prompt: str, tag: LoraTag) -> str:
    """The prompt without `tag` and one space next to it."""
    start, end = tag.start, tag.end
    if start > 0 and prompt[start - 1] == " ":
        start -= 1
    elif end < len(prompt) and prompt[end] == " ":
        end += 1
    return prompt[:start] + prompt[end:]
