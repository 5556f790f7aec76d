"""Generation settings carried in image metadata: A1111 text, ComfyUI graphs, Atelier recipes,
and for an exported picture of several layers, each generated layer's recipe and place.
Other generators' formats are read in their own modules (metadata_json, invokeai_metadata)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import metadata
from typing import Any

from app.model.sampler_names import atelier_scheduler
from engine.untrusted import clean_text, parse_json
from plugins.diffusion.lora_tags import find_tags_lenient, set_tag

# The kind of record the settings come from; "other" is another generator's own format
# (Fooocus, InvokeAI, NovelAI, SwarmUI JSON...), named by GenerationInfo.generator.
SOURCES = ("atelier", "a1111", "comfyui", "other")


@dataclass(frozen=True)
class GenerationInfo:
    """The settings that made an image, as far as its metadata tells (None = not recorded)."""

    prompt: str = ""
    negative_prompt: str = ""
    steps: int | None = None
    cfg_scale: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    scheduler: str | None = None  # one of SCHEDULER_NAMES, or an unknown sampler name verbatim
    model: str | None = None
    model_hash: str | None = None
    source: str = "atelier"
    # The program that wrote the file as far as it says ("Fooocus v2.4.3", "InvokeAI 3.4"),
    # "" when it does not; `describe` shows it as the source.
    generator: str = field(default="", compare=False)
    extras: dict[str, str] = field(default_factory=dict, hash=False)
    # The Atelier recipe the settings come from, when the file carries one: its task picks
    # the mode to reuse them in, and its params hold the mode's own (strength, grow...).
    recipe: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    # An exported picture of several layers: its size and its generated layers; the
    # settings above are then those of the layer it names as `chosen`.
    composite: Composite | None = field(default=None, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; one of {', '.join(SOURCES)}")

    def to_settings(self) -> dict[str, Any]:
        """The recorded settings as a plain dict for restoring a form; unrecorded ones left out."""
        out: dict[str, Any] = {"prompt": self.prompt, "negative_prompt": self.negative_prompt}
        for name in ("steps", "cfg_scale", "seed", "width", "height", "scheduler", "model"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class LayerSettings:
    """A generated layer of an exported picture: its name, where it lies (x, y, width,
    height in the picture's pixels) and the settings, with the recipe, that made it."""

    name: str
    x: int
    y: int
    width: int
    height: int
    info: GenerationInfo


@dataclass(frozen=True)
class Composite:
    """An exported picture made of layers: its size, how many layers it has, and its
    generated layers topmost first; `chosen` is the one whose settings Reuse settings
    loads first (the largest, the topmost of equals)."""

    width: int
    height: int
    layer_count: int
    layers: tuple[LayerSettings, ...]
    chosen: int = 0

    @property
    def chosen_layer(self) -> LayerSettings:
        return self.layers[self.chosen]


MAX_COMPOSITE_LAYERS = 256  # read from a file; more are left out


@cache
def atelier_version() -> str:
    try:
        return metadata.version("atelier")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def _a1111_sampler(scheduler: str) -> tuple[str, str | None]:
    """A1111 1.8+ writes Karras as its own 'Schedule type'."""
    if scheduler == "DPM++ 2M Karras":
        return "DPM++ 2M", "Karras"
    return scheduler, None


# ---- A1111 `parameters` text -----------------------------------------------------------------

# A1111's own pattern (modules/infotext_utils.py): `key: value` or `key: "json string"`,
# found with findall. Here its quantifiers are possessive (the same matches: a key cannot
# hold ':' nor a quoted value '"'), and each match first skips, in C, the text where
# findall would fail: a key run not followed by ':' (every start inside it fails the same
# way) or a one-character key. So every character is looked at a bounded number of times,
# where findall's retry at each next character is quadratic on a long run of key characters.
_PAIR = r'\s*+(\w[\w \-/]++):\s*+("(?:\\.|[^\\"])++"|[^,]*+)(?:,|$)'
_DEAD = r"(?:\s*+(?:\w[\w \-/]*+)?+[^\w:]++|\s*+\w?+:)*+"
_PARAM = re.compile(rf"{_DEAD}(?:{_PAIR}|(?s:.)*+)")
_SIZE = re.compile(r"^(\d+)\s*x\s*(\d+)$")
_NEGATIVE = "Negative prompt:"
_CORE_KEYS = (
    "Steps",
    "Sampler",
    "Schedule type",
    "CFG scale",
    "Seed",
    "Size",
    "Model hash",
    "Model",
    "Version",
)


def _quote(value: str) -> str:
    if value != value.strip() or any(c in value for c in ',:"\n'):
        return json.dumps(value, ensure_ascii=False)
    return value


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value
        return loaded if isinstance(loaded, str) else value
    return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def format_parameters(info: GenerationInfo) -> str:
    """The settings in A1111's `parameters` layout: prompt, 'Negative prompt: ...', params line."""
    params: dict[str, str] = {}
    if info.steps is not None:
        params["Steps"] = str(info.steps)
    sampler, schedule = _a1111_sampler(info.scheduler) if info.scheduler else (None, None)
    if sampler:
        params["Sampler"] = sampler
    if schedule or info.extras.get("Schedule type"):
        params["Schedule type"] = schedule or info.extras["Schedule type"]
    if info.cfg_scale is not None:
        params["CFG scale"] = _number(info.cfg_scale)
    if info.seed is not None:
        params["Seed"] = str(info.seed)
    if info.width is not None and info.height is not None:
        params["Size"] = f"{info.width}x{info.height}"
    if info.model_hash:
        params["Model hash"] = info.model_hash
    if info.model:
        params["Model"] = info.model
    if info.composite is not None:
        params["Composite"] = composite_summary(info.composite)
    params.update({k: str(v) for k, v in info.extras.items() if k not in _CORE_KEYS})
    params["Version"] = info.extras.get("Version") or f"atelier {atelier_version()}"
    line = ", ".join(f"{key}: {_quote(value)}" for key, value in params.items())
    text = info.prompt
    if info.negative_prompt:
        text += f"\n{_NEGATIVE} {info.negative_prompt}"
    return f"{text}\n{line}".strip()


_CANONICAL = {key.lower(): key for key in _CORE_KEYS}  # "CFG Scale" is "CFG scale"
# A key whose value is unquoted JSON (Civitai's "Civitai resources: [{...}, ...]").
_JSON_KEY = re.compile(r"(?:^|,)\s*+([A-Za-z][\w \-/]*+):\s*+(?=[\[{])")
_MAX_JSON_VALUES = 16


def _json_end(text: str, start: int) -> int | None:
    """Where the JSON array or object at `start` ends (just past its closing bracket),
    counting brackets outside strings; None when it does not close on this line."""
    depth, quoted, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if quoted:
            quoted = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _json_values(line: str) -> tuple[str, dict[str, str]]:
    """The line without its unquoted JSON values, and those values by key (so that a
    comma inside one does not end it)."""
    found: dict[str, str] = {}
    kept, pos = [], 0
    while len(found) < _MAX_JSON_VALUES and (match := _JSON_KEY.search(line, pos)):
        end = _json_end(line, match.end())
        if end is None:
            break
        found[match[1].strip()] = line[match.end() : end]
        kept.append(line[pos : match.start()])
        pos = end
    return "".join(kept) + line[pos:], found


def _params_line(line: str) -> dict[str, str] | None:
    """The `key: value` pairs of A1111's last line, or None when it is not a params line."""
    line, json_values = _json_values(line)
    pairs = [(_CANONICAL.get(key.strip().lower(), key.strip()), value)
             for key, value in _PARAM.findall(line) if key]  # fmt: skip
    if not any(key in _CORE_KEYS for key, _ in pairs):
        return None
    return {**{key: _unquote(value) for key, value in pairs}, **json_values}


def a1111_generator(params: Mapping[str, str]) -> str:
    """The program an A1111-style params line names: its Version ("v1.9.4" is A1111's,
    "f2.0.1" Forge's, others name themselves: "Fooocus v2.5.5"), or Civitai's fields."""
    version = params.get("Version", "").strip()
    if re.match(r"v?\d", version):
        return f"AUTOMATIC1111 {version}"
    if re.match(r"f\d", version):
        return f"Forge {version}"
    if version:
        return version
    return "Civitai" if "Civitai resources" in params or "Civitai metadata" in params else ""


def parse_parameters(text: str) -> GenerationInfo:
    """Read A1111/Forge `parameters` text; only the last line can hold the settings, so a
    prompt may contain 'Steps:' itself. Unknown keys go into extras."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    params = _params_line(lines[-1])
    if params is not None:
        lines = lines[:-1]
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for line in lines:
        if target is prompt and line.strip().startswith(_NEGATIVE):
            target, line = negative, line.strip()[len(_NEGATIVE) :]
        target.append(line)
    return _from_params(params or {}, "\n".join(prompt).strip(), "\n".join(negative).strip())


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float
        return None
    return number if math.isfinite(number) else None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_NUMBERS = {
    "Steps": ("steps", _as_int),
    "CFG scale": ("cfg_scale", _as_float),
    "Seed": ("seed", _as_int),
}


def _from_params(params: dict[str, str], prompt: str, negative: str) -> GenerationInfo:
    extras: dict[str, str] = {}
    fields: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative, "source": "a1111"}
    for key, value in params.items():
        size = _SIZE.match(value)
        name, convert = _NUMBERS.get(key, ("", _as_int))
        if name and convert(value) is not None:
            fields[name] = convert(value)
        elif key == "Size" and size:
            fields["width"], fields["height"] = int(size[1]), int(size[2])
        elif key in ("Model", "Model hash"):
            fields["model" if key == "Model" else "model_hash"] = value
        elif key == "Version" and value.lower().startswith("atelier"):
            fields["source"] = "atelier"
        elif key == "Civitai resources" and "Model" not in params:
            fields["model"] = _civitai_checkpoint(value)
            extras[key] = value
        elif key != "Sampler":
            extras[key] = value
    if "Sampler" in params:
        schedule = extras.pop("Schedule type", "")
        fields["scheduler"], leftover = atelier_scheduler(params["Sampler"], schedule)
        if leftover:
            extras["Schedule type"] = leftover
    generator = "" if fields["source"] == "atelier" else a1111_generator(params)
    return GenerationInfo(**fields, generator=generator, extras=extras)


# What a record says about the run rather than a setting: not listed as left out.
_NOT_SETTINGS = {"version", "date", "created date", "generation_time", "generation time"}


def unused_settings(info: GenerationInfo, limit: int = 8) -> list[str]:
    """What another generator recorded that Atelier has no setting for (its extras but the
    program's version, the date and the ControlNet units, which Reuse settings makes into
    control layers), as "name (value)", at most `limit` and a count of the rest; none for
    Atelier's own."""
    if info.source == "atelier":
        return []
    extras = [
        (k, v)
        for k, v in info.extras.items()
        if k.lower() not in _NOT_SETTINGS and not is_controlnet_field(k)
    ]
    shown = [
        f"{key} ({value if len(value) <= 40 else value[:39] + '…'})"
        for key, value in extras[:limit]
    ]
    if len(extras) > limit:
        shown.append(f"{len(extras) - limit} more")
    return shown


# ---- A1111's ControlNet units ----------------------------------------------------------------

# sd-webui-controlnet writes each unit as one field: `ControlNet 0: "Module: canny, Model:
# control_v11p_sd15_canny [d14c016b], Weight: 1, ..., Guidance Start: 0, Guidance End: 1"`
# (its older versions: `ControlNet` alone for one unit, "preprocessor: canny", "starting/ending:
# (0, 1)"); Atelier writes the same (plugins.diffusion.controls).
_CONTROLNET_KEY = re.compile(r"ControlNet(?: (\d{1,3}))?")
MAX_CONTROLNET_UNITS = 16  # read from a file; more are left out


def is_controlnet_field(key: str) -> bool:
    """Whether `key` of a params line is a ControlNet unit ("ControlNet 0")."""
    return _CONTROLNET_KEY.fullmatch(key) is not None


def controlnet_units(extras: Mapping[str, str]) -> list[dict[str, str]]:
    """The ControlNet units a params line records (its "ControlNet N" fields), in unit
    order, each as its `key: value` pairs with the keys in lower case."""
    units = []
    for key, value in extras.items():
        match = _CONTROLNET_KEY.fullmatch(key)
        if match:
            units.append((int(match[1] or 0), _unit_pairs(value)))
    units.sort(key=lambda unit: unit[0])
    return [pairs for _, pairs in units[:MAX_CONTROLNET_UNITS]]


def _unit_pairs(text: str) -> dict[str, str]:
    """`key: value` pairs split at commas outside parentheses ("starting/ending: (0, 1)")."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char == "," and not depth:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    pairs = (part.partition(":") for part in parts)
    return {key.strip().lower(): value.strip() for key, colon, value in pairs if colon}


def _civitai_checkpoint(resources: str) -> str | None:
    """The checkpoint's name in Civitai's resource list (JSON), None without one."""
    try:
        items = _load_json(resources, "Civitai resources")
    except ValueError:
        return None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get("type") == "checkpoint":
            name = _as_str(item.get("modelName"))
            version = _as_str(item.get("modelVersionName"))
            return f"{name} {version}" if name and version else name
    return None


def _load_json(text: str, what: str) -> Any:
    """JSON from an image's metadata, size and depth bounded; ValueError when unusable."""
    return parse_json(text, what)


# ---- Atelier's own recipe chunk --------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()  # numpy scalars
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Enum):
        return value.value
    return str(value)  # paths, fractions and the like


