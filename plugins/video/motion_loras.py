"""Motion LoRAs: LoRAs of an AnimateDiff adapter's motion modules (camera moves such as
AnimateDiff's ZoomIn or PanLeft), job by job.

A motion LoRA goes onto the motion adapter's own modules (the ones every motion UNet built
from it shares, plugins.video.motion) as a PEFT adapter named by the file's hash, so it
loads once and stays for the next jobs (at most MAX_LOADED); each job activates its own
with their weights, and a job with none disables them, which runs the motion modules
alone: the clip without them, bit for bit. The checkpoint's LoRAs
(plugins.diffusion.adapters) live on the checkpoint's UNet and are never touched here.

The files come in diffusers' PEFT naming (`unet.down_blocks.0.motion_modules.0.
transformer_blocks.0.attn1.to_q.lora_A.weight`), diffusers' older naming (`...attn1.
processor.to_q_lora.down.weight`, what its conversion script writes) or AnimateDiff's own
(`down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.
attention_blocks.0...`), renamed as diffusers renames AnimateDiff's modules. Only the
engine thread imports this module (torch inside the functions).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engine.context import JobContext
from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.model_store import ModelStore
from engine.protocol import JobError
from plugins.diffusion.adapters import lora_state_dict
from plugins.diffusion.params import LoraSpec

MAX_LOADED = 8  # motion LoRAs kept on an adapter between jobs
FAMILY = "motion_lora"
_RENAMES = (  # AnimateDiff's module names -> diffusers' (diffusers' convert_animatediff_*)
    (".temporal_transformer", ""),
    (".attention_blocks.0", ".attn1"),
    (".attention_blocks.1", ".attn2"),
    (".norms.0", ".norm1"),
    (".norms.1", ".norm2"),
    (".ff_norm", ".norm3"),
    (".processor.", "."),
)
_LORA_SUFFIXES = (  # the A (down) and B (up) weights in each naming -> PEFT's
    (".lora_A.weight", "A"),
    (".lora_B.weight", "B"),
    (".lora.down.weight", "A"),
    (".lora.up.weight", "B"),
    (".lora_down.weight", "A"),
    (".lora_up.weight", "B"),
    ("_lora.down.weight", "A"),
    ("_lora.up.weight", "B"),
)


def find_motion_lora(store: ModelStore, name: str) -> ModelEntry:
    """The motion LoRA called `name`; JobError naming the installed ones otherwise."""
    found = [e for e in store.entries if e.family == FAMILY]
    for entry in found:
        if entry.name.casefold() == name.casefold():
            return entry
    names = ", ".join(sorted({e.name for e in found})) or "none"
    raise JobError(
        "missing_model",
        f"No motion LoRA named '{name}' is installed (installed motion LoRAs: {names}). Put "
        f"motion LoRA files (.safetensors) in {models_dir('motion', store.home)}.",
    )


def motion_lora_weights(state: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """A motion LoRA file's tensors as {motion module path: (A, B)} in diffusers' module
    names, a kohya-style `.alpha` folded into B. Other tensors are left out."""
    halves: dict[str, dict[str, Any]] = {}
    alphas: dict[str, float] = {}
    for key, tensor in state.items():
        name = key.removeprefix("unet.")
        if name.endswith(".alpha"):
            alphas[_module_path(name.removesuffix(".alpha"))] = float(tensor)
            continue
        for suffix, half in _LORA_SUFFIXES:
            if name.endswith(suffix):
                halves.setdefault(_module_path(name.removesuffix(suffix)), {})[half] = tensor
                break
    weights = {}
    for module, pair in halves.items():
        if set(pair) == {"A", "B"}:
            down, up = pair["A"], pair["B"]
            if module in alphas:
                up = up * (alphas[module] / down.shape[0])
            weights[module] = (down, up)
    return weights


def _module_path(name: str) -> str:
    for old, new in _RENAMES:
        name = name.replace(old, new)
    return name + ".0" if name.endswith(".to_out") else name  # the processor's to_out


def check_fits(lora: ModelEntry, adapter: ModelEntry, model: Any, weights: dict) -> None:
    """JobError naming both when the LoRA's layers are not `model`'s motion modules' (made
    for another motion adapter), or when it holds no motion module weights at all."""
    import torch

    problem = "" if weights else "it holds no LoRA weights of motion modules"
    for path, (down, up) in weights.items():
        try:
            layer = model.get_submodule(path)
        except AttributeError:
            problem = f"the adapter has no layer {path}"
            break
        layer = getattr(layer, "base_layer", layer)
        fits = isinstance(layer, torch.nn.Linear) and "motion_modules" in path
        if not fits or (down.shape[1], up.shape[0]) != (layer.in_features, layer.out_features):
            problem = f"its layer {path} has another size"
            break
    if problem:
        raise JobError(
            "invalid_input",
            f"The motion LoRA '{lora.name}' does not fit the motion adapter '{adapter.name}' "
            f"({problem}): it was made for another motion adapter. Choose a motion LoRA "
            f"made for '{adapter.name}', or the motion model it was made for.",
        )


def adapter_name(entry: ModelEntry) -> str:
    return f"motion_lora_{entry.short_hash()}"


def lora_layers(model: Any) -> dict[str, Any]:
    """The PEFT LoRA layers in `model` by module path."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    return {name: m for name, m in model.named_modules() if isinstance(m, BaseTunerLayer)}


