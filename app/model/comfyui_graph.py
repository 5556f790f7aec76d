"""ComfyUI graphs read as generation settings: the API `prompt` graph or the UI `workflow`.

The sampler nodes (KSampler and its kin, SamplerCustom, SamplerCustomAdvanced with its
noise, guider, sampler and sigmas nodes) are read as passes. Each pass's latent is
followed back to where it starts: an empty latent, a loaded picture or another pass
(through upscale nodes or not). The longest chain of passes that starts from an empty
latent is the picture's: its first pass gives the settings, a later pass behind an
upscale is the hires step (extras named as A1111 names them), and one that goes on from
the first with another model is the refiner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.model.comfyui_links import MAX_DEPTH, NOT_A_SWITCH, Links
from app.model.comfyui_workflow import Graph, workflow_graph
from app.model.generation_info import (
    GenerationInfo,
    _as_float,
    _as_int,
    _as_str,
    _load_json,
    _number,
    atelier_scheduler,
)

MAX_SAMPLERS = 256  # sampler nodes read from one graph; more are left out
_LATENT_PATH = ("samples", "samples_to", "latent", "latent_image", "pixels", "image", "images")
_LATENT_PATH += ("LATENT", "")
_ENCODER_KEYS = ("text", "text_g", "t5xxl", "prompt", "user_prompt")
_MODEL_KEYS = ("ckpt_name", "unet_name", "base_ckpt_name", "model_name", "gguf_name")
_SCALE_IN_NAME = re.compile(r"(?<![0-9a-z])([1-8])x(?![0-9])|x([1-8])(?![0-9])", re.IGNORECASE)
_MODEL_EXTENSIONS = ("safetensors", "ckpt", "pt", "pth", "bin", "gguf", "sft")


def parse_comfyui(prompt_json: str | None, workflow_json: str | None = None) -> GenerationInfo:
    """Read ComfyUI's API-format `prompt` graph, or the UI `workflow` when there is no prompt.
    Raises ValueError, and nothing else, for any text."""
    try:
        return _parse_comfyui(prompt_json, workflow_json)
    except (TypeError, AttributeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        # a hand-edited or hostile graph: a number where a list belongs, null in a list...
        raise ValueError(f"ComfyUI graph is malformed ({type(exc).__name__}: {exc})") from None


def _parse_comfyui(prompt_json: str | None, workflow_json: str | None) -> GenerationInfo:
    graph: Graph = {}
    if prompt_json and prompt_json.strip():
        graph = _api_graph(_load_json(prompt_json, "ComfyUI prompt"))
    if not _samplers(graph) and workflow_json and workflow_json.strip():
        graph = workflow_graph(_load_json(workflow_json, "ComfyUI workflow"))
    samplers = _samplers(graph)
    if not samplers:
        raise ValueError("ComfyUI graph has no KSampler node, so it records no generation settings")
    return _Reader(graph).info(samplers)


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


def _samplers(graph: Graph) -> list[str]:
    """The ids of the sampler nodes that ran (not muted or bypassed in the UI)."""
    found = [
        nid
        for nid, node in graph.items()
        if isinstance(node["inputs"], dict)
        and node.get("mode", 0) not in (2, 4)
        and (
            (node["class_type"].startswith("KSampler") and "steps" in node["inputs"])
            or node["class_type"] in ("SamplerCustom", "SamplerCustomAdvanced")
            or ("sigmas" in node["inputs"] and "latent_image" in node["inputs"])
        )
    ]
    return sorted(found, key=lambda nid: (len(nid), nid))[:MAX_SAMPLERS]


@dataclass
class _Pass:
    """One sampler node's settings, its inputs still values or links."""

    node_id: str
    seed: Any = None
    steps: Any = None
    cfg: Any = None
    sampler_name: Any = None
    schedule: Any = None
    denoise: Any = None
    positive: Any = None
    negative: Any = None
    model: Any = None
    latent: Any = None
    adds_noise: bool = True
    start_at: Any = None
    basic_guider: bool = False