def format_atelier(info: GenerationInfo, recipe: Mapping[str, Any] | None = None) -> str:
    """Atelier's JSON chunk: the settings, plus the recipe that can make the image again,
    and for a composite its size and generated layers (see `composite_record`)."""
    generation = dataclasses.asdict(dataclasses.replace(info, recipe=None, composite=None))
    generation.pop("recipe")  # the recipe goes once, beside the settings
    generation.pop("composite")
    data: dict[str, Any] = {"atelier": atelier_version(), "generation": generation}
    if recipe is not None:
        data["recipe"] = dict(recipe)
    if info.composite is not None:
        data["composite"] = composite_record(info.composite)
    return json.dumps(data, ensure_ascii=False, default=_json_default)


def info_from_recipe(recipe: Mapping[str, Any]) -> GenerationInfo:
    """Settings from a layer/job recipe: {"task", "version", "params": {...}, "model": {...}}."""
    params = recipe.get("params")
    params = params if isinstance(params, Mapping) else {}
    model = recipe.get("model")
    model_hash = model.get("hash") if isinstance(model, Mapping) else None
    info = _info_from_mapping({**params, "model_hash": model_hash})
    prompt = prompt_with_loras(info.prompt, _records(params.get("loras")))
    extras = {**info.extras, **steering_extras(recipe)}
    return dataclasses.replace(info, prompt=prompt, extras=extras, recipe=dict(recipe))


