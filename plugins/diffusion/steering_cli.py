"""The command line's steering flags: `--control KIND:IMAGE[:MODEL][:STRENGTH][:START-END]`,
`--reference IMAGE[:WEIGHT]` and `--lora NAME[:WEIGHT]` read into ControlSpec,
ReferenceSpec and LoraSpec; and a list of LoRAs as one line of text, for a form field.

The params fields name these parsers in their metadata (`cli_list`), so app/cli_tasks.py
adds the flags for any params type that has such fields, naming no task. A picture is read
by the reader the CLI passes (the app's safe image reader); a control picture of a pixel
kind is made into its map (plugins.diffusion.control_maps), so `--control canny:photo.png`
and a scribble drawn dark on light both work. Torch-free; a bad spec is one ValueError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from plugins.diffusion.control_maps import as_is, control_map
from plugins.diffusion.params import (
    CONTROL_KINDS,
    MAX_CONTROL_STRENGTH,
    ControlSpec,
    LoraSpec,
    ReferenceSpec,
)

ReadImage = Callable[[Path], np.ndarray]  # a path -> (h, w, 4) uint8 RGBA
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_RANGE = re.compile(rf"({_NUMBER})-({_NUMBER})")


def _number(text: str) -> float | None:
    return float(text) if re.fullmatch(_NUMBER, text) else None


def _weight(text: str, what: str) -> float:
    value = float(text)
    if not 0 <= value <= MAX_CONTROL_STRENGTH:
        raise ValueError(f"{what} must be between 0 and {MAX_CONTROL_STRENGTH:g}, not {text}")
    return value


def control(text: str, read_image: ReadImage) -> ControlSpec:
    """`KIND:IMAGE[:MODEL][:STRENGTH][:START-END]` as a ControlSpec, its picture made into
    the map of KIND."""
    kind, _, rest = text.partition(":")
    if kind not in CONTROL_KINDS:
        raise ValueError(
            f"'{text}' does not start with a control kind ({', '.join(CONTROL_KINDS)}); "
            "write KIND:IMAGE[:MODEL][:STRENGTH][:START-END]"
        )
    parts = rest.split(":")
    start, end = 0.0, 1.0
    if len(parts) > 1 and (found := _RANGE.fullmatch(parts[-1])):
        start, end = float(found[1]), float(found[2])
        if not 0 <= start <= end <= 1:
            raise ValueError(f"the step range {parts[-1]} must lie within 0-1, start first")
        parts.pop()
    strength = 1.0
    if len(parts) > 1 and _number(parts[-1]) is not None:
        strength = _weight(parts.pop(), "the strength")
    image, model = _image_and_name(parts)
    picture = control_map(kind, read_image(image))
    return ControlSpec(kind, picture, model, strength, start, end)


def _image_and_name(parts: list[str]) -> tuple[Path, str]:
    """The picture's path and the model name after it (a path may hold colons)."""
    whole = ":".join(parts)
    if not whole:
        raise ValueError("a control needs a picture: write KIND:IMAGE")
    if len(parts) == 1 or Path(whole).is_file():
        return Path(whole), ""
    return Path(":".join(parts[:-1])), parts[-1]


def reference(text: str, read_image: ReadImage) -> ReferenceSpec:
    """`IMAGE[:WEIGHT]` as a ReferenceSpec (weight 0.6 when left out)."""
    path, _, weight = text.rpartition(":")
    if not path or _number(weight) is None or Path(text).is_file():
        return ReferenceSpec(as_is(read_image(Path(text))))
    return ReferenceSpec(as_is(read_image(Path(path))), _weight(weight, "the weight"))


def lora(text: str, read_image: ReadImage) -> LoraSpec:
    """`NAME[:WEIGHT]` as a LoraSpec (weight 1 when left out); `read_image` is unused."""
    name, _, weight = text.rpartition(":")
    if not name or _number(weight.lstrip("-")) is None:
        return LoraSpec(text)
    return LoraSpec(name, float(weight))


def loras_from_text(text: str) -> tuple[LoraSpec, ...]:
    """LoRAs written in one line as `NAME[:WEIGHT]`, separated by commas (a form field)."""
    return tuple(lora(item.strip(), None) for item in text.split(",") if item.strip())


def loras_text(loras: Any) -> str:
    """LoRAs (LoraSpecs, or a recipe's {"name", "weight"} records) as loras_from_text reads
    them: "zoom-in:0.8, pan-left"."""
    if isinstance(loras, str):
        return loras
    items = []
    for spec in loras or ():
        name, weight = (
            (spec.get("name"), spec.get("weight", 1.0))
            if isinstance(spec, Mapping)
            else (spec.name, spec.weight)
        )
        items.append(f"{name}:{float(weight):g}" if float(weight) != 1 else str(name))
    return ", ".join(items)
