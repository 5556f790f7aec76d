"""Loading a store entry through the loader of its family, offline, with errors a designer
can act on.

The engine knows no family by name: a plugin declares the families it loads
(plugins.api.ModelFamily) and the engine calls that family's loader. What every family
needs stays here, so no loader can skip it:
- Offline: loaders pass OFFLINE (`local_files_only=True`) and never `trust_remote_code`.
- The files are checked before any loader opens them: a single file must be whole, and a
  `.ckpt` is only ever unpickled with `weights_only=True`. A folder holds no code that came
  with the model (custom pipelines or components, transformers' auto_map), only regular
  files (a pipe would hang the load), and pickled `.bin` weights that hold only tensors.
- Placement: a loader leaves the model where its library builds it (the CPU); the device
  policy places it afterwards, so the low-memory path (CPU offload) never loads the whole
  model onto the GPU first.
torch is imported inside the functions.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.checkpoint_files import load_ckpt_state_dict, read_safetensors_header
from engine.devices import DevicePolicy, apply_policy
from engine.diffusers_folders import custom_code_message, foreign_code, read_json_object
from engine.model_entry import ModelEntry
from engine.model_families import family_label, loading_family
from engine.model_store import ModelStore
from engine.protocol import JobError
from engine.untrusted import UntrustedInputError, clean_text, display_path, regular_file_size
from plugins.api import ModelFamily, resolve

OFFLINE: Mapping[str, Any] = MappingProxyType({"local_files_only": True})
_NO_WEIGHTS_NEEDED = {"scheduler", "tokenizer", "tokenizer_2", "feature_extractor"}
_OPTIONAL = {"safety_checker", "feature_extractor", "image_encoder"}  # not loaded by Atelier
_PICKLED_WEIGHTS = ".bin"  # what diffusers and transformers unpickle from a folder
_MAX_FOLDER_FILES = 10_000  # a component folder holds a handful of files


def load_model(
    entry: ModelEntry,
    store: ModelStore,
    families: Mapping[str, ModelFamily],
    policy: DevicePolicy,
) -> Any:
    """`entry` loaded by its registered family's loader, after the file checks, and placed
    by the device policy. JobError when no plugin loads its family, its files are refused
    or damaged, or memory runs out."""
    import torch

    loader = resolve(loading_family(entry, families).loader)
    _quiet_library_logs()
    try:
        weights_variant = check_model_files(entry)
        model = loader(
            entry,
            store,
            dtype=policy.torch_dtype(),
            device=policy.device,
            variant=weights_variant,
        )
        apply_policy(model, policy)
    except JobError:
        raise
    except torch.OutOfMemoryError as e:
        raise JobError(
            "oom", f"Not enough memory to load '{entry.name}' on {policy.device}."
        ) from e
    except Exception as e:  # libraries raise OSError/ValueError/RuntimeError/KeyError...
        raise _load_error(entry, families, e) from e
    return model


def check_model_files(entry: ModelEntry) -> str | None:
    """Check `entry`'s files before any library opens them (see the module's docstring);
    returns a folder's weights variant ("fp16" when it only has half-precision weights)."""
    if entry.format == "single_file":
        _check_file(entry.path)
        return None
    return _check_folder(entry)


def _check_file(path: Path) -> None:
    """Fail early, with a clear message, on truncated files and pickles that contain code."""
    if not path.is_file():
        raise JobError("missing_model", f"{display_path(path)} is gone; it was moved or deleted.")
    if path.suffix.lower() == ".safetensors":
        read_safetensors_header(path)
    else:
        load_ckpt_state_dict(path, mmap=True)  # weights_only=True: refuses code


def _check_folder(entry: ModelEntry) -> str | None:
    """Check a model folder before a library opens it (see the module's docstring) and that
    it has the weights it declares; returns its weights variant. A pipeline folder
    (model_index.json) is checked component by component; a folder of one model (its
    config.json and weights side by side, as transformers saves them) as one component."""
    index = _model_index(entry)
    if not index:
        return _check_component(entry, entry.path, "", needs_weights=True)
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
        needs_weights = name not in _NO_WEIGHTS_NEEDED and name not in _OPTIONAL
        variant = _check_component(entry, folder, name, needs_weights) or variant
    return variant


def _check_component(entry: ModelEntry, folder: Path, name: str, needs_weights: bool) -> str | None:
    """Check one component folder: regular files, pickles that hold only tensors and, when
    `needs_weights`, a weights file; "fp16" when it only has half-precision weights."""
    files = _regular_files(entry, folder)
    weights = [f for f in files if f.endswith((".safetensors", ".bin", ".index.json"))]
    if not any(f.endswith(".safetensors") for f in weights):  # the libraries unpickle these
        for pickle in (f for f in weights if f.endswith(_PICKLED_WEIGHTS)):
            load_ckpt_state_dict(folder / pickle, mmap=True)  # refuses code
    if not needs_weights:
        return None
    if not weights:
        raise _incomplete(entry, f"{name}/ has no weights file" if name else "it has no weights")
    return "fp16" if all(".fp16." in f for f in weights) else None


def _model_index(entry: ModelEntry) -> dict:
    """The folder's model_index.json ({} for a folder of one model, with its config.json),
    refused when loading would run code that came with the model."""
    try:
        custom = foreign_code(entry.path)
        index = read_json_object(entry.path / "model_index.json")
        single = not index and bool(read_json_object(entry.path / "config.json"))
    except (OSError, UntrustedInputError) as e:
        raise JobError(
            "invalid_input", f"The model folder '{entry.name}' cannot be used: {_why(e)}."
        ) from None
    if custom:
        raise JobError(
            "invalid_input", f"'{entry.name}' is refused: {custom_code_message(custom)}."
        )
    if not index and not single:
        raise _incomplete(entry, "model_index.json is missing")
    return index


def _regular_files(entry: ModelEntry, folder: Path) -> list[str]:
    """The names of the files in `folder` (sub-folders left out); JobError when one is a
    pipe, a device or a socket, which would block or never end when a library reads it."""
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


def _load_error(
    entry: ModelEntry, families: Mapping[str, ModelFamily], error: Exception
) -> JobError:
    text = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
    if any(marker in str(error) for marker in _MISMATCH):
        label = family_label(entry.family, families)
        return JobError(
            "invalid_input",
            f"'{entry.name}' does not match the {label} architecture "
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
