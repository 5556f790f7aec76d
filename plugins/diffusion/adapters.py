"""LoRAs and textual-inversion embeddings on a loaded pipeline, job by job.

A job's LoRAs are its params' `loras` and the `<lora:name:weight>` tags of its prompts
(plugins.diffusion.lora_tags); its embeddings are the installed ones whose names appear
as words in its prompts (A1111's way). Both go onto the checkpoint's loaded parts (the
UNet and text encoders every view of it shares), never into a reloaded checkpoint:

- LoRAs load through diffusers' PEFT backend, one adapter per file (named by its hash),
  and stay loaded for the next jobs (at most MAX_LOADED_LORAS); each job activates its own
  with their weights, and a job with none disables them all, which runs the base layers
  alone: the base output, bit for bit. Weight 0 is the same as leaving a LoRA out.
- Embeddings are added to the tokenizers as tokens named by the file's hash, one per
  vector, and the prompt's word becomes those tokens; the ones a job does not use are
  removed again, so the text encoders return to their own vocabulary.

Only the engine thread imports this module (torch inside the functions).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.checkpoint_files import load_ckpt_state_dict, read_safetensors_header
from engine.context import JobContext
from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.model_families import family_label
from engine.model_store import ModelStore
from engine.protocol import JobError
from plugins.diffusion.families import BY_ID
from plugins.diffusion.lora_files import lora_base_family, lora_fits
from plugins.diffusion.lora_tags import merged_loras, strip_tags
from plugins.diffusion.params import SamplingParams

MAX_LOADED_LORAS = 8  # adapters kept on a pipeline between jobs
MAX_NAMES_SHOWN = 12  # installed LoRAs named in the message for an unknown one
_EMBEDDING_TOKEN = re.compile(r"<ti-([0-9a-f]+)-(\d+)>")


@dataclass(frozen=True)
class Steering:
    """What a job's LoRAs and embeddings left to encode, and what its recipes record."""

    prompt: str
    negative_prompt: str
    resolved: dict[str, Any] = field(default_factory=dict)  # "loras", "embeddings"


def apply_adapters(
    ctx: JobContext, entry: ModelEntry, pipe: Any, params: SamplingParams
) -> Steering:
    """Put the job's LoRAs and embeddings on `pipe` (and take off the ones it does not
    use); the prompts without LoRA tags and with each embedding's tokens; the recipe's
    "loras" and "embeddings". JobError for an unknown LoRA or embedding, one made for
    another family, or a tag whose weight is not a number."""
    try:
        loras = merged_loras(params.loras, params.prompt, params.negative_prompt)
    except ValueError as e:
        raise JobError("invalid_input", str(e)) from None
    lora_entries = [(find_lora(ctx.store, spec.name), spec.weight) for spec in loras]
    prompt, negative = strip_tags(params.prompt), strip_tags(params.negative_prompt)
    embeddings = used_embeddings(ctx.store.entries, prompt, negative)
    for used, _ in lora_entries:
        ctx.uses(used)
    for used in embeddings:
        ctx.uses(used)
    set_loras(ctx, entry, pipe, [(e, w) for e, w in lora_entries if w != 0])
    tokens = set_embeddings(ctx, entry, pipe, embeddings)
    resolved: dict[str, Any] = {}
    if loras:
        resolved["loras"] = [{"name": e.name, "weight": w} for e, w in lora_entries]
    if embeddings:
        resolved["embeddings"] = [{"name": e.name} for e in embeddings]
    return Steering(with_tokens(prompt, tokens), with_tokens(negative, tokens), resolved)


# ---- LoRAs


def find_lora(store: ModelStore, name: str) -> ModelEntry:
    """The LoRA called `name`; JobError("missing_model") listing the installed ones."""
    try:
        return store.find(name, "loras")
    except JobError as e:
        if e.kind != "missing_model":
            raise
    names = sorted({entry.name for entry in store.entries if entry.kind == "loras"})
    installed = ", ".join(names[:MAX_NAMES_SHOWN]) + (
        " ..." if len(names) > MAX_NAMES_SHOWN else ""
    )
    raise JobError(
        "missing_model",
        f"No LoRA named '{name}' is installed (installed LoRAs: {installed or 'none'}). "
        f"Put LoRA files in {models_dir('loras', store.home)}, or add your A1111, ComfyUI "
        "or InvokeAI model folder in Settings.",
    )


def adapter_name(entry: ModelEntry) -> str:
    """The PEFT adapter name of a LoRA file: its hash (the same file is loaded once)."""
    return f"lora_{entry.short_hash()}"


