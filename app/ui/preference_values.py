"""What Edit > Preferences edits, as one value read from and written to settings.json.

Qt-free. Reading never fails: a value of the wrong shape counts as its default (the
settings reader says what it ignored). Writing checks every value, keeps the settings the
dialog does not show (recent files, colours, unknown keys) and writes the file once,
atomically (engine.home.save_settings, which also keeps a damaged file's copy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.ui.recovery import (
    AUTOSAVE_MINUTES,
    AUTOSAVE_SETTING,
    MAX_AUTOSAVE_MINUTES,
    MIN_AUTOSAVE_MINUTES,
    autosave_minutes,
)
from app.ui.theme import DEFAULT_THEME, THEME_SETTING, THEMES, theme_name
from engine.home import read_settings, save_settings
from plugins.provenance.settings import SafetySettings, safety_section, safety_settings

MODEL_FOLDERS = "extra_model_folders"
DEVICE = "device"
# engine.devices.DevicePolicy's fields that Preferences sets, and the values each may take
DEVICES = {"cuda": "NVIDIA GPU (CUDA)", "mps": "Apple GPU (Metal)", "cpu": "Processor (CPU)"}
PRECISIONS = {
    "float16": "Half (float16)",
    "bfloat16": "Half, wide range (bfloat16)",
    "float32": "Full (float32)",
}
MEMORY_SAVERS = {
    "attention_slicing": "Attention slicing",
    "vae_tiling": "VAE tiling",
    "cpu_offload": "CPU offload",
}
CPU_THREADS = "cpu_threads"
MAX_CPU_THREADS = 1024
DEVICE_FIELDS = ("device", "dtype", *MEMORY_SAVERS, CPU_THREADS)


@dataclass(frozen=True)
class Preferences:
    """The settings Preferences shows. `device` holds only the choices made: a field left
    out is chosen automatically from the machine (engine.devices.choose_device_policy)."""

    model_folders: tuple[str, ...] = ()
    device: Mapping[str, Any] = field(default_factory=dict)
    safety: SafetySettings = field(default_factory=SafetySettings)
    autosave_minutes: int = AUTOSAVE_MINUTES
    theme: str = DEFAULT_THEME


def read_preferences(home: Path | None = None) -> Preferences:
    """The preferences in the settings file of `home` (defaults where it has none)."""
    values = read_settings(home).values
    return Preferences(
        model_folders=tuple(values.get(MODEL_FOLDERS, [])),
        device=usable_device_choices(values.get(DEVICE, {})),
        safety=safety_settings(home),
        autosave_minutes=autosave_minutes(values),
        theme=theme_name(values),
    )


def usable_device_choices(section: Mapping[str, Any]) -> dict[str, Any]:
    """The device settings Preferences can show; other values count as "automatic"."""
    fits = {
        "device": lambda v: v in DEVICES,
        "dtype": lambda v: v in PRECISIONS,
        CPU_THREADS: lambda v: type(v) is int and 1 <= v <= MAX_CPU_THREADS,
        **{saver: lambda v: isinstance(v, bool) for saver in MEMORY_SAVERS},
    }
    return {k: v for k, v in section.items() if k in fits and fits[k](v)}


def save_preferences(prefs: Preferences, home: Path | None = None) -> None:
    """Write `prefs` into the settings file, other settings kept. ValueError naming the
    value for one out of range; SettingsError (a ValueError) when the file cannot be
    written, which then stays as it was."""
    values = dict(read_settings(home).values)
    values[MODEL_FOLDERS] = list(prefs.model_folders)
    values[DEVICE] = _device_section(values.get(DEVICE, {}), prefs.device)
    if not values[DEVICE]:
        del values[DEVICE]  # all automatic
    values["safety"] = safety_section(prefs.safety)
    values[AUTOSAVE_SETTING] = _checked_minutes(prefs.autosave_minutes)
    values[THEME_SETTING] = _checked_theme(prefs.theme)
    save_settings(values, home)


def _device_section(old: Mapping[str, Any], choices: Mapping[str, Any]) -> dict[str, Any]:
    """The old section's keys Preferences does not show, plus the choices made."""
    if dict(choices) != usable_device_choices(choices):
        raise ValueError(f"these device settings cannot be used: {dict(choices)}")
    return {k: v for k, v in old.items() if k not in DEVICE_FIELDS} | dict(choices)


def _checked_minutes(minutes: int) -> int:
    if not MIN_AUTOSAVE_MINUTES <= minutes <= MAX_AUTOSAVE_MINUTES:
        raise ValueError(
            f"autosave every {minutes} minutes is not possible: choose "
            f"{MIN_AUTOSAVE_MINUTES} to {MAX_AUTOSAVE_MINUTES} minutes"
        )
    return minutes


def _checked_theme(name: str) -> str:
    if name not in THEMES:
        raise ValueError(f"there is no theme called {name!r}; one of {', '.join(THEMES)}")
    return name
