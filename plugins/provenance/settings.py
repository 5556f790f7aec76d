"""Safety levels: read from and written to the "safety" section of Atelier's settings.

    "safety": {"prompt": "block" | "warn",
               "output": "block" | "blur" | "warn",
               "nudity_threshold": 0.5, "video_frames": 8}

Every output records the levels in force (and any value that was ignored), so its
metadata says honestly how it was checked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.home import load_settings, save_settings
from engine.untrusted import clean_text

PROMPT_LEVELS = ("block", "warn")
OUTPUT_LEVELS = ("block", "blur", "warn")


@dataclass(frozen=True)
class SafetySettings:
    """The safety levels in force for a job."""

    prompt: str = "block"  # a listed prompt is refused ("block") or only noted ("warn")
    output: str = "blur"  # a flagged output is dropped, blurred, or kept with a warning
    nudity_threshold: float = 0.5  # a detector score from here up flags an output
    video_frames: int = 8  # frames of a video the output check samples
    ignored: tuple[str, ...] = field(default=(), compare=False)  # invalid values in settings

    def record(self) -> dict[str, Any]:
        """The settings as recorded in an output's metadata."""
        values = dataclasses.asdict(self)
        values["ignored"] = list(self.ignored)
        return values


def _valid(name: str, value: Any) -> bool:
    if name == "prompt":
        return value in PROMPT_LEVELS
    if name == "output":
        return value in OUTPUT_LEVELS
    if name == "nudity_threshold":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and 0.05 <= value <= 1.0
    if name == "video_frames":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 256
    return False


def _shown(value: Any) -> str:
    """A value from settings.json as recorded among the ignored ones: short, whatever it is
    (every output's metadata carries it)."""
    text = clean_text(repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


def safety_settings(home: Path | None = None) -> SafetySettings:
    """The levels from settings.json; a missing or invalid value takes its default."""
    section = load_settings(home).get("safety", {})
    if not isinstance(section, dict):
        return SafetySettings(ignored=(f"safety: {_shown(section)}",))
    values: dict[str, Any] = {}
    ignored = []
    for f in dataclasses.fields(SafetySettings):
        if f.name == "ignored" or f.name not in section:
            continue
        if _valid(f.name, section[f.name]):
            values[f.name] = section[f.name]
        else:
            ignored.append(f"{f.name}: {_shown(section[f.name])}")
    return SafetySettings(**values, ignored=tuple(ignored))


def safety_section(settings: SafetySettings) -> dict[str, Any]:
    """The "safety" section of settings.json that holds `settings`; ValueError for a value
    out of its range."""
    for name in ("prompt", "output", "nudity_threshold", "video_frames"):
        if not _valid(name, getattr(settings, name)):
            raise ValueError(f"invalid safety setting {name}={getattr(settings, name)!r}")
    return {k: v for k, v in settings.record().items() if k != "ignored"}


def save_safety_settings(settings: SafetySettings, home: Path | None = None) -> None:
    """Store the levels in settings.json (other settings are kept)."""
    section = safety_section(settings)
    data = load_settings(home)
    data["safety"] = section
    save_settings(data, home)