# ---- steering (LoRAs, embeddings, controls) in A1111's words ----------------------------------


def _records(value: Any) -> list[Mapping[str, Any]]:
    """The entries of a recipe list ("loras", "controls", "models") that are mappings."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def prompt_with_loras(prompt: str, loras: list[Mapping[str, Any]]) -> str:
    """The prompt with a `<lora:name:weight>` tag for each recipe LoRA it has no tag of
    (LoRAs given as params, not typed): the prompt alone then says every LoRA, as A1111's."""
    tagged = {tag.name.casefold() for tag in find_tags_lenient(prompt)}
    for lora in loras:
        name, weight = lora.get("name"), _as_float(lora.get("weight"))
        usable = isinstance(name, str) and name and weight is not None
        if usable and name.casefold() not in tagged:
            prompt = set_tag(prompt, name, weight)
    return prompt


def steering_extras(recipe: Mapping[str, Any]) -> dict[str, str]:
    """A1111's fields for a recipe's LoRAs ("Lora hashes") and embeddings ("TI hashes"),
    with the files' hashes from the recipe's "models" (the controls' "ControlNet N" fields
    come with the recipe's extras, from plugins.diffusion.controls)."""
    params = recipe.get("params")
    params = params if isinstance(params, Mapping) else {}
    hashes = {
        m["name"]: m["hash"]
        for m in _records(recipe.get("models"))
        if isinstance(m.get("name"), str) and isinstance(m.get("hash"), str)
    }
    extras = {}
    for key, field_name in (("Lora hashes", "loras"), ("TI hashes", "embeddings")):
        names = [r.get("name") for r in _records(params.get(field_name))]
        pairs = [f"{name}: {hashes[name]}" for name in names if name in hashes]
        if pairs:
            extras[key] = ", ".join(pairs)
    return extras


