"""ComfyUI's UI `workflow` turned into the API graph shape, its subgraphs flattened in.

A UI workflow lists nodes with positional `widgets_values` and links as
[id, origin, slot, target, slot, type] (or {"id", "origin_id", ...} inside subgraphs).
The result is what a `prompt` chunk holds: {node id: {"class_type", "inputs"}}, with a
link as [origin id, slot]; nodes inside a subgraph get ComfyUI's own "instance:inner"
ids. Bounded: nested subgraphs at most MAX_DEPTH deep, MAX_NODES nodes in all.
"""

from __future__ import annotations

from typing import Any

Graph = dict[str, dict[str, Any]]

MAX_NODES = 20_000
MAX_DEPTH = 8
_MAX_HOPS = 64  # subgraph input/output hops one link may pass through
_SUBGRAPH_IN, _SUBGRAPH_OUT = -10, -20  # the ids ComfyUI gives a subgraph's input/output nodes
SEED_CONTROLS = ("fixed", "increment", "decrement", "randomize")

_KSAMPLER = ("seed", "steps", "cfg", "sampler_name", "scheduler", "denoise")
_KSAMPLER_ADVANCED = ("add_noise", "noise_seed", "steps", "cfg", "sampler_name", "scheduler")
_KSAMPLER_ADVANCED += ("start_at_step", "end_at_step", "return_with_leftover_noise")
# Widget order of the nodes read here, core and custom (widgets_values is positional).
WIDGETS = {
    "KSampler": _KSAMPLER,
    "KSampler (Efficient)": _KSAMPLER,
    "KSamplerAdvanced": _KSAMPLER_ADVANCED,
    "KSampler Adv. (Efficient)": _KSAMPLER_ADVANCED,
    "SamplerCustom": ("add_noise", "noise_seed", "cfg"),
    "RandomNoise": ("noise_seed",),
    "KSamplerSelect": ("sampler_name",),
    "BasicScheduler": ("scheduler", "steps", "denoise"),
    "KarrasScheduler": ("steps", "sigma_max", "sigma_min", "rho"),
    "SDTurboScheduler": ("steps", "denoise"),
    "AlignYourStepsScheduler": ("model_type", "steps", "denoise"),
    "CFGGuider": ("cfg",),
    "FluxGuidance": ("guidance",),
    "CLIPTextEncode": ("text",),
    "CLIPTextEncodeFlux": ("clip_l", "t5xxl", "guidance"),
    "CLIPTextEncodeSDXL": ("width", "height", "crop_w", "crop_h", "target_width")
    + ("target_height", "text_g", "text_l"),
    "CLIPTextEncodeSDXLRefiner": ("ascore", "width", "height", "text"),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "SDXL Empty Latent Image (rgthree)": ("dimensions", "clip_scale", "batch_size"),
    "CR SDXL Aspect Ratio": ("width", "height", "aspect_ratio", "swap_dimensions")
    + ("upscale_factor", "batch_size"),
    "LatentUpscale": ("upscale_method", "width", "height", "crop"),
    "LatentUpscaleBy": ("upscale_method", "scale_by"),
    "ImageScale": ("upscale_method", "width", "height", "crop"),
    "ImageScaleBy": ("upscale_method", "scale_by"),
    "UpscaleModelLoader": ("model_name",),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "CLIPSetLastLayer": ("stop_at_clip_layer",),
    "VAELoader": ("vae_name",),
    "PrimitiveNode": ("value",),
    "PrimitiveString": ("value",),
    "PrimitiveStringMultiline": ("value",),
    "PrimitiveInt": ("value",),
    "PrimitiveFloat": ("value",),
    "CR Prompt Text": ("prompt",),
    "Text Multiline": ("text",),
    "String Literal": ("string",),
    "StringConcatenate": ("string_a", "string_b", "delimiter"),
    "CR Text Input Switch": ("Input",),
    "CR Text Input Switch (4 way)": ("Input",),
    "ImpactSwitch": ("select", "sel_mode"),
}


