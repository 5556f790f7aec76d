"""Generation settings that other generators write as JSON: SwarmUI, Fooocus, RuinedFooocus,
NovelAI, Civitai, Stability Matrix and Hugging Face Spaces (in a PNG `parameters` or
`Comment` chunk, or a JPEG/WebP's EXIF UserComment)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from app.model.generation_info import (
    GenerationInfo,
    _as_float,
    _as_int,
    _as_str,
    _load_json,
    atelier_scheduler,
    prompt_with_loras,
)

MAX_EXTRAS = 100  # extras kept from one record; the rest are left out
MAX_EXTRA_CHARS = 2000  # one extra's text, cut with an ellipsis beyond
MAX_LORAS = 64
_SIZE = re.compile(r"^\s*[(\[]?\s*(\d{1,6})\s*[,x×*]\s*(\d{1,6})\s*[)\]]?\s*$")
_TAG_NAME = re.compile(r"[^<>:\n\r]{1,200}")  # what a <lora:name:weight> tag can hold
# A JSON object opens with '{"' (or is '{}'); an A1111 prompt may open "{red|blue} car".
_JSON_START = re.compile(r'\s*(?:\{\s*["}]|"\s*\{)')
_NOVELAI_SOURCE = re.compile(r"^(.*?)\s+([0-9A-Fa-f]{8})$")


def looks_like_json(text: str) -> bool:
    """True when metadata text is a JSON object (or a JSON string of one), not A1111 text."""
    return _JSON_START.match(text) is not None


def _object(text: str, what: str) -> dict[str, Any]:
    """The JSON object in `text`; one written as a JSON string of JSON (RuinedFooocus) too."""
    data = _load_json(text, what)
    if isinstance(data, str) and looks_like_json(data):
        data = _load_json(data, what)
    if not isinstance(data, dict):
        raise ValueError(f"{what} is JSON but not an object of settings")
    return data


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    return next((data[key] for key in keys if data.get(key) is not None), None)


def _list(value: Any) -> list[Any]:
    return value[:MAX_LORAS] if isinstance(value, list) else []


def _shown(value: Any) -> str:
    """An extra's value as text: strings as they are, the rest as compact JSON, cut short."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_EXTRA_CHARS else text[: MAX_EXTRA_CHARS - 1] + "…"


def _size(value: Any) -> tuple[int | None, int | None]:
    """Width and height from "(768, 1280)", "1024 x 1024", "832x1216" or [w, h]."""
    if isinstance(value, list | tuple) and len(value) == 2:
        width, height = _as_int(value[0]), _as_int(value[1])
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        width, height = int(match[1]), int(match[2])
    else:
        return None, None
    return (width, height) if width and height and width > 0 and height > 0 else (None, None)


def _lora_pairs(value: Any) -> list[dict[str, Any]]:
    """LoRAs as {"name", "weight"} from the shapes tools write: [name, weight(, hash)],
    [hash, "name: weight"], "name : weight", {"name"/"model_name"/"lora", "weight"}."""
    found: list[dict[str, Any]] = []
    for item in value[:MAX_LORAS] if isinstance(value, list) else []:
        name, weight = None, None
        if isinstance(item, Mapping):
            inner = _first(item, "lora", "model")
            lora = inner if isinstance(inner, Mapping) else item
            name = _first(lora, "name", "model_name", "modelName", "key")
            weight = _first(item, "weight", "strength", "scale")
        elif isinstance(item, list) and len(item) >= 2 and _as_float(item[1]) is not None:
            name, weight = item[0], item[1]
        elif isinstance(item, list) and len(item) >= 2 and isinstance(item[1], str):
            name, _, weight = item[1].rpartition(":")
        elif isinstance(item, str):
            name, _, weight = item.rpartition(":")
        name = _lora_name(name.strip()) if isinstance(name, str) else ""
        if _TAG_NAME.fullmatch(name) and name.lower() != "none" and _as_float(weight) is not None:
            found.append({"name": name, "weight": _as_float(weight)})
    return found