def _info_from_mapping(data: Mapping[str, Any]) -> GenerationInfo:
    extras = data.get("extras")
    return GenerationInfo(
        prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else "",
        negative_prompt=_as_str(data.get("negative_prompt")) or "",
        steps=_as_int(data.get("steps")),
        cfg_scale=_as_float(data.get("cfg_scale")),
        seed=_as_int(data.get("seed")),
        width=_as_int(data.get("width")) or None,
        height=_as_int(data.get("height")) or None,
        scheduler=_as_str(data.get("scheduler")),
        model=_as_str(data.get("model")),
        model_hash=_as_str(data.get("model_hash")),
        extras={str(k): str(v) for k, v in extras.items()} if isinstance(extras, dict) else {},
    )


def parse_atelier(recipe_json: str) -> GenerationInfo:
    """Read Atelier's JSON chunk (see format_atelier), with its recipe when it has one."""
    data = _load_json(recipe_json, "Atelier recipe")
    recipe = data.get("recipe") if isinstance(data, dict) else None
    recipe = recipe if isinstance(recipe, dict) else None
    composite = parse_composite(data.get("composite")) if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(data.get("generation"), dict):
        info = _info_from_mapping(data["generation"])
        return dataclasses.replace(info, recipe=recipe, composite=composite)
    if recipe is not None:
        return dataclasses.replace(info_from_recipe(recipe), composite=composite)
    raise ValueError("Atelier recipe holds no generation settings")