def workflow_graph(data: Any) -> Graph:
    """The API-shaped graph of a UI workflow; ValueError when it has no list of nodes or
    more nodes than MAX_NODES."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise ValueError("ComfyUI workflow has no list of nodes")
    definitions = data.get("definitions")
    subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    flat = _Flattener(
        {sg["id"]: sg for sg in subgraphs or [] if isinstance(sg, dict) and "id" in sg}
        if isinstance(subgraphs, list)
        else {}
    )
    flat.level(data, "", 0)
    return flat.finish()


def _link_table(links: Any, prefix: str) -> dict[Any, tuple[str, Any]]:
    """Link id -> (origin's flat id, origin slot), for either form of link."""
    table: dict[Any, tuple[str, Any]] = {}
    for link in links if isinstance(links, list) else []:
        if isinstance(link, list) and len(link) >= 3:
            table[_key(link[0])] = (_flat_id(prefix, link[1]), link[2])
        elif isinstance(link, dict) and "id" in link:
            table[_key(link["id"])] = (
                _flat_id(prefix, link.get("origin_id")),
                link.get("origin_slot", 0),
            )
    return table


def _key(value: Any) -> Any:
    """A link id usable as a dict key (a list or dict from a hostile file is not)."""
    return value if isinstance(value, str | int | float | bool) or value is None else repr(value)


def _flat_id(prefix: str, node_id: Any) -> str:
    return f"{prefix}{node_id}"


class _Flattener:
    """Builds the flat graph level by level; links into or out of a subgraph become
    redirects resolved at the end."""

    def __init__(self, subgraphs: dict[Any, dict[str, Any]]) -> None:
        self.subgraphs = {_key(k): v for k, v in subgraphs.items()}
        self.graph: Graph = {}
        # (flat node id, slot) of a subgraph instance's output or a subgraph's input node
        # -> the value that stands there (a link [id, slot] or a widget's value)
        self.redirects: dict[tuple[str, Any], Any] = {}
        self.count = 0

    def level(self, data: dict[str, Any], prefix: str, depth: int) -> None:
        links = _link_table(data.get("links"), prefix)
        for node in data.get("nodes") or []:
            if not isinstance(node, dict) or not isinstance(node.get("type"), str):
                continue
            self.count += 1
            if self.count > MAX_NODES:
                raise ValueError(f"ComfyUI workflow has more than {MAX_NODES} nodes")
            flat_id = _flat_id(prefix, node.get("id"))
            inputs = _node_inputs(node, links)
            definition = self.subgraphs.get(_key(node["type"]))
            if definition is not None and depth < MAX_DEPTH:
                self.instance(node, flat_id, inputs, definition, depth)
                continue
            self.graph[flat_id] = {
                "class_type": node["type"],
                "inputs": inputs,
                "mode": node.get("mode", 0),
                "widgets": _widget_list(node.get("widgets_values")),
            }

    def instance(
        self,
        node: dict[str, Any],
        flat_id: str,
        inputs: dict[str, Any],
        definition: dict[str, Any],
        depth: int,
    ) -> None:
        """A subgraph instance: its nodes go in as "flat_id:inner id"; its inputs and
        outputs become redirects."""
        inner = f"{flat_id}:"
        slots = node.get("inputs") if isinstance(node.get("inputs"), list) else []
        widget_values = _widget_list(node.get("widgets_values"))
        for index, slot in enumerate(slots):
            if not isinstance(slot, dict):
                continue
            name = slot.get("name", "")
            if name in inputs:
                self.redirects[(_flat_id(inner, _SUBGRAPH_IN), index)] = inputs[name]
        position = 0  # the instance's widgets_values hold its widget inputs' values in order
        for index, slot in enumerate(slots):
            if not isinstance(slot, dict) or not slot.get("widget"):
                continue
            if slot.get("link") is None and position < len(widget_values):
                self.redirects[(_flat_id(inner, _SUBGRAPH_IN), index)] = widget_values[position]
            position += 1
        for link in definition.get("links") or []:
            if isinstance(link, dict) and link.get("target_id") == _SUBGRAPH_OUT:
                origin = [_flat_id(inner, link.get("origin_id")), link.get("origin_slot", 0)]
                self.redirects[(flat_id, _key(link.get("target_slot", 0)))] = origin
        self.level(definition, inner, depth + 1)
        self.promoted(node, inner, widget_values)

    def promoted(self, node: dict[str, Any], inner: str, values: list[Any]) -> None:
        """Newer frontends show inner widgets on the instance ("proxyWidgets": [[inner
        id, widget name], ...]) with their values in the instance's widgets_values."""
        properties = node.get("properties")
        proxies = properties.get("proxyWidgets") if isinstance(properties, dict) else None
        if not isinstance(proxies, list) or len(proxies) != len(values):
            return
        for proxy, value in zip(proxies, values, strict=True):
            if isinstance(proxy, list) and len(proxy) == 2 and isinstance(proxy[1], str):
                target = self.graph.get(_flat_id(inner, proxy[0]))
                if target is not None:
                    target["inputs"][proxy[1]] = value

    def finish(self) -> Graph:
        for node in self.graph.values():
            node["inputs"] = {k: self.resolve(v) for k, v in node["inputs"].items()}
        return self.graph

    def resolve(self, value: Any) -> Any:
        """A link through subgraph boundaries to the node (or widget value) behind it."""
        for _ in range(_MAX_HOPS):
            if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
                return value
            target = self.redirects.get((value[0], _key(value[1])), _MISSING)
            if target is _MISSING:
                return value
            value = target
        return None  # a loop of subgraph links


_MISSING = object()


def _widget_list(values: Any) -> list[Any]:
    return list(values) if isinstance(values, list) else []


def _node_inputs(node: dict[str, Any], links: dict[Any, tuple[str, Any]]) -> dict[str, Any]:
    widgets = node.get("widgets_values")
    if isinstance(widgets, dict):
        inputs = dict(widgets)
    else:
        inputs = widget_inputs(WIDGETS.get(node["type"], ()), _widget_list(widgets))
    for slot in node.get("inputs") or []:
        if not isinstance(slot, dict):
            continue
        name, link = slot.get("name", ""), _key(slot.get("link"))
        # a widget turned into an input keeps its last value beside the link; the link
        # wins only where it comes into a subgraph (the inner widget's value is stale)
        from_subgraph = link in links and str(links[link][0]).endswith(f":{_SUBGRAPH_IN}")
        if link in links and (from_subgraph or not (slot.get("widget") and name in inputs)):
            inputs[str(name)] = list(links[link])
    return inputs


def widget_inputs(names: tuple[str, ...], values: list[Any]) -> dict[str, Any]:
    """Positional widget values named; the "control after generate" widget that follows
    a seed (or a primitive's value) is skipped."""
    inputs: dict[str, Any] = {}
    values = list(values)
    for name in names:
        if not values:
            break
        inputs[name] = values.pop(0)
        follows_number = name in ("seed", "noise_seed", "value")
        if follows_number and values and values[0] in SEED_CONTROLS:
            values.pop(0)
    return inputs