def loaded_adapters(pipe: Any) -> list[str]:
    """The LoRA adapters loaded on `pipe`'s parts."""
    if not hasattr(pipe, "get_list_adapters"):
        return []
    listed = pipe.get_list_adapters()
    return list(dict.fromkeys(name for names in listed.values() for name in names))


def set_loras(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, active: Sequence[tuple[ModelEntry, float]]
) -> None:
    """Make exactly `active` (LoRA entry, weight) act on `pipe`, loading what is not loaded
    yet and dropping unused adapters past MAX_LOADED_LORAS."""
    wanted = {adapter_name(entry): weight for entry, weight in active}
    loaded = loaded_adapters(pipe)
    if not wanted:
        if loaded:
            pipe.disable_lora()
        return
    _require_lora_support(checkpoint, pipe)
    for entry, _ in active:
        if adapter_name(entry) not in loaded:
            ctx.check_cancelled()
            ctx.progress(0.0, f"loading LoRA {entry.name}")
            load_lora(checkpoint, pipe, entry)
            loaded.append(adapter_name(entry))
    spare = [name for name in loaded if name not in wanted]
    if len(loaded) > MAX_LOADED_LORAS and spare:
        pipe.delete_adapters(spare[: len(loaded) - MAX_LOADED_LORAS])
    pipe.enable_lora()
    pipe.set_adapters(list(wanted), list(wanted.values()))


def _require_lora_support(checkpoint: ModelEntry, pipe: Any) -> None:
    if not hasattr(pipe, "load_lora_weights"):
        raise JobError("invalid_input", f"'{checkpoint.name}' cannot take LoRAs in this task.")


def lora_state_dict(entry: ModelEntry) -> dict[str, Any]:
    """A LoRA file's tensors, read safely (safetensors after a header check; pickles
    weights-only)."""
    if entry.path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        read_safetensors_header(entry.path)  # a damaged file gets its sentence first
        return load_file(str(entry.path))
    return load_ckpt_state_dict(entry.path)


def check_lora_family(checkpoint: ModelEntry, lora: ModelEntry, state: dict[str, Any]) -> None:
    """JobError naming both families when `lora` was made for another family."""
    shapes = {k: tuple(getattr(v, "shape", ())) for k, v in state.items()}
    made_for = lora_base_family(shapes)
    if not lora_fits(made_for, checkpoint.family):
        theirs, ours = family_label(made_for, BY_ID), family_label(checkpoint.family, BY_ID)
        raise JobError(
            "invalid_input",
            f"The LoRA '{lora.name}' was made for {theirs} models, but '{checkpoint.name}' "
            f"is {ours}. Choose a {theirs} model, or a LoRA made for {ours}.",
        )


def load_lora(checkpoint: ModelEntry, pipe: Any, lora: ModelEntry) -> None:
    """Load the LoRA file `lora` onto `pipe` as its own adapter."""
    state = lora_state_dict(lora)
    check_lora_family(checkpoint, lora, state)
    try:
        with warnings.catch_warnings():  # a second adapter is what Atelier means to add
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            pipe.load_lora_weights(state, adapter_name=adapter_name(lora))
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError) as e:
        raise JobError(
            "invalid_input",
            f"The LoRA '{lora.name}' does not fit '{checkpoint.name}' "
            f"({type(e).__name__}: {str(e)[:200]}).",
        ) from None


# ---- embeddings


def used_embeddings(entries: Sequence[ModelEntry], prompt: str, negative: str) -> list[ModelEntry]:
    """The installed embeddings whose names appear as words (any case) in the prompts."""
    text = f"{prompt}\n{negative}"
    found: dict[str, ModelEntry] = {}
    for entry in entries:
        new = entry.kind == "embeddings" and entry.name.casefold() not in found
        if new and _word(entry.name).search(text):
            found[entry.name.casefold()] = entry
    return list(found.values())


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def with_tokens(prompt: str, tokens: dict[str, list[str]]) -> str:
    """The prompt with each embedding's name (a word, any case) replaced by its tokens."""
    for name, names in tokens.items():
        prompt = _word(name).sub(" ".join(names), prompt)
    return prompt


def _encoders(pipe: Any) -> list[tuple[str, Any, Any]]:
    """(embedding key, tokenizer, text encoder) of each text encoder of `pipe`."""
    pairs = [("clip_l", pipe.tokenizer, pipe.text_encoder)]
    if getattr(pipe, "text_encoder_2", None) is not None:
        pairs.append(("clip_g", pipe.tokenizer_2, pipe.text_encoder_2))
    return pairs


