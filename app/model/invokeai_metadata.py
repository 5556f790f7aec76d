"""Generation settings InvokeAI writes: `invokeai_metadata` (JSON, 3.0 on), `sd-metadata`
(JSON, 2.x) and `Dream` (its command line, 2.x and before)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from app.model.generation_info import GenerationInfo, _as_float, _as_int, _as_str
from app.model.metadata_json import _common, _first, _object, _Reader, _shown

INVOKEAI_KEYS = ("invokeai_metadata", "sd-metadata", "Dream")
MAX_DREAM_CHARS = 100_000  # a Dream command line; longer is not one
_NEGATIVE = re.compile(r"\[([^\[\]]*)\]")  # InvokeAI 2's "[negative words]" in the prompt
# Dream's switches -> (setting, conversion); the others are kept as extras by their name.
_DREAM = {
    "-s": ("steps", _as_int),
    "-S": ("seed", _as_int),
    "-W": ("width", _as_int),
    "-H": ("height", _as_int),
    "-C": ("cfg_scale", _as_float),
    "-A": ("sampler", _as_str),
}
_DREAM_NAMES = {"-f": "Denoising strength", "-G": "Face restore strength", "-U": "Upscale"}


def _split_negative(prompt: str) -> tuple[str, str]:
    """InvokeAI 2 wrote the negative prompt inside the prompt, in square brackets."""
    negative = ", ".join(part.strip() for part in _NEGATIVE.findall(prompt) if part.strip())
    return re.sub(r"\s+", " ", _NEGATIVE.sub(" ", prompt)).strip(), negative


def _model_name(model: Any) -> tuple[str | None, str | None]:
    if isinstance(model, Mapping):
        return _as_str(_first(model, "model_name", "name")), _as_str(model.get("hash"))
    return _as_str(model), None


def parse_invokeai_metadata(text: str) -> GenerationInfo:
    """InvokeAI 3.0+'s `invokeai_metadata` chunk. Raises ValueError."""
    data = _object(text, "InvokeAI metadata")
    version = _as_str(data.get("app_version"))
    reader = _Reader(data, f"InvokeAI {version}" if version else "InvokeAI", ("app_version",))
    _common(reader)
    model, model_hash = _model_name(reader.take("model"))
    reader.fields["model"], reader.fields["model_hash"] = model, model_hash
    if data.get("hrf_enabled"):
        reader.extra("Hires method", "hrf_method")
        reader.extra("Hires denoise", "hrf_strength")
    sampler = reader.take("scheduler")
    return reader.info(sampler, None, reader.take("loras"))


def parse_sd_metadata(text: str) -> GenerationInfo:
    """InvokeAI 2.x's `sd-metadata` chunk: the app, the model, and the image's settings."""
    data = _object(text, "InvokeAI sd-metadata")
    image = data.get("image")
    image = image if isinstance(image, Mapping) else {}
    version = _as_str(data.get("app_version"))
    reader = _Reader(image, f"InvokeAI {version}" if version else "InvokeAI", ("prompt",))
    prompt = image.get("prompt")
    if isinstance(prompt, list):  # [{"prompt": ..., "weight": ...}]; the first is the image's
        prompt = next((p.get("prompt") for p in prompt if isinstance(p, Mapping)), None)
    reader.fields["prompt"], reader.fields["negative_prompt"] = _split_negative(
        _as_str(prompt) or ""
    )
    _common(reader)
    reader.fields["model"] = _as_str(_first(data, "model_weights", "model"))
    reader.fields["model_hash"] = _as_str(data.get("model_hash"))
    return reader.info(reader.take("sampler"))


def parse_dream(text: str) -> GenerationInfo:
    """InvokeAI's `Dream` line: '"prompt [negative]" -s 50 -S 42 -W 512 -H 768 -C 7.5 -A
    k_lms ...'. Raises ValueError when it is not one."""
    if len(text) > MAX_DREAM_CHARS:
        raise ValueError("InvokeAI Dream line is too long to be one")
    words = shlex.split(text)  # ValueError on an unclosed quote
    if not words:
        raise ValueError("InvokeAI Dream line is empty")
    prompt, negative = _split_negative(words[0])
    values: dict[str, Any] = {}
    extras: dict[str, str] = {}
    index = 1
    while index < len(words) and len(extras) < 100:
        switch, args = words[index], []
        index += 1
        while index < len(words) and not re.fullmatch(r"-[A-Za-z]\w*", words[index]):
            args.append(words[index])
            index += 1
        name, convert = _DREAM.get(switch, ("", _as_str))
        if name and args and convert(args[0]) is not None:
            values[name] = convert(args[0])
        else:
            extras[_DREAM_NAMES.get(switch, switch)[:100]] = _shown(" ".join(args))
    reader = _Reader({}, "InvokeAI")
    reader.fields.update(values, prompt=prompt, negative_prompt=negative)
    reader.fields.pop("sampler", None)
    reader.extras.update(extras)
    return reader.info(values.get("sampler"))


def parse_invokeai(texts: Mapping[str, str]) -> GenerationInfo:
    """The richest of the InvokeAI chunks a file has. Raises ValueError."""
    if texts.get("invokeai_metadata", "").strip():
        return parse_invokeai_metadata(texts["invokeai_metadata"])
    if texts.get("sd-metadata", "").strip():
        return parse_sd_metadata(texts["sd-metadata"])
    return parse_dream(texts.get("Dream", ""))
