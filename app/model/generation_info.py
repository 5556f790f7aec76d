"""Generation settings carried in image metadata: A1111 text, ComfyUI graphs, Atelier recipes."""

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

SCHEDULERS = ("Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DDIM", "UniPC", "LCM")
SOURCES = ("atelier", "a1111", "comfyui")


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
    scheduler: str | None = None  # one of SCHEDULERS, or an unknown sampler name verbatim
    model: str | None = None
    model_hash: str | None = None
    source: str = "atelier"
    extras: dict[str, str] = field(default_factory=dict, hash=False)

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


@cache
def atelier_version() -> str:
    try:
        return metadata.version("atelier")
    except metadata.PackageNotFoundError:
        return "0.1.0"


# ---- sampler names ---------------------------------------------------------------------------

# Lower-cased A1111 sampler names and aliases, and ComfyUI sampler names -> Atelier's names.
_SAMPLERS = {
    "euler": "Euler",
    "k_euler": "Euler",
    "euler a": "Euler a",
    "k_euler_a": "Euler a",
    "k_euler_ancestral": "Euler a",
    "euler_ancestral": "Euler a",
    "dpm++ 2m": "DPM++ 2M",
    "k_dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m": "DPM++ 2M",
    "dpm++ 2m karras": "DPM++ 2M Karras",
    "k_dpmpp_2m_ka": "DPM++ 2M Karras",
    "ddim": "DDIM",
    "unipc": "UniPC",
    "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC",
    "lcm": "LCM",
}


def atelier_scheduler(sampler: str, schedule: str = "") -> tuple[str, str | None]:
    """Atelier's name for an A1111/ComfyUI sampler and schedule type, plus the schedule type
    when it could not be folded into the name (unknown samplers come back verbatim)."""
    name = _SAMPLERS.get(sampler.strip().lower(), sampler.strip())
    if name == "DPM++ 2M" and schedule.strip().lower() == "karras":
        return "DPM++ 2M Karras", None
    return name, (schedule.strip() or None)


def _a1111_sampler(scheduler: str) -> tuple[str, str | None]:
    """A1111 1.8+ writes Karras as its own 'Schedule type'."""
    if scheduler == "DPM++ 2M Karras":
        return "DPM++ 2M", "Karras"
    return scheduler, None


# ---- A1111 `parameters` text -----------------------------------------------------------------

# A1111's own pattern (modules/infotext_utils.py): `key: value` or `key: "json string"`.
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
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
    params.update({k: str(v) for k, v in info.extras.items() if k not in _CORE_KEYS})
    params["Version"] = info.extras.get("Version") or f"atelier {atelier_version()}"
    line = ", ".join(f"{key}: {_quote(value)}" for key, value in params.items())
    text = info.prompt
    if info.negative_prompt:
        text += f"\n{_NEGATIVE} {info.negative_prompt}"
    return f"{text}\n{line}".strip()


def _params_line(line: str) -> dict[str, str] | None:
    """The `key: value` pairs of A1111's last line, or None when it is not a params line."""
    pairs = _PARAM.findall(line)
    if not any(key in _CORE_KEYS for key, _ in pairs):
        return None
    return {key.strip(): _unquote(value) for key, value in pairs}


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
    except (TypeError, ValueError):
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
        elif key != "Sampler":
            extras[key] = value
    if "Sampler" in params:
        schedule = extras.pop("Schedule type", "")
        fields["scheduler"], leftover = atelier_scheduler(params["Sampler"], schedule)
        if leftover:
            extras["Schedule type"] = leftover
    return GenerationInfo(**fields, extras=extras)


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        msg = getattr(exc, "msg", str(exc))
        raise ValueError(f"{what} is not valid JSON ({msg})") from None


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
    """Atelier's JSON chunk: the settings, plus the recipe that can make the image again."""
    data: dict[str, Any] = {"atelier": atelier_version(), "generation": dataclasses.asdict(info)}
    if recipe is not None:
        data["recipe"] = dict(recipe)
    return json.dumps(data, ensure_ascii=False, default=_json_default)


def info_from_recipe(recipe: Mapping[str, Any]) -> GenerationInfo:
    """Settings from a layer/job recipe: {"task", "version", "params": {...}, "model": {...}}."""
    params = recipe.get("params")
    params = params if isinstance(params, Mapping) else {}
    model = recipe.get("model")
    model_hash = model.get("hash") if isinstance(model, Mapping) else None
    return _info_from_mapping({**params, "model_hash": model_hash})


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
    """Read Atelier's JSON chunk (see format_atelier)."""
    data = _load_json(recipe_json, "Atelier recipe")
    if isinstance(data, dict) and isinstance(data.get("generation"), dict):
        return _info_from_mapping(data["generation"])
    if isinstance(data, dict) and isinstance(data.get("recipe"), dict):
        return info_from_recipe(data["recipe"])
    raise ValueError("Atelier recipe holds no generation settings")


# ---- ComfyUI graphs --------------------------------------------------------------------------