def _loaded_tokens(tokenizer: Any) -> dict[str, list[str]]:
    """Embedding hash -> its tokens, of the embeddings added to `tokenizer`."""
    loaded: dict[str, list[str]] = {}
    for token in tokenizer.added_tokens_encoder:
        if match := _EMBEDDING_TOKEN.fullmatch(token):
            loaded.setdefault(match[1], []).append(token)
    return loaded


def set_embeddings(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, embeddings: Sequence[ModelEntry]
) -> dict[str, list[str]]:
    """Exactly `embeddings` added to `pipe`'s tokenizers and text encoders (the others
    removed); each embedding's name -> its tokens, to put in the prompts."""
    wanted = {entry.short_hash(): entry for entry in embeddings}
    encoders = _encoders(pipe)
    loaded = _loaded_tokens(encoders[0][1])
    unused = [t for digest, tokens in loaded.items() if digest not in wanted for t in tokens]
    if unused:
        for _, tokenizer, encoder in encoders:
            pipe.unload_textual_inversion(unused, tokenizer=tokenizer, text_encoder=encoder)
    tokens = {}
    for digest, entry in wanted.items():
        if digest not in loaded:
            ctx.check_cancelled()
            load_embedding(checkpoint, pipe, entry, digest)
        tokens[entry.name] = _loaded_tokens(encoders[0][1])[digest]
    return tokens


def embedding_vectors(entry: ModelEntry) -> dict[str, Any]:
    """An embedding file's vectors: {"clip_l": (n, d)[, "clip_g": (n, d)]} (SDXL files have
    both; SD 1.x/2.x files one, given as "clip_l"). JobError when the file holds none."""
    import torch

    if entry.path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        read_safetensors_header(entry.path)
        state: dict[str, Any] = load_file(str(entry.path))
    else:
        state = load_ckpt_state_dict(entry.path)
    if "clip_l" in state and "clip_g" in state:
        vectors = {"clip_l": state["clip_l"], "clip_g": state["clip_g"]}
    else:
        vectors = {"clip_l": _single_vector(entry, state)}
    if not all(isinstance(v, torch.Tensor) and v.ndim in (1, 2) for v in vectors.values()):
        raise JobError("invalid_input", _not_embedding(entry))
    return {key: v.reshape(-1, v.shape[-1]).float() for key, v in vectors.items()}


def _single_vector(entry: ModelEntry, state: dict[str, Any]) -> Any:
    """The vectors of an SD 1.x/2.x embedding: A1111's "emb_params" or "string_to_param",
    or a diffusers file's one tensor."""
    if "emb_params" in state:
        return state["emb_params"]
    params = state.get("string_to_param")
    if isinstance(params, dict) and len(params) == 1:
        return next(iter(params.values()))
    tensors = [v for v in state.values() if hasattr(v, "shape")]
    if len(tensors) == 1:
        return tensors[0]
    raise JobError("invalid_input", _not_embedding(entry))


def _not_embedding(entry: ModelEntry) -> str:
    return (
        f"'{entry.name}' ({entry.path.name}) is not a textual-inversion embedding: it holds "
        "no embedding vectors Atelier knows. Move it out of the embeddings folder."
    )


def load_embedding(checkpoint: ModelEntry, pipe: Any, entry: ModelEntry, digest: str) -> None:
    """Add the embedding `entry` to every text encoder of `pipe`, one token per vector."""
    vectors = embedding_vectors(entry)
    encoders = _encoders(pipe)
    count = next(iter(vectors.values())).shape[0]
    fits = {key for key, vector in vectors.items() if vector.shape[0] == count}
    widths = {key: enc.get_input_embeddings().weight.shape[-1] for key, _, enc in encoders}
    if fits != set(widths) or any(vectors[k].shape[-1] != w for k, w in widths.items()):
        raise JobError(
            "invalid_input",
            f"The embedding '{entry.name}' was made for another model family than "
            f"'{checkpoint.name}' ({family_label(checkpoint.family, BY_ID)}); "
            "choose an embedding made for it.",
        )
    tokens = [f"<ti-{digest}-{i}>" for i in range(count)]
    for key, tokenizer, encoder in encoders:
        pipe.load_textual_inversion(
            vectors[key], token=tokens, tokenizer=tokenizer, text_encoder=encoder
        )
