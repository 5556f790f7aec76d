"""Which AnimateDiff motion adapter a clip is made with: the one named, or one that fits
the checkpoint (the same UNet channels), preferring one whose atelier.json names the
checkpoint as its base. Torch-free: configs are read as JSON.
"""

from __future__ import annotations

from engine.diffusers_folders import read_json_object
from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.model_store import ModelStore
from engine.protocol import JobError
from engine.untrusted import UntrustedInputError

SD15_CHANNELS = (320, 640, 1280, 1280)  # a single-file SD 1.x checkpoint's UNet
DEFAULT_WINDOW = 16  # the frames AnimateDiff's motion modules were trained on


def _channels(config: dict) -> tuple[int, ...] | None:
    value = config.get("block_out_channels")
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def checkpoint_channels(entry: ModelEntry) -> tuple[int, ...] | None:
    """The channels of each level of a checkpoint's UNet (None when they cannot be read)."""
    if entry.format != "diffusers":
        return SD15_CHANNELS if entry.family == "sd15" else None
    try:
        return _channels(read_json_object(entry.path / "unet" / "config.json"))
    except (OSError, UntrustedInputError):
        return None


def adapter_channels(entry: ModelEntry) -> tuple[int, ...] | None:
    """The UNet channels a motion adapter folder was made for (None for anything else)."""
    if entry.format != "diffusers":
        return None
    try:
        return _channels(read_json_object(entry.path / "config.json"))
    except (OSError, UntrustedInputError):
        return None


def adapter_window(entry: ModelEntry) -> int:
    """The frames an adapter attends across at once: its atelier.json "frames", else 16."""
    return int(entry.settings.frames or DEFAULT_WINDOW)


def adapters_for(store: ModelStore, checkpoint: ModelEntry) -> list[ModelEntry]:
    """The motion adapters that fit `checkpoint`, those made for it first."""
    channels = checkpoint_channels(checkpoint)
    fitting = [
        e
        for e in store.entries
        if e.kind == "motion" and e.family == "motion" and adapter_channels(e) == channels
    ]
    return sorted(fitting, key=lambda e: e.settings.base.casefold() != checkpoint.name.casefold())


def pick_motion_adapter(store: ModelStore, checkpoint: ModelEntry, name: str = "") -> ModelEntry:
    """The adapter called `name`, or the first that fits (adapters_for); JobError when the
    named one does not fit the checkpoint or none is installed."""
    if name:
        entry = store.find(name, "motion")
        if entry.family != "motion" or adapter_channels(entry) is None:
            raise JobError(
                "invalid_input",
                f"'{entry.name}' is not an AnimateDiff motion adapter folder (config.json "
                "of a MotionAdapter with its weights); single-file motion modules are not "
                "read yet.",
            )
        if adapter_channels(entry) != checkpoint_channels(checkpoint):
            raise JobError(
                "invalid_input",
                f"The motion adapter '{entry.name}' was made for another UNet than "
                f"'{checkpoint.name}' has. Choose a motion adapter made for it, or leave "
                "Motion model empty to use one that fits.",
            )
        return entry
    fitting = adapters_for(store, checkpoint)
    if not fitting:
        raise JobError(
            "missing_model",
            f"No motion adapter fits '{checkpoint.name}'. Put an AnimateDiff motion adapter "
            f"folder (diffusers format) for it in {models_dir('motion', store.home)}.",
        )
    return fitting[0]
