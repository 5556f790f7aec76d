"""The loader of the control families: ControlNets, ControlNet-Union models and T2I-Adapters
as diffusers models, offline.

The engine checks the files before this runs and places the model afterwards
(engine.model_loader). Diffusers folders load with `from_pretrained`; a single-file
ControlNet (control_v11p_sd15_scribble.safetensors) with `from_single_file` and the
shipped config of its family (resources/configs/controlnet-<family>/config.json), which
never goes to the hub. diffusers is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.model_entry import ModelEntry
from engine.model_families import family_label
from engine.model_loader import OFFLINE
from engine.protocol import JobError
from plugins.diffusion.families import BY_ID

if TYPE_CHECKING:
    import torch

    from engine.model_store import ModelStore

MODEL_CLASSES = {
    "controlnet": "ControlNetModel",
    "union": "ControlNetUnionModel",
    "t2i_adapter": "T2IAdapter",
}
ARCHITECTURE_LABELS = {
    "controlnet": "ControlNet",
    "union": "ControlNet-Union model",
    "t2i_adapter": "T2I-Adapter",
}


def control_label(entry: ModelEntry) -> str:
    """What a control model is, as a designer says it: "an SDXL ControlNet"."""
    info = entry.control
    if info is None:
        return "a control model"
    return with_article(
        f"{family_label(info.base, BY_ID)} {ARCHITECTURE_LABELS[info.architecture]}"
    )


def with_article(label: str) -> str:
    """`label` after "a" or "an" as it is said: "an SDXL model", "a Stable Diffusion 1.x model"."""
    return f"{'an' if label[0] in 'AEIOU' or label.startswith('SD') else 'a'} {label}"


def control_config_dir(store: ModelStore, entry: ModelEntry) -> Path:
    """The shipped config folder for loading the single-file ControlNet `entry` offline."""
    base = entry.control.base if entry.control else ""
    folder = store.config_root / f"controlnet-{base}"
    if not (folder / "config.json").is_file():
        shipped = sorted(
            p.parent.name.removeprefix("controlnet-")
            for p in store.config_root.glob("controlnet-*/config.json")
        )
        raise JobError(
            "invalid_input",
            f"'{entry.name}' is {control_label(entry)}; Atelier has no offline config to load "
            f"such single files (it has: {', '.join(shipped) or 'none'}). "
            "Use the diffusers-folder version of this model instead.",
        )
    return folder


def load_control(
    entry: ModelEntry,
    store: ModelStore,
    *,
    dtype: torch.dtype,
    device: str,
    variant: str | None,
) -> Any:
    """The loader of the control families: `entry` as a diffusers ControlNetModel,
    ControlNetUnionModel or T2IAdapter in `dtype`, left on the CPU for the device policy."""
    import diffusers

    if entry.control is None:
        raise JobError("invalid_input", f"'{entry.name}' is not a control model Atelier knows.")
    architecture = entry.control.architecture
    cls = getattr(diffusers, MODEL_CLASSES[architecture])
    if entry.format == "diffusers":
        return cls.from_pretrained(entry.path, variant=variant, dtype=dtype, **OFFLINE)
    if architecture != "controlnet":
        raise JobError(
            "invalid_input",
            f"'{entry.name}' is {control_label(entry)} in a single file; Atelier loads those "
            "only as diffusers folders (config.json and weights). Use that version instead.",
        )
    config = str(control_config_dir(store, entry))
    return cls.from_single_file(str(entry.path), config=config, dtype=dtype, **OFFLINE)