def loaded_motion_loras(model: Any) -> list[str]:
    """The adapter names of the motion LoRAs loaded on `model` (a MotionAdapter)."""
    names = (n for layer in lora_layers(model).values() for n in layer.lora_A)
    return list(dict.fromkeys(names))


def load_motion_lora(lora: ModelEntry, adapter: ModelEntry, model: Any) -> None:
    """Load the motion LoRA file `lora` onto `model` (the MotionAdapter of `adapter`)."""
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    weights = motion_lora_weights(lora_state_dict(lora))
    check_fits(lora, adapter, model, weights)
    ranks = {path: int(down.shape[0]) for path, (down, _) in weights.items()}
    rank = max(ranks.values())
    config = LoraConfig(
        r=rank,
        lora_alpha=rank,  # scale 1: any alpha is folded into the B weights
        target_modules=list(weights),
        rank_pattern=ranks,
        alpha_pattern=ranks,
    )
    state = {}
    for path, (down, up) in weights.items():
        state[f"{path}.lora_A.weight"] = down
        state[f"{path}.lora_B.weight"] = up
    name = adapter_name(lora)
    with warnings.catch_warnings():  # another adapter on the model is what is meant
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        inject_adapter_in_model(config, model, adapter_name=name)
    set_peft_model_state_dict(model, state, adapter_name=name)


def set_motion_loras(
    ctx: JobContext, adapter: ModelEntry, model: Any, specs: Sequence[LoraSpec]
) -> list[dict[str, Any]]:
    """Make exactly the motion LoRAs of `specs` act on `model` (the loaded MotionAdapter of
    `adapter`) with their weights, loading those not loaded yet and dropping unused ones
    past MAX_LOADED; the recipe's "motion_loras" records."""
    chosen = [(find_motion_lora(ctx.store, spec.name), spec.weight) for spec in specs]
    for entry, _ in chosen:
        ctx.uses(entry)
    wanted = {adapter_name(e): w for e, w in chosen if w != 0}
    loaded = loaded_motion_loras(model)
    for entry, weight in chosen:
        if weight != 0 and adapter_name(entry) not in loaded:
            ctx.check_cancelled()
            ctx.progress(0.0, f"loading motion LoRA {entry.name}")
            load_motion_lora(entry, adapter, model)
            loaded.append(adapter_name(entry))
    spare = [name for name in loaded if name not in wanted]
    for name in spare[: max(0, len(loaded) - MAX_LOADED)]:
        for layer in lora_layers(model).values():
            layer.delete_adapter(name)
    _activate(model, wanted)
    return [{"name": e.name, "weight": w} for e, w in chosen]


def _activate(model: Any, wanted: dict[str, float]) -> None:
    """Each LoRA layer of `model` running exactly the adapters of `wanted`, each at its
    weight; with none, the layers disabled (their base layers alone)."""
    for layer in lora_layers(model).values():
        layer.enable_adapters(bool(wanted))
        if wanted:
            names = [name for name in wanted if name in layer.lora_A]
            layer.set_adapter(names)
            for name in names:
                layer.set_scale(name, wanted[name])


@contextmanager
def lora_layers_set_aside(model: Any) -> Iterator[None]:
    """`model`'s LoRA layers replaced by their base layers for the block, then put back
    around whatever base layers the block left at their paths. diffusers' FreeNoise
    rebuilds the motion modules' transformer blocks from their state dicts, which a LoRA
    layer's extra weights would not fit."""
    layers = lora_layers(model)
    for path, layer in layers.items():
        _replace(model, path, layer.get_base_layer())
    try:
        yield
    finally:
        for path, layer in layers.items():
            layer.base_layer = model.get_submodule(path)
            _replace(model, path, layer)


def _replace(model: Any, path: str, module: Any) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent), name, module)