def _lora_name(file_name: str) -> str:
    """A LoRA's name from its file name, as the prompt's <lora:name:weight> tag says it."""
    base = re.split(r"[\\/]", file_name)[-1]
    return re.sub(r"\.(safetensors|ckpt|pt|bin)$", "", base, flags=re.IGNORECASE)


class _Reader:
    """Settings picked from one JSON record: the keys each setting may come from, and
    every other key kept as an extra."""

    def __init__(self, data: Mapping[str, Any], generator: str, skip: tuple[str, ...] = ()):
        self.data, self.generator, self.used = data, generator, set(skip)
        self.fields: dict[str, Any] = {}
        self.extras: dict[str, str] = {}

    def take(self, *keys: str) -> Any:
        self.used.update(keys)
        return _first(self.data, *keys)

    def read(self, name: str, convert: Callable[[Any], Any], *keys: str) -> None:
        value = convert(self.take(*keys))
        if value is not None and self.fields.get(name) is None:
            self.fields[name] = value

    def extra(self, label: str, *keys: str) -> None:
        value = self.take(*keys)
        if value is not None and value != "":
            self.extras[label] = _shown(value)

    def info(self, sampler: Any = None, schedule: Any = None, loras: Any = None) -> GenerationInfo:
        if isinstance(sampler, str) and sampler.strip():
            name, leftover = atelier_scheduler(
                sampler, schedule if isinstance(schedule, str) else ""
            )
            self.fields["scheduler"] = name
            if leftover:
                self.extras["Schedule type"] = leftover
        for key, value in self.data.items():
            if len(self.extras) >= MAX_EXTRAS:
                break
            if key not in self.used and value is not None and value != "" and value != []:
                self.extras.setdefault(str(key)[:100], _shown(value))
        prompt = prompt_with_loras(self.fields.pop("prompt", ""), _lora_pairs(loras))
        width, height = self.fields.pop("width", None), self.fields.pop("height", None)
        size = self.fields.pop("size", (None, None))
        width, height = (width, height) if width and height else size
        return GenerationInfo(
            prompt=prompt,
            width=width if width and width > 0 else None,
            height=height if height and height > 0 else None,
            source="other",
            generator=self.generator,
            extras=self.extras,
            **self.fields,
        )


def _common(reader: _Reader) -> None:
    """The settings most JSON records name alike (snake_case, camelCase or PascalCase)."""
    reader.read("prompt", _as_str, "prompt", "Prompt", "positive_prompt", "PositivePrompt")
    reader.read(
        "negative_prompt",
        _as_str,
        "negative_prompt",
        "negativePrompt",
        "negativeprompt",
        "Negative Prompt",
        "Negative",
        "NegativePrompt",
        "uc",
    )
    reader.read("steps", _as_int, "steps", "Steps", "num_inference_steps", "sample_steps")
    reader.read(
        "cfg_scale",
        _as_float,
        "cfg_scale",
        "cfgScale",
        "cfgscale",
        "CfgScale",
        "guidance_scale",
        "Guidance Scale",
        "cfg",
        "scale",
    )
    reader.read("seed", _as_int, "seed", "Seed")
    reader.read("width", _as_int, "width", "Width")
    reader.read("height", _as_int, "height", "Height")
    reader.read("size", _size, "resolution", "Resolution", "size", "Size")
    reader.read("model", _as_str, "Model", "model", "ModelName", "base_model", "Base Model")
    reader.read("model_hash", _as_str, "Model hash", "model_hash", "ModelHash")
    reader.extra("Denoising strength", "denoising_strength", "denoise", "strength", "Denoise")


def _sampler(reader: _Reader) -> tuple[Any, Any]:
    sampler = reader.take("sampler", "Sampler", "sampler_name")
    return sampler, reader.take("scheduler", "Scheduler", "noise_schedule")


# ---- each generator --------------------------------------------------------------------------


