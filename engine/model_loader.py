"""Loading a store entry into a diffusers pipeline, offline, with errors a designer can act on.

Diffusers folders load with `from_pretrained(..., local_files_only=True)`; single-file
checkpoints with `from_single_file(..., config=<shipped config folder>,
local_files_only=True)`, which never goes to the hub for configs. `.ckpt` files are only
ever unpickled with `weights_only=True` (checked here first, and diffusers does the same).
A folder is checked before diffusers opens it: no code that came with the model (custom
pipelines or components, transformers' auto_map), only regular files (a pipe would hang
the load), and pickled `.bin` weights that hold only tensors; `trust_remote_code` is
never set. torch and diffusers are imported inside the functions.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.checkpoint_files import (
    INPAINT_CHANNELS,
    load_ckpt_state_dict,
    read_safetensors_header,
)
from engine.diffusers_folders import custom_code_message, foreign_code, read_json_object
from engine.model_store import ModelEntry, ModelStore, kind_label
from engine.protocol import JobError
from engine.untrusted import UntrustedInputError, clean_text, display_path, regular_file_size

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline

PIPELINE_CLASSES = {
    "sd15": "StableDiffusionPipeline",
    "sd2": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "sdxl_refiner": "StableDiffusionXLImg2ImgPipeline",
}
INPAINT_PIPELINE_CLASSES = {  # for inpainting checkpoints, and inpainting with ordinary ones
    "sd15": "StableDiffusionInpaintPipeline",
    "sd2": "StableDiffusionInpaintPipeline",
    "sdxl": "StableDiffusionXLInpaintPipeline",
}
FAMILY_LABELS = {
    "sd15": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "SDXL",
    "sdxl_refiner": "SDXL refiner",
    "lora": "LoRA",
    "vae": "VAE",
    "controlnet": "ControlNet",
    "motion": "motion module",
}
_NO_WEIGHTS_NEEDED = {"scheduler", "tokenizer", "tokenizer_2", "feature_extractor"}
_OPTIONAL = {"safety_checker", "feature_extractor", "image_encoder"}  # not loaded by Atelier
_PICKLED_WEIGHTS = ".bin"  # what diffusers and transformers unpickle from a folder
_MAX_FOLDER_FILES = 10_000  # a component folder holds a handful of files


def family_label(family: str) -> str:
    """A family as a designer would say it: "sd15" -> "Stable Diffusion 1.x"."""
    return FAMILY_LABELS.get(family, family)


def pipeline_family_class(family: str, variant: str = "") -> str:
    """The diffusers pipeline class name that loads a checkpoint of `family` (and `variant`:
    "inpaint" gives the family's inpainting pipeline)."""
    if variant == "inpaint" and family in INPAINT_PIPELINE_CLASSES:
        return INPAINT_PIPELINE_CLASSES[family]
    if family not in PIPELINE_CLASSES:
        raise JobError(
            "invalid_input",
            f"Atelier cannot generate with a {family_label(family)} model "
            f"(supported: {', '.join(sorted({family_label(f) for f in PIPELINE_CLASSES}))}).",
        )
    return PIPELINE_CLASSES[family]


def require_family(
    entry: ModelEntry, allowed: set[str], feature: str, variants: frozenset[str] = frozenset({""})
) -> None:
    """Raise JobError("invalid_input") when `feature` does not work with `entry`'s family,
    or with its variant (by default only ordinary checkpoints: not inpainting ones)."""
    wanted = " or ".join(sorted(family_label(f) for f in allowed))
    if entry.family not in allowed:
        raise JobError(
            "invalid_input",
            f"{feature} needs a {wanted} model, but '{entry.name}' is "
            f"{family_label(entry.family)}. Choose a {wanted} model for {feature}.",
        )
    if entry.variant not in variants:
        raise JobError(
            "invalid_input",
            f"'{entry.name}' is an inpainting model: it only repaints masked areas. Use it "
            f"for Inpaint or Outpaint, and choose an ordinary {wanted} model for {feature}.",
        )


def load_pipeline(
    entry: ModelEntry,
    store: ModelStore,
    *,
    dtype: torch.dtype | str,
    device: torch.device | str,
) -> DiffusionPipeline:
    """Load `entry` (a checkpoint) as its family's diffusers pipeline on `device` in `dtype`.

    SD 1.x/2.x load without the diffusers safety checker and SDXL without its watermarker:
    Atelier runs its own safety checks and watermark on every output.
    """
    import diffusers
    import torch

    _quiet_library_logs()
    if entry.kind != "checkpoints":
        hint = " and add the LoRA to it" if entry.kind == "loras" else ""
        raise JobError(
            "invalid_input",
            f"'{entry.name}' is a {kind_label(entry.kind)}, not a checkpoint; "
            f"choose a checkpoint to generate with{hint}.",
        )
    cls = getattr(diffusers, pipeline_family_class(entry.family, entry.variant))
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if entry.family in ("sd15", "sd2"):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    else:
        kwargs.update(add_watermarker=False)
    try:
        if entry.format == "diffusers":
            variant = _check_folder(entry)
            pipe = cls.from_pretrained(
                entry.path, variant=variant, trust_remote_code=False, **kwargs
            )
        else:
            config = str(store.config_dir(entry))
            _check_file(entry.path)
            if entry.variant == "inpaint":  # the shipped configs describe 4-channel UNets
                kwargs["num_in_channels"] = INPAINT_CHANNELS
            pipe = cls.from_single_file(str(entry.path), config=config, **kwargs)
        pipe = pipe.to(device)
    except JobError:
        raise
    except torch.OutOfMemoryError as e:
        raise JobError("oom", f"Not enough memory to load '{entry.name}' on {device}.") from e
    except Exception as e:  # diffusers raises OSError/ValueError/RuntimeError/KeyError...
        raise _load_error(entry, e) from e
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _check_file(path: Path) -> None:
    """Fail early, with a clear message, on truncated files and pickles that contain code."""
    if not path.is_file():
        raise JobError("missing_model", f"{display_path(path)} is gone; it was moved or deleted.")
    if path.suffix.lower() == ".safetensors":
        read_safetensors_header(path)
    else:
        load_ckpt_state_dict(path, mmap=True)  # weights_only=True: refuses code


def _check_folder(entry: ModelEntry) -> str | None:
    """Check a diffusers folder before diffusers opens it (see the module's docstring) and
    that it has every component it declares; returns the weights variant."""
    index = _model_index(entry)
    _regular_files(entry, entry.path)
    variant = None
    for name, spec in sorted(index.items()):
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        folder = entry.path / name
        if not folder.is_dir():
            if name in _OPTIONAL:
                continue
            raise _incomplete(entry, f"the {name} folder is missing")
        files = _regular_files(entry, folder)
        weights = [f for f in files if f.endswith((".safetensors", ".bin", ".index.json"))]
        if not any(f.endswith(".safetensors") for f in weights):  # diffusers unpickles these
            for pickle in (f for f in weights if f.endswith(_PICKLED_WEIGHTS)):
                load_ckpt_state_dict(folder / pickle, mmap=True)  # refuses code
        if name in _NO_WEIGHTS_NEEDED or name in _OPTIONAL:
            continue
        if not weights:
            raise _incomplete(entry, f"{name}/ has no weights file")
        if all(".fp16." in f for f in weights):
            variant = "fp16"
    return variant


def _model_index(entry: ModelEntry) -> dict:
    """The folder's model_index.json, refused when loading would run code from the model."""
    try:
        custom = foreign_code(entry.path)
        index = read_json_object(entry.path / "model_index.json")
    except (OSError, UntrustedInputError) as e:
        raise JobError(
            "invalid_input", f"The model folder '{entry.name}' cannot be used: {_why(e)}."
        ) from None
    if custom:
        raise JobError(
            "invalid_input", f"'{entry.name}' is refused: {custom_code_message(custom)}."
        )
    if not index:
        raise _incomplete(entry, "model_index.json is missing")
    return index


def _regular_files(entry: ModelEntry, folder: Path) -> list[str]:
    """The names of the files in `folder` (sub-folders left out); JobError when one is a
    pipe, a device or a socket, which would block or never end when diffusers reads it."""
    with os.scandir(folder) as listing:
        items = list(itertools.islice(listing, _MAX_FOLDER_FILES))
    files = []
    for item in items:
        path = Path(item.path)
        try:
            if stat.S_ISDIR(os.stat(path).st_mode):
                continue
            regular_file_size(path)
        except (OSError, UntrustedInputError) as e:
            raise JobError(
                "invalid_input", f"The model folder '{entry.name}' cannot be used: {_why(e)}."
            ) from None
        files.append(item.name)
    return files


def _why(error: OSError | UntrustedInputError) -> str:
    if isinstance(error, OSError):
        return f"{display_path(error.filename or '?')} cannot be read ({error.strerror or error})"
    return clean_text(str(error))


def _incomplete(entry: ModelEntry, what: str) -> JobError:
    return JobError(
        "missing_model",
        f"The model folder '{entry.name}' ({entry.path}) is incomplete: {what}. "
        "Copy or download the whole folder again.",
    )


_MISMATCH = ("size mismatch", "expected shape", "does not seem to contain", "appear to be missing")


def _load_error(entry: ModelEntry, error: Exception) -> JobError:
    text = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
    if any(marker in str(error) for marker in _MISMATCH):
        return JobError(
            "invalid_input",
            f"'{entry.name}' does not match the {family_label(entry.family)} architecture "
            f"it looks like ({text[:200]}). It may be another model family or a merged/pruned "
            "variant Atelier cannot load as a single file.",
        )
    return JobError(
        "invalid_input",
        f"Could not load '{entry.name}' ({entry.path}): {text[:300]}. "
        "The file may be damaged or incomplete; download it again.",
    )


def _quiet_library_logs() -> None:
    """No progress bars or chatter from diffusers/transformers: the app reports progress."""
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
