"""What a diffusers folder on disk is: its family and variant from its JSON configs, and
whether loading it would run Python code that came with it.

The configs are read bounded (engine.untrusted) and must be JSON objects; a value of the
wrong type counts as absent. Torch-free: diffusers is only located, never imported.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

from engine.checkpoint_files import INPAINT_CHANNELS
from engine.untrusted import MiB, UntrustedInputError, clean_text, display_path, read_json_file

MAX_CONFIG_BYTES = 4 * MiB  # model_index.json, config.json: a few KB when real
_TRUSTED_LIBRARIES = ("diffusers", "transformers")
_CLASS_FAMILY = {  # diffusers _class_name -> family, besides the Stable Diffusion pipelines
    "AutoencoderKL": "vae",
    "ControlNetModel": "controlnet",
    "ControlNetUnionModel": "controlnet",
    "T2IAdapter": "t2i_adapter",
    "MotionAdapter": "motion",
    "SparseControlNetModel": "sparsectrl",
    "StableVideoDiffusionPipeline": "svd",
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "CogVideoXPipeline": "cogvideox",
    "CogVideoXImageToVideoPipeline": "cogvideox",
    "AudioLDM2Pipeline": "audioldm2",
    "MusicLDMPipeline": "musicldm",
    "StableAudioPipeline": "stable_audio",
}
_MODEL_TYPE_FAMILY = {  # transformers config.json model_type -> family (no _class_name there)
    "musicgen": "musicgen",
    "musicgen_melody": "musicgen_melody",
}


def read_json_object(path: Path) -> dict:
    """The JSON object in a model's config file `path` (model_index.json, config.json);
    {} when there is no such file. Raises UntrustedInputError (too large, too deep, not
    JSON, not an object, not a regular file) or OSError, naming the file."""
    if not os.path.lexists(path):
        return {}
    shown = display_path(path)
    data = read_json_file(path, shown, MAX_CONFIG_BYTES)
    if not isinstance(data, dict):
        raise UntrustedInputError(shown, "is not a JSON object")
    return data


def is_model_folder(path: Path) -> bool:
    """Whether `path` holds a model_index.json or a config.json (of whatever kind: a
    folder or a pipe there is reported when the folder is read)."""
    return any(os.path.lexists(path / name) for name in ("model_index.json", "config.json"))


def plain_name(name: str) -> bool:
    """Whether `name` names an entry inside a folder (no separators, not "." or "..")."""
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name


def _string(value: object) -> str:
    return clean_text(value) if isinstance(value, str) else ""


def config_class(path: Path) -> str | None:
    config = read_json_object(path / "config.json")
    return _string(config.get("_class_name")) or _string(config.get("model_type")) or None


def folder_family(path: Path) -> str:
    """The family of a diffusers pipeline folder or a diffusers component folder, or of a
    transformers folder Atelier runs (MusicGen, by its config's model_type)."""
    index = read_json_object(path / "model_index.json")
    cls = _string(index.get("_class_name")) or _string(
        read_json_object(path / "config.json").get("_class_name")
    )
    if cls in _CLASS_FAMILY:
        return _CLASS_FAMILY[cls]
    if not index and not cls:
        model_type = _string(read_json_object(path / "config.json").get("model_type"))
        return _MODEL_TYPE_FAMILY.get(model_type, "unknown")
    if not cls.startswith("StableDiffusion") or "3" in cls or "Upscale" in cls or not index:
        return "unknown"
    unet = read_json_object(path / "unet" / "config.json")
    if "XL" in cls or unet.get("addition_embed_type") == "text_time":
        text_encoder = index.get("text_encoder")
        has_text_encoder = isinstance(text_encoder, list) and text_encoder[:1] not in ([], [None])
        return "sdxl" if has_text_encoder else "sdxl_refiner"
    return "sd2" if unet.get("cross_attention_dim") == 1024 else "sd15"


def folder_variant(path: Path) -> str:
    """A diffusers folder's variant: "inpaint" when its UNet takes 9 input channels, else ""."""
    unet = read_json_object(path / "unet" / "config.json")
    return "inpaint" if unet.get("in_channels") == INPAINT_CHANNELS else ""


def foreign_code(folder: Path) -> str | None:
    """What in a diffusers folder would make loading it run Python code that came with the
    model, or None: a custom pipeline or component class in model_index.json (one that is
    not from diffusers or transformers), or a config.json with an "auto_map" (code that
    transformers runs with trust_remote_code). Raises UntrustedInputError or OSError when
    those files are unusable, naming the file."""
    index_path = folder / "model_index.json"
    index = read_json_object(index_path)
    shown = display_path(index_path)
    cls = index.get("_class_name", "")
    if not isinstance(cls, str):
        return f"{shown} names a custom pipeline class {_short(cls)}"
    for key in ("custom_pipeline", "_custom_pipeline"):
        if key in index:
            return f"{shown} asks for a custom pipeline ({key})"
    configs = [folder / "config.json"]
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list):
            continue  # flags such as "requires_safety_checker"
        if not plain_name(component):
            raise UntrustedInputError(shown, f"names {_short(component)}, not a component")
        if len(spec) != 2 or not all(isinstance(v, str) or v is None for v in spec):
            raise UntrustedInputError(
                shown, f"gives {component} as {_short(spec)}, not a [library, class] pair"
            )
        if spec[0] is not None and spec[0] not in _trusted_libraries():
            return f"{shown} loads its {component} with the module {_short(spec[0])}"
        configs.append(folder / component / "config.json")
    for config in configs:
        if "auto_map" in read_json_object(config):
            return f"{display_path(config)} asks for the model's own code (auto_map)"
    return None


def custom_code_message(detail: str) -> str:
    """Why a model that needs its own code is refused (`detail` from foreign_code)."""
    return (
        f"it needs Python code shipped with the model ({detail}), and Atelier never runs "
        "such code; use a standard diffusers version of this model"
    )


def _short(value: object) -> str:
    """A value from a file, shown briefly in a message."""
    text = clean_text(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def _trusted_libraries() -> frozenset[str]:
    """The libraries a model_index.json may load components from: diffusers, transformers
    and diffusers' own pipeline modules ("stable_diffusion" for the safety checker), found
    without importing diffusers (without it, where it cannot be imported: the fixed list)."""
    try:
        spec = importlib.util.find_spec("diffusers")
    except ImportError:
        spec = None
    folders = [Path(p) / "pipelines" for p in (spec and spec.submodule_search_locations) or []]
    modules = {
        p.name
        for folder in folders
        if folder.is_dir()
        for p in folder.iterdir()
        if p.is_dir() and p.name.isidentifier() and not p.name.startswith("_")
    }
    return frozenset(_TRUSTED_LIBRARIES) | modules