def _swarmui(data: Mapping[str, Any]) -> GenerationInfo:
    params = data.get("sui_image_params")
    params = params if isinstance(params, Mapping) else {}
    version = _as_str(params.get("swarm_version"))
    reader = _Reader(params, f"SwarmUI {version}" if version else "SwarmUI", ("swarm_version",))
    _common(reader)
    reader.extra("Hires upscale", "refinerupscale")
    reader.extra("Hires denoise", "refinercontrolpercentage")
    reader.extra("Image creativity (denoise)", "initimagecreativity")
    names = reader.take("loras")
    weights = reader.take("loraweights")
    loras = [
        [name, weight]
        for name, weight in zip(
            names if isinstance(names, list) else [],
            weights if isinstance(weights, list) else [],
            strict=False,
        )
    ]
    models = data.get("sui_models")
    for model in models[:MAX_LORAS] if isinstance(models, list) else []:
        if isinstance(model, Mapping) and model.get("param") == "model":
            reader.fields.setdefault("model_hash", _as_str(model.get("hash")))
    sampler, schedule = _sampler(reader)
    extra = data.get("sui_extra_data")
    if isinstance(extra, Mapping):
        reader.extras.update({f"Swarm {k}"[:100]: _shown(v) for k, v in list(extra.items())[:20]})
    return reader.info(sampler, schedule, loras)


def _fooocus(data: Mapping[str, Any]) -> GenerationInfo:
    version = _as_str(_first(data, "version", "Version")) or "Fooocus"
    generator = version if "fooocus" in version.lower() else f"Fooocus {version}"
    reader = _Reader(data, generator, ("version", "Version", "metadata_scheme"))
    _common(reader)
    reader.read("model_hash", _as_str, "base_model_hash")
    loras = reader.take("loras")
    if loras is None:  # Fooocus 2.1's log: "LoRA 1": "name : weight"
        numbered = [k for k in data if re.fullmatch(r"LoRA \d+", str(k))]
        loras = [data[k] for k in numbered if isinstance(data[k], str)]
        reader.used.update(numbered)
    sampler, schedule = _sampler(reader)
    return reader.info(sampler, schedule, loras)


def _ruinedfooocus(data: Mapping[str, Any]) -> GenerationInfo:
    version = _as_str(data.get("version"))
    generator = f"RuinedFooocus {version}" if version else "RuinedFooocus"
    reader = _Reader(data, generator, ("software", "version"))
    _common(reader)
    reader.read("model", _as_str, "base_model_name")
    reader.read("model_hash", _as_str, "base_model_hash")
    sampler, schedule = _sampler(reader)
    return reader.info(sampler, schedule, reader.take("loras"))


def _novelai(data: Mapping[str, Any]) -> GenerationInfo:
    """NovelAI: the PNG's chunks (or, in a WebP, a JSON of them): Description is the
    prompt, Source the model and its hash, Comment (JSON) the settings."""
    comment = data.get("Comment")
    settings = _object(comment, "NovelAI Comment") if isinstance(comment, str) else comment
    settings = settings if isinstance(settings, Mapping) else {}
    reader = _Reader(settings, "NovelAI", ("request_type", "signed_hash"))
    _common(reader)
    for name, key in (("prompt", "v4_prompt"), ("negative_prompt", "v4_negative_prompt")):
        reader.used.add(key)
        if not reader.fields.get(name):  # NovelAI 4: {"caption": {"base_caption": ...}}
            reader.fields[name] = _v4_caption(settings.get(key))
    if not reader.fields.get("prompt"):
        reader.fields["prompt"] = _as_str(data.get("Description")) or ""
    source = _as_str(data.get("Source"))
    if source and (match := _NOVELAI_SOURCE.match(source.strip())):
        reader.fields["model"], reader.fields["model_hash"] = match[1], match[2]
    elif source:
        reader.fields["model"] = source
    reader.extra("Cfg rescale", "cfg_rescale")
    sampler, schedule = _sampler(reader)
    return reader.info(sampler, schedule)


def _v4_caption(value: Any) -> str | None:
    caption = value.get("caption") if isinstance(value, Mapping) else None
    return _as_str(caption.get("base_caption")) if isinstance(caption, Mapping) else None


