"""ComfyUI graphs read as generation settings: the API `prompt` graph or the UI `workflow`."""

from __future__ import annotations

from typing import Any

from app.model.generation_info import (
    GenerationInfo,
    _as_float,
    _as_int,
    _as_str,
    _load_json,
    _number,
    atelier_scheduler,
)

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
    """Read ComfyUI's API-format `prompt` graph, or the UI `workflow` when there is no prompt.
    Raises ValueError, and nothing else, for any text."""
    try:
        return _parse_comfyui(prompt_json, workflow_json)
    except (TypeError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        # a hand-edited or hostile graph: a number where a list belongs, null in a list...
        raise ValueError(f"ComfyUI graph is malformed ({type(exc).__name__}: {exc})") from None


def _parse_comfyui(prompt_json: str | None, workflow_json: str | None) -> GenerationInfo:
    graph: Graph = {}
    if prompt_json and prompt_json.strip():
        graph = _api_graph(_load_json(prompt_json, "ComfyUI prompt"))
    if not _samplers(graph) and workflow_json and workflow_json.strip():
        graph = _workflow_graph(_load_json(workflow_json, "ComfyUI workflow"))
    samplers = _samplers(graph)
    if not samplers:
        raise ValueError("ComfyUI graph has no KSampler node, so it records no generation settings")
    return _comfy_info(graph, samplers)


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