# ---- composites: exported pictures of several layers -----------------------------------------


def make_composite(
    width: int, height: int, layer_count: int, layers: list[Mapping[str, Any]]
) -> Composite | None:
    """A composite of `layers` ({"name", "x", "y", "width", "height", "recipe"}, topmost
    first), choosing the largest (the topmost of equals) as the one Reuse settings loads;
    None without a generated layer."""
    record = {"width": width, "height": height, "layer_count": layer_count, "layers": layers}
    composite = parse_composite(record)
    if composite is None:
        return None
    areas = [layer.width * layer.height for layer in composite.layers]
    return dataclasses.replace(composite, chosen=areas.index(max(areas)))


def composite_record(composite: Composite) -> dict[str, Any]:
    """A composite as Atelier's chunk holds it (JSON): what `parse_composite` reads."""
    return {
        "width": composite.width,
        "height": composite.height,
        "layer_count": composite.layer_count,
        "chosen": composite.chosen,
        "layers": [
            {
                "name": layer.name,
                "x": layer.x,
                "y": layer.y,
                "width": layer.width,
                "height": layer.height,
                "recipe": layer.info.recipe,
            }
            for layer in composite.layers
        ],
    }


def parse_composite(data: Any) -> Composite | None:
    """The composite a file's chunk describes; None when it has none or it is not what
    Atelier writes (layers that are not are left out: the chunk comes from anyone)."""
    if not isinstance(data, Mapping):
        return None
    width, height = _as_int(data.get("width")), _as_int(data.get("height"))
    if not width or not height or width < 0 or height < 0:
        return None
    raw = data.get("layers")
    raw = raw[:MAX_COMPOSITE_LAYERS] if isinstance(raw, list) else []
    layers = tuple(layer for layer in map(_layer_settings, raw) if layer is not None)
    if not layers:
        return None
    chosen = _as_int(data.get("chosen")) or 0
    count = _as_int(data.get("layer_count")) or 0
    return Composite(
        width,
        height,
        max(count, len(layers)),
        layers,
        chosen if 0 <= chosen < len(layers) else 0,
    )


def _layer_settings(data: Any) -> LayerSettings | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("recipe"), Mapping):
        return None
    x, y, width, height = (_as_int(data.get(key)) for key in ("x", "y", "width", "height"))
    if x is None or y is None or not width or not height or width < 0 or height < 0:
        return None
    name = data.get("name")
    name = clean_text(name) if isinstance(name, str) else ""
    return LayerSettings(name, x, y, width, height, info_from_recipe(data["recipe"]))


def composite_info(composite: Composite) -> GenerationInfo:
    """The settings of a composite: its chosen layer's, with the composite beside them."""
    return dataclasses.replace(composite.chosen_layer.info, composite=composite)


def composite_summary(composite: Composite) -> str:
    """One line: the picture's size, its layers, and whose settings go with it."""
    generated = len(composite.layers)
    layers = "layer" if composite.layer_count == 1 else "layers"
    return (
        f"{composite.width}x{composite.height}, {composite.layer_count} {layers} "
        f'({generated} generated); these settings: layer "{composite.chosen_layer.name}"'
    )