def _civitai(data: Mapping[str, Any]) -> GenerationInfo:
    reader = _Reader(data, "Civitai")
    _common(reader)
    reader.extra("Clip skip", "clipSkip")
    resources = _list(reader.take("resources"))
    civitai = _list(reader.take("civitaiResources"))
    loras = [r for r in resources if isinstance(r, Mapping) and r.get("type") == "lora"]
    for item in resources + civitai:
        if isinstance(item, Mapping) and item.get("type") == "checkpoint":
            reader.fields.setdefault("model", _as_str(_first(item, "name", "modelName")))
            reader.fields.setdefault("model_hash", _as_str(item.get("hash")))
    if resources:
        reader.extras["Resources"] = _shown(resources)
    if civitai:
        reader.extras["Civitai resources"] = _shown(civitai)
    sampler, schedule = _sampler(reader)
    return reader.info(sampler, schedule, loras)


def _stability_matrix(data: Mapping[str, Any]) -> GenerationInfo:
    reader = _Reader(data, "Stability Matrix")
    _common(reader)
    sampler, schedule = _sampler(reader)
    return reader.info(sampler, schedule)


def _huggingface_space(data: Mapping[str, Any]) -> GenerationInfo:
    """A Hugging Face Space (diffusers on Gradio): prompt, resolution "W x H",
    guidance_scale, num_inference_steps, and the model as {"Model", "Model hash"}."""
    reader = _Reader(data, "Hugging Face Space")
    model = data.get("Model")
    if isinstance(model, Mapping):
        reader.used.add("Model")
        reader.fields["model"] = _as_str(_first(model, "Model", "model", "name"))
        reader.fields["model_hash"] = _as_str(_first(model, "Model hash", "hash"))
    _common(reader)
    upscaler = reader.take("use_upscaler")
    if isinstance(upscaler, Mapping):
        reader.extras["Hires upscaler"] = _shown(upscaler.get("upscale_method"))
        reader.extras["Hires upscale"] = _shown(upscaler.get("upscale_by"))
        reader.extras["Denoising strength"] = _shown(upscaler.get("upscaler_strength"))
    sampler, schedule = _sampler(reader)
    return reader.info(sampler, schedule, reader.take("loras"))


_PROMPT_KEYS = ("prompt", "Prompt", "positive_prompt", "PositivePrompt", "Description")


def parse_settings_json(text: str, what: str = "parameters") -> GenerationInfo:
    """Read the JSON settings another generator wrote (where A1111 writes its text),
    telling the generator from its keys. Raises ValueError, and nothing else, when the
    text is not JSON or not a record of settings this knows."""
    data = _object(text, f"the JSON in {what}")
    try:
        return settings_from_mapping(data, what)
    except (TypeError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise ValueError(f"the JSON in {what} is malformed ({type(exc).__name__})") from None


def settings_from_mapping(data: Mapping[str, Any], what: str = "parameters") -> GenerationInfo:
    """Settings from a JSON record already parsed; see parse_settings_json."""
    software = str(data.get("software") or data.get("Software") or "")
    if "sui_image_params" in data:
        return _swarmui(data)
    if software.lower() == "novelai" or ("Comment" in data and "Description" in data):
        return _novelai(data)
    if "ruinedfooocus" in software.lower():
        return _ruinedfooocus(data)
    version = str(data.get("version") or data.get("Version") or "")
    if (
        data.get("metadata_scheme") == "fooocus"
        or "fooocus" in version.lower()
        or "Fooocus V2 Expansion" in data
    ):
        return _fooocus(data)
    if any(key in data for key in ("civitaiResources", "negativePrompt", "cfgScale")):
        return _civitai(data)
    if "PositivePrompt" in data or "ModelName" in data:
        return _stability_matrix(data)
    if "uc" in data and "scale" in data:  # NovelAI's Comment alone
        return _novelai({"Comment": data})
    if any(key in data for key in _PROMPT_KEYS):
        return _huggingface_space(data)
    raise ValueError(f"the JSON in {what} holds no generation settings Atelier knows")


def novelai_settings(texts: Mapping[str, str]) -> GenerationInfo:
    """NovelAI's PNG: its Comment chunk (JSON) with Description, Software and Source."""
    return _novelai(dict(texts))