@dataclass
class _Origin:
    """Where a pass's latent comes from: "empty", "image", "sampler" (with its id) or
    "unknown", and the upscale nodes on the way."""

    kind: str
    parent: str | None = None
    upscales: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Prompt:
    texts: list[str] = field(default_factory=list)
    second: list[str] = field(default_factory=list)  # SDXL's text_l, Flux's clip_l
    guidance: Any = None

    def text(self) -> str:
        return "\n".join(dict.fromkeys(self.texts)).strip()


class _Reader:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.links = Links(graph)

    # ---- passes ------------------------------------------------------------------------

    def read_pass(self, node_id: str) -> _Pass:
        inputs = self.graph[node_id]["inputs"]
        out = _Pass(node_id, latent=inputs.get("latent_image"))
        for name in ("steps", "cfg", "sampler_name", "denoise", "positive", "negative", "model"):
            setattr(out, name, inputs.get(name))
        out.schedule = inputs.get("scheduler")
        out.seed = inputs.get("seed", inputs.get("noise_seed"))
        out.start_at = inputs.get("start_at_step")
        out.adds_noise = _text_value(self.links.text(inputs.get("add_noise"))) != "disable"
        noise = self.links.node(inputs.get("noise"))
        if noise is not None:
            out.seed = noise["inputs"].get("noise_seed", noise["inputs"].get("seed"))
            out.adds_noise = noise["class_type"] != "DisableNoise"
        guider = self.links.node(inputs.get("guider"))
        if guider is not None:
            guide = guider["inputs"]
            out.cfg = guide.get("cfg", guide.get("cfg_conds", out.cfg))
            out.positive = guide.get("positive", guide.get("conditioning", guide.get("cond1")))
            out.negative = guide.get("negative", out.negative)
            out.model = guide.get("model", out.model)
            out.basic_guider = "cfg" not in guide and "cfg_conds" not in guide
        sampler = self.links.node(inputs.get("sampler"))
        if sampler is not None:
            out.sampler_name = sampler["inputs"].get("sampler_name", sampler["class_type"])
        self.read_sigmas(inputs.get("sigmas"), out)
        return out

    def read_sigmas(self, value: Any, out: _Pass) -> None:
        """Steps, schedule and denoise from the scheduler node behind a sigmas link
        (through SplitSigmas and the like)."""
        for _ in range(MAX_DEPTH):
            node = self.links.node(value)
            if node is None:
                return
            inputs = node["inputs"]
            if "steps" in inputs:
                out.steps = inputs["steps"]
                name = node["class_type"].removesuffix("Scheduler")
                out.schedule = inputs.get("scheduler", name.lower() if name else None)
                out.denoise = inputs.get("denoise", out.denoise)
                out.model = out.model if out.model is not None else inputs.get("model")
                return
            if "denoise" in inputs:
                out.denoise = inputs["denoise"]
            value = inputs.get("sigmas")

    def origin(self, latent: Any, samplers: set[str]) -> _Origin:
        """Follow a pass's latent back to an empty latent, a picture or another pass."""
        upscales: list[dict[str, Any]] = []
        value = latent
        for _ in range(MAX_DEPTH):
            node_id = self.links.node_id(value)
            if node_id is None:
                return _Origin("unknown", None, upscales)
            if node_id in samplers:
                return _Origin("sampler", node_id, upscales)
            node = self.graph[node_id]
            kind, inputs = node["class_type"], node["inputs"]
            if kind.startswith(("LoadImage", "Load Image", "Image Load")):
                return _Origin("image", None, upscales)
            if "upscale" in kind.lower() or kind.startswith("ImageScale"):
                upscales.append(node)
            chosen = self.links.switch(node)
            if chosen is not NOT_A_SWITCH:
                value = chosen
                continue
            step = next((inputs[k] for k in _LATENT_PATH if k in inputs), None)
            if step is None:
                empty = "Empty" in kind or self.links.size(node) is not None
                return _Origin("empty" if empty else "unknown", node_id, upscales)
            value = step
        return _Origin("unknown", None, upscales)

    # ---- the picture's chain of passes -------------------------------------------------

    def chain(self, samplers: list[str]) -> tuple[list[_Pass], dict[str, _Origin]]:
        """The passes of the picture, first pass first, and each pass's origin."""
        ids = set(samplers)
        passes = {nid: self.read_pass(nid) for nid in samplers}
        origins = {nid: self.origin(passes[nid].latent, ids) for nid in samplers}
        parents = {o.parent for o in origins.values() if o.kind == "sampler"}
        chains = []
        for sink in (nid for nid in samplers if nid not in parents):
            chain, seen = [sink], {sink}
            while origins[chain[-1]].kind == "sampler" and origins[chain[-1]].parent not in seen:
                chain.append(origins[chain[-1]].parent or "")
                seen.add(chain[-1])
            chains.append(chain[::-1])
        if not chains:  # every pass feeds another: a loop
            chains = [[samplers[0]]]

        def rank(chain: list[str]) -> tuple[bool, bool, int]:
            root = chain[0]
            return origins[root].kind != "empty", not passes[root].adds_noise, -len(chain)

        best = min(chains, key=rank)
        return [passes[nid] for nid in best], origins

    # ---- reading values ----------------------------------------------------------------

    def prompt(self, value: Any, polarity: str) -> _Prompt:
        """The prompt texts behind a conditioning link: encoders' texts, followed through
        combine, area, control and switch nodes to text nodes of any kind."""
        out = _Prompt()
        seen: set[str] = set()
        stack = [value]
        while stack and len(seen) < 10_000:
            link = stack.pop()
            node_id = self.links.node_id(link)
            if node_id is None or node_id in seen:
                continue
            seen.add(node_id)
            node = self.graph[node_id]
            inputs = node["inputs"]
            if out.guidance is None and "guidance" in inputs:
                out.guidance = self.links.number(inputs["guidance"], "guidance")
            chosen = self.links.switch(node)
            if chosen is not NOT_A_SWITCH:
                stack.append(chosen)
                continue
            key = next((k for k in _ENCODER_KEYS if k in inputs), None)
            if key is not None:
                self.encoder_text(inputs, key, out)
                continue
            follow = [
                v
                for k, v in inputs.items()
                if (k == polarity or "conditioning" in k.lower() or k in ("cond1", "cond2", ""))
                and self.links.node(v) is not None
            ]
            if follow:
                stack.extend(reversed(follow))
                continue
            text = self.links.text(link, polarity)
            if text:
                out.texts.append(text)
        return out

    def encoder_text(self, inputs: dict[str, Any], key: str, out: _Prompt) -> None:
        text = self.links.text(inputs[key])
        if not isinstance(text, str):
            return
        out.texts.append(text)
        other = {"text_g": "text_l", "t5xxl": "clip_l"}.get(key)
        second = self.links.text(inputs.get(other)) if other else None
        if isinstance(second, str) and second.strip() not in ("", text.strip()):
            out.second.append(second)

    def model(self, value: Any, extras: dict[str, str]) -> tuple[str | None, str | None]:
        """The model's name and hash behind a model link, and the LoRAs on the way
        (into extras["Loras"], as "name (weight)")."""
        loras: list[str] = []
        name = model_hash = None
        for _ in range(MAX_DEPTH):
            node = self.links.node(value)
            if node is None:
                break
            inputs = node["inputs"]
            loras.extend(self.loras(inputs))  # an Efficient Loader has both
            keys = [k for k in _MODEL_KEYS if k in inputs]
            name = _as_str(self.links.text(_content(inputs[keys[0]]))) if keys else None
            if name:
                model_hash = next(
                    (v for k, v in inputs.items() if "hash" in k.lower() and _as_str(v)), None
                )
                break
            chosen = self.links.switch(node)
            if chosen is not NOT_A_SWITCH:
                value = chosen
                continue
            linked = (v for v in inputs.values() if self.links.node(v) is not None)
            value = inputs["model"] if "model" in inputs else next(linked, None)
        if not name:
            checkpoints = [n for n in self.graph.values() if _as_str(n["inputs"].get("ckpt_name"))]
            name = checkpoints[0]["inputs"]["ckpt_name"] if len(checkpoints) == 1 else None
        if loras:
            extras["Loras"] = ", ".join(reversed(loras))
        return (model_name(name) if name else None), model_hash

    def loras(self, inputs: dict[str, Any]) -> list[str]:
        """The LoRAs one node applies: LoraLoader's lora_name and strength_model, or the
        switched-on entries of a Power Lora Loader ({"on", "lora", "strength"})."""
        self.links.charge(len(inputs))
        found = []
        name = _as_str(self.links.text(_content(inputs.get("lora_name"))))
        if name:
            strength = inputs.get("strength_model", inputs.get("lora_model_strength"))
            found.append((name, self.links.number(strength, "strength_model")))
        for key in sorted(inputs):
            entry = inputs[key]
            on = isinstance(entry, dict) and entry.get("on") and _as_str(entry.get("lora"))
            if key.lower().startswith("lora_") and on:
                found.append((entry["lora"], entry.get("strength")))
        out = []
        for lora, strength in reversed(found):
            weight = _as_float(strength)
            out.append(model_name(lora) + (f" ({_number(weight)})" if weight is not None else ""))
        return out

    # ---- the settings ------------------------------------------------------------------

    def info(self, samplers: list[str]) -> GenerationInfo:
        passes, origins = self.chain(samplers)
        base = passes[0]
        extras: dict[str, str] = {}
        prompts = {p: self.prompt(getattr(base, p), p) for p in ("positive", "negative")}
        for polarity, label in (("positive", "Prompt"), ("negative", "Negative prompt")):
            if prompts[polarity].second:
                extras[f"{label} (text_l)"] = "\n".join(prompts[polarity].second)
        scheduler, leftover = self.scheduler(base)
        if leftover:
            extras["Schedule type"] = leftover
        denoise = _as_float(self.links.number(base.denoise, "denoise"))
        if denoise is not None and denoise != 1.0:
            extras["Denoising strength"] = _number(round(denoise, 4))
        cfg = _as_float(self.links.number(base.cfg, "cfg"))
        if cfg is None and base.basic_guider:
            cfg = 1.0  # BasicGuider: no classifier-free guidance
        guidance = _as_float(prompts["positive"].guidance)
        if guidance is not None:
            extras["Distilled CFG Scale"] = _number(guidance)
        model, model_hash = self.model(base.model, extras)
        self.later_passes(passes, origins, base, model, prompts, extras)
        self.graph_extras(extras)
        if len(samplers) > 1:
            extras["Sampler nodes"] = str(len(samplers))
        origin = origins[base.node_id]
        size = self.graph_size(origin)
        seed = self.links.number(base.seed, "seed")
        return GenerationInfo(
            prompt=prompts["positive"].text(),
            negative_prompt=prompts["negative"].text(),
            steps=_as_int(self.links.number(base.steps, "steps")),
            cfg_scale=cfg,
            seed=_as_int(seed if seed is not None else self.links.number(base.seed, "noise_seed")),
            width=size[0] if size else None,
            height=size[1] if size else None,
            scheduler=scheduler,
            model=model,
            model_hash=model_hash,
            source="comfyui",
            extras=extras,
        )

    def graph_size(self, origin: _Origin) -> tuple[int, int] | None:
        if origin.parent is None or origin.kind != "empty":
            return None
        return self.links.size(self.graph[origin.parent])

    def scheduler(self, one: _Pass) -> tuple[str | None, str | None]:
        sampler_name = _text_value(self.links.text(one.sampler_name))
        schedule = _text_value(self.links.text(one.schedule))
        if sampler_name is None:
            return None, schedule
        return atelier_scheduler(sampler_name, schedule or "")

    def later_passes(
        self,
        passes: list[_Pass],
        origins: dict[str, _Origin],
        base: _Pass,
        model: str | None,
        prompts: dict[str, _Prompt],
        extras: dict[str, str],
    ) -> None:
        """The hires pass (the first behind an upscale) and a refiner (a pass that goes
        on from the base with another model), in A1111's words."""
        for later in passes[1:]:
            origin = origins[later.node_id]
            later_model, _ = self.model(later.model, {})
            if origin.upscales:
                self.hires(later, origin, base, model, later_model, prompts, extras)
                return
            if later_model and later_model != model and "Refiner" not in extras:
                extras["Refiner"] = later_model
                start = _as_float(self.links.number(later.start_at, "start_at_step"))
                steps = _as_float(self.links.number(later.steps, "steps"))
                if start is not None and steps:
                    extras["Refiner switch at"] = _number(round(start / steps, 3))

    def hires(
        self,
        hires: _Pass,
        origin: _Origin,
        base: _Pass,
        model: str | None,
        hires_model: str | None,
        prompts: dict[str, _Prompt],
        extras: dict[str, str],
    ) -> None:
        factor, resize, upscaler, known = 1.0, None, None, True
        for node in reversed(origin.upscales):  # in the order they ran
            inputs = node["inputs"]
            scale = _as_float(self.links.number(inputs.get("scale_by"), "scale_by"))
            if scale:
                factor *= scale
            if "width" in inputs and "height" in inputs:
                width = self.links.dimension(inputs["width"], 0)
                height = self.links.dimension(inputs["height"], 1)
                resize = f"{width}x{height}" if width and height else resize
            method = _text_value(self.links.text(inputs.get("upscale_method")))
            loader = self.links.node(inputs.get("upscale_model"))
            if loader is not None and _as_str(loader["inputs"].get("model_name")):
                upscaler = model_name(loader["inputs"]["model_name"])
                scale = _model_scale(upscaler)
                known = known and scale is not None
                factor *= scale or 1.0
            elif method and upscaler is None:
                upscaler = (
                    f"Latent ({method})" if node["class_type"].startswith("Latent") else method
                )
        if upscaler:
            extras["Hires upscaler"] = upscaler
        if resize:
            extras["Hires resize"] = resize
        elif known and factor != 1.0:
            extras["Hires upscale"] = _number(round(factor, 4))
        steps = _as_int(self.links.number(hires.steps, "steps"))
        if steps is not None:
            extras["Hires steps"] = str(steps)
        denoise = _as_float(self.links.number(hires.denoise, "denoise"))
        if denoise is not None:
            extras["Denoising strength"] = _number(round(denoise, 4))
        if hires_model and hires_model != model:
            extras["Hires checkpoint"] = hires_model
        scheduler, _ = self.scheduler(hires)
        if scheduler and scheduler != self.scheduler(base)[0]:
            extras["Hires sampler"] = scheduler
        cfg = _as_float(self.links.number(hires.cfg, "cfg"))
        if cfg is not None and cfg != _as_float(self.links.number(base.cfg, "cfg")):
            extras["Hires CFG Scale"] = _number(cfg)
        for polarity, label in (
            ("positive", "Hires prompt"),
            ("negative", "Hires negative prompt"),
        ):
            text = self.prompt(getattr(hires, polarity), polarity).text()
            if text and text != prompts[polarity].text():
                extras[label] = text

    def graph_extras(self, extras: dict[str, str]) -> None:
        for node in self.graph.values():
            clip_skip = _as_int(node["inputs"].get("stop_at_clip_layer"))
            if node["class_type"] == "CLIPSetLastLayer" and clip_skip is not None:
                extras["Clip skip"] = str(-clip_skip)
            if node["class_type"] == "VAELoader" and _as_str(node["inputs"].get("vae_name")):
                extras["VAE"] = node["inputs"]["vae_name"]


def _model_scale(name: str) -> int | None:
    """How much an upscale model enlarges, from its name's "4x" or "x4" (4x-UltraSharp,
    RealESRGAN_x4plus); None when its name does not say."""
    match = _SCALE_IN_NAME.search(name)
    return int(match[1] or match[2]) if match else None


def _content(value: Any) -> Any:
    """A file-name widget's value; pysssss' loaders hold {"content": name, "image": ...}."""
    return value.get("content") if isinstance(value, dict) else value


def _text_value(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def model_name(file_name: str) -> str:
    """A model's name is its file name without folder or extension (ComfyUI may use '\\')."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return stem if dot and ext.lower() in _MODEL_EXTENSIONS else base
