"""The training panel's line about automatic settings: what the presets would choose for
this computer, the chosen base model and the photos, and about how much memory that takes.

Torch-free and Qt-free: the GUI thread cannot ask torch about a GPU, so the line is for
the computer's memory and says the job chooses again for its device when it starts.
"""

from __future__ import annotations

from engine.job_cost import gb_text, physical_memory
from engine.model_entry import ModelEntry
from plugins.diffusion.params import native_size
from plugins.lora_training.params import TrainLoraParams
from plugins.lora_training.presets import DeviceInfo, describe, estimate_memory, resolve_settings

ASSUMED_PHOTOS = 10  # before a folder is checked
ASSUMED_MEMORY = 8 * 1024**3  # where the system does not say how much it has
BYTES_PER_FILE_BYTE = 2  # checkpoint files are mostly 16-bit; the presets count 32-bit weights


def min_photo_side(entry: ModelEntry | None) -> int:
    """The short side a photo needs for `entry`: half its native size, at least 64 (the
    training job's rule)."""
    return max(64, native_size(entry) // 2)


def this_computer() -> DeviceInfo:
    return DeviceInfo("cpu", physical_memory() or ASSUMED_MEMORY)


def automatic_line(params: TrainLoraParams, entry: ModelEntry | None, photos: int | None) -> str:
    """E.g. "Automatic settings for 12 photos: rank 16, ... ; about 6.1 GB (chosen for your
    device when training starts)", or why there are none."""
    if entry is None:
        return "Automatic settings: choose a base model."
    device = this_computer()
    count = photos if photos else ASSUMED_PHOTOS
    model_bytes = entry.size * BYTES_PER_FILE_BYTE
    try:
        settings, _ = resolve_settings(
            params,
            entry.family,
            native_size(entry),
            device,
            count,
            model_bytes,
            entry.settings.lora_training,
        )
    except ValueError as exc:
        return str(exc)
    memory = gb_text(estimate_memory(settings, device, model_bytes, entry.family))
    return (
        f"Automatic settings for {count} photos: {describe(settings)}; about {memory} "
        "(chosen for your device when training starts)"
    )