# Widget order of the core nodes in a UI-format `workflow` (widgets_values is positional).
_WIDGETS = {
    "KSampler": ("seed", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", "steps", "cfg", "sampler_name", "scheduler")
    + ("start_at_step", "end_at_step", "return_with_leftover_noise"),
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeSDXL": ("width", "height", "crop_w", "crop_h", "target_width")
    + ("target_height", "text_g", "text_l"),
    "CLIPTextEncodeSDXLRefiner": ("ascore", "width", "height", "text"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "CLIPSetLastLayer": ("stop_at_clip_layer",),
    "VAELoader": ("vae_name",),
}
_SEED_CONTROLS = ("fixed", "increment", "decrement", "randomize")
_TEXT_KEYS = ("text", "text_g", "string", "value", "prompt", "Text")
_NUMBER_KEYS = ("value", "seed", "noise_seed", "int", "float", "number", "steps", "cfg")
Graph = dict[str, dict[str, Any]]


def parse_comfyui(prompt_json: str | None, workflow_json: str | None = None) -> GenerationInfo:
    """Read ComfyUI's API-format `prompt` graph, or the UI `workflow` when there is no prompt."""
    graph: Graph = {}
    if prompt_json and prompt_json.strip():
        graph = _api_graph(_load_json(prompt_json, "ComfyUI prompt"))
    if not _samplers(graph) and workflow_json and workflow_json.strip():
        graph = _workflow_graph(_load_json(workflow_json, "ComfyUI workflow"))
    samplers = _samplers(graph)
    if not samplers:
        raise ValueError("ComfyUI graph has no KSampler node, so it records no generation settings")
    try:
        return _comfy_info(graph, samplers)
    except (TypeError, AttributeError, KeyError, IndexError) as exc:  # a hand-edited graph
        raise ValueError(f"ComfyUI graph is malformed ({exc})") from None


def _api_graph(data: Any) -> Graph:
    if not isinstance(data, dict):
        raise ValueError("ComfyUI prompt is not a graph (expected a JSON object of nodes)")
    return {
        str(nid): {"class_type": node["class_type"], "inputs": _dict(node.get("inputs"))}
        for nid, node in data.items()
        if isinstance(node, dict) and isinstance(node.get("class_type"), str)
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _workflow_graph(data: Any) -> Graph:
    """Turn a UI-format workflow (nodes with positional widgets_values) into an API-like graph."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise ValueError("ComfyUI workflow has no list of nodes")
    links: dict[Any, list[Any]] = {}
    for link in data.get("links") or []:
        if isinstance(link, list) and len(link) >= 3:
            links[link[0]] = [str(link[1]), link[2]]
        elif isinstance(link, dict) and "id" in link:
            links[link["id"]] = [str(link.get("origin_id")), link.get("origin_slot", 0)]
    graph: Graph = {}
    for node in data["nodes"]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        widgets = node.get("widgets_values")
        if isinstance(widgets, dict):
            inputs = dict(widgets)
        else:
            inputs = _widget_inputs(_WIDGETS.get(node["type"], ()), widgets or [])
        for slot in node.get("inputs") or []:
            name, link = slot.get("name", ""), slot.get("link")
            if link in links and not (slot.get("widget") and name in inputs):
                inputs[name] = links[link]
        graph[str(node.get("id"))] = {
            "class_type": node["type"],
            "inputs": inputs,
            "mode": node.get("mode", 0),
        }
    return graph


def _widget_inputs(names: tuple[str, ...], values: list[Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    values = list(values)
    for name in names:
        if not values:
            break
        inputs[name] = values.pop(0)
        if name in ("seed", "noise_seed") and values and values[0] in _SEED_CONTROLS:
            values.pop(0)  # the "control after generate" widget that follows a seed
    return inputs


def _samplers(graph: Graph) -> list[tuple[str, dict[str, Any]]]:
    found = [
        (nid, node)
        for nid, node in graph.items()
        if node["class_type"].startswith("KSampler")
        and isinstance(node["inputs"], dict)
        and "steps" in node["inputs"]
        and node.get("mode", 0) not in (2, 4)  # muted or bypassed in the UI
    ]
    return sorted(found, key=lambda item: (len(item[0]), item[0]))


def _node(graph: Graph, value: Any) -> dict[str, Any] | None:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int):
        node = graph.get(str(value[0]))
        return node if node and isinstance(node.get("inputs"), dict) else None
    return None


def _scalar(graph: Graph, value: Any, keys: tuple[str, ...]) -> Any:
    """A widget value, following links to primitive/value nodes."""
    for _ in range(20):
        node = _node(graph, value)
        if node is None:
            return value
        value = next((node["inputs"][k] for k in keys if k in node["inputs"]), None)
    return None


def _texts(graph: Graph, value: Any, polarity: str, out: list[str], second: list[str]) -> None:
    """Collect prompt texts behind a conditioning link (text_l of SDXL nodes into `second`)."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        node = _node(graph, stack.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        inputs = node["inputs"]
        text = _scalar(graph, inputs.get("text", inputs.get("text_g")), _TEXT_KEYS)
        if isinstance(text, str):
            out.append(text)
            text_l = _scalar(graph, inputs.get("text_l"), _TEXT_KEYS)
            if "text_g" in inputs and isinstance(text_l, str) and text_l not in ("", text):
                second.append(text_l)
            continue
        follow = [
            v
            for k, v in inputs.items()
            if k == polarity or "conditioning" in k.lower() or node["class_type"] == "Reroute"
        ]
        stack.extend(reversed(follow))


def _latent_size(graph: Graph, sampler: dict[str, Any]) -> tuple[int, int] | None:
    value = sampler["inputs"].get("latent_image")
    for _ in range(20):
        node = _node(graph, value)
        if node is None:
            return None
        inputs = node["inputs"]
        width = _as_int(_scalar(graph, inputs.get("width"), _NUMBER_KEYS))
        height = _as_int(_scalar(graph, inputs.get("height"), _NUMBER_KEYS))
        if width and height:
            return width, height
        value = next(
            (inputs[k] for k in ("samples", "latent", "latent_image", "") if k in inputs), None
        )
    return None


def _model_name(file_name: str) -> str:
    """A model's name is its file name without folder or extension (ComfyUI may use '\\')."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return (
        stem if dot and ext.lower() in ("safetensors", "ckpt", "pt", "pth", "bin", "gguf") else base
    )


def _model(graph: Graph, sampler: dict[str, Any], extras: dict[str, str]) -> str | None:
    value, loras, name = sampler["inputs"].get("model"), [], None
    for _ in range(30):
        node = _node(graph, value)
        if node is None:
            break
        inputs = node["inputs"]
        name = _as_str(inputs.get("ckpt_name")) or _as_str(inputs.get("unet_name"))
        if name:
            break
        if _as_str(inputs.get("lora_name")):
            strength = _as_float(inputs.get("strength_model"))
            weight = f" ({_number(strength)})" if strength is not None else ""
            loras.append(_model_name(inputs["lora_name"]) + weight)
        links = [v for v in inputs.values() if _node(graph, v)]
        value = inputs["model"] if "model" in inputs else (links[0] if links else None)
    if not name:
        checkpoints = [n for n in graph.values() if _as_str(n["inputs"].get("ckpt_name"))]
        name = checkpoints[0]["inputs"]["ckpt_name"] if len(checkpoints) == 1 else None
    if loras:
        extras["Loras"] = ", ".join(reversed(loras))
    return _model_name(name) if name else None


def _comfy_info(graph: Graph, samplers: list[tuple[str, dict[str, Any]]]) -> GenerationInfo:
    def rank(item: tuple[str, dict[str, Any]]) -> tuple[bool, bool]:
        adds_noise = item[1]["inputs"].get("add_noise", "enable") != "disable"
        return _latent_size(graph, item[1]) is None, not adds_noise

    sampler = min(samplers, key=rank)[1]  # the base pass: starts from an empty latent with noise
    inputs = sampler["inputs"]

    def number(key: str) -> Any:
        return _scalar(graph, inputs.get(key), _NUMBER_KEYS)

    extras: dict[str, str] = {}
    prompts: dict[str, tuple[list[str], list[str]]] = {}
    for polarity in ("positive", "negative"):
        prompts[polarity] = ([], [])
        _texts(graph, inputs.get(polarity), polarity, *prompts[polarity])
        if prompts[polarity][1]:
            label = "Prompt" if polarity == "positive" else "Negative prompt"
            extras[f"{label} (text_l)"] = "\n".join(prompts[polarity][1])
    sampler_name = _scalar(graph, inputs.get("sampler_name"), _TEXT_KEYS)
    schedule = _scalar(graph, inputs.get("scheduler"), _TEXT_KEYS)
    scheduler, leftover = (None, None)
    if isinstance(sampler_name, str):
        scheduler, leftover = atelier_scheduler(
            sampler_name, schedule if isinstance(schedule, str) else ""
        )
    if leftover:
        extras["Schedule type"] = leftover
    denoise = _as_float(number("denoise"))
    if denoise is not None and denoise != 1.0:
        extras["Denoising strength"] = _number(denoise)
    model = _model(graph, sampler, extras)
    for node in graph.values():
        clip_skip = _as_int(node["inputs"].get("stop_at_clip_layer"))
        if node["class_type"] == "CLIPSetLastLayer" and clip_skip is not None:
            extras["Clip skip"] = str(-clip_skip)
        if node["class_type"] == "VAELoader" and _as_str(node["inputs"].get("vae_name")):
            extras["VAE"] = node["inputs"]["vae_name"]
    if len(samplers) > 1:
        extras["Sampler nodes"] = str(len(samplers))
    size = _latent_size(graph, sampler)
    return GenerationInfo(
        prompt="\n".join(dict.fromkeys(prompts["positive"][0])).strip(),
        negative_prompt="\n".join(dict.fromkeys(prompts["negative"][0])).strip(),
        steps=_as_int(number("steps")),
        cfg_scale=_as_float(number("cfg")),
        seed=_as_int(number("seed") if "seed" in inputs else number("noise_seed")),
        width=size[0] if size else None,
        height=size[1] if size else None,
        scheduler=scheduler,
        model=model,
        source="comfyui",
        extras=extras,
    )
