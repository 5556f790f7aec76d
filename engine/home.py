"""Where Atelier keeps its files: the home folder, model folders, settings and resources."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from engine.file_writing import free_name, write_atomic, write_failure
from engine.untrusted import UntrustedInputError, display_path, read_json_file

log = logging.getLogger(__name__)

MODEL_KINDS = (
    "checkpoints",
    "loras",
    "embeddings",
    "controlnet",
    "ipadapter",
    "depth",
    "motion",
    "video",
    "music",
    "vae",
    "upscalers",
    "safety",
)
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
MAX_SETTINGS_BYTES = 1024 * 1024  # a settings file is a few hundred bytes


class SettingsError(ValueError):
    """settings.json cannot be written; the message says which file, why and what to do."""


def atelier_home() -> Path:
    """ATELIER_HOME if set, else the user data dir."""
    return Path(os.environ.get("ATELIER_HOME") or user_data_dir("atelier", appauthor=False))


def models_dir(kind: str = "checkpoints", home: Path | None = None) -> Path:
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(MODEL_KINDS)}")
    return (home or atelier_home()) / "models" / kind


def ensure_model_dirs(home: Path | None = None) -> Path:
    """Create <home>/models/<kind>/ for every kind; returns the models folder."""
    for kind in MODEL_KINDS:
        models_dir(kind, home).mkdir(parents=True, exist_ok=True)
    return (home or atelier_home()) / "models"


# ---- settings --------------------------------------------------------------------------------


def settings_path(home: Path | None = None) -> Path:
    return (home or atelier_home()) / "settings.json"


@dataclass(frozen=True)
class Settings:
    """settings.json as read: the usable values, and what was ignored (one sentence)."""

    values: dict[str, Any] = field(default_factory=dict)
    problem: str = ""


# The shape of each known setting; a value of another shape is ignored (its default is used).
_SECTIONS = ("device", "safety")  # objects, checked field by field by their readers


def read_settings(home: Path | None = None) -> Settings:
    """The user's settings. A missing file gives defaults; a damaged one (not a file, too
    large, not JSON, a wrong shape) gives defaults for the damaged parts and a `problem`
    naming the file. The file itself is left alone."""
    path = settings_path(home)
    try:
        data = read_json_file(path, f"settings file {display_path(path)}", MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return Settings()
    except (OSError, UntrustedInputError) as exc:
        reason = exc.reason if isinstance(exc, UntrustedInputError) else _reason(exc)
        return Settings(problem=_unreadable_settings(path, reason))
    if not isinstance(data, dict):
        return Settings(problem=_unreadable_settings(path, "it is not a JSON object"))
    values, ignored = _usable_settings(data)
    if not ignored:
        return Settings(values)
    return Settings(
        values,
        f"Atelier ignored {', '.join(ignored)} in its settings file {display_path(path)} "
        "(not a usable value) and uses the defaults until the file is fixed.",
    )


def _usable_settings(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The settings of a usable shape, and the names of those ignored."""
    values, ignored = dict(data), []
    for name in _SECTIONS:
        if name in values and not isinstance(values[name], dict):
            ignored.append(name)
            del values[name]
    if "extra_model_folders" in values:
        folders = values["extra_model_folders"]
        usable = (
            [f for f in folders if isinstance(f, str) and f] if isinstance(folders, list) else []
        )
        if not isinstance(folders, list) or len(usable) != len(folders):
            ignored.append("extra_model_folders" if not usable else "some extra_model_folders")
        values["extra_model_folders"] = usable
    return values, ignored


def _unreadable_settings(path: Path, reason: str) -> str:
    return (
        f"Atelier could not read its settings file {display_path(path)} ({reason}) and uses "
        "the default settings; fix or remove that file."
    )


def load_settings(home: Path | None = None) -> dict[str, Any]:
    """The user's usable settings (see `read_settings`); problems are logged."""
    settings = read_settings(home)
    if settings.problem:
        log.warning(settings.problem)
    return settings.values


def save_settings(settings: dict[str, Any], home: Path | None = None) -> None:
    """Write settings atomically, so a crash mid-write keeps the previous file; a damaged
    file it replaces is kept as settings.damaged.json. Raises SettingsError (a
    ValueError) when the file cannot be written."""
    path = settings_path(home)
    try:
        _keep_damaged_copy(path, home)
        write_atomic(path, json.dumps(settings, indent=2).encode("utf-8"))
    except OSError as exc:
        reason = write_failure(exc)
        if path.is_dir():
            reason = "it is a folder; move or rename that folder so Atelier can save there"
        raise SettingsError(f"cannot save the settings to {display_path(path)}: {reason}") from None


def _keep_damaged_copy(path: Path, home: Path | None) -> None:
    """Copy a settings file that cannot be read as it is (hand-edited, damaged) before
    saving over it: the values Atelier ignored are the user's work too."""
    if read_settings(home).problem and path.is_file():
        copy = free_name(path.with_name("settings.damaged.json"))
        shutil.copy2(path, copy)
        log.warning("kept a copy of the damaged settings file as %s", display_path(copy))


def extra_model_folders(home: Path | None = None) -> list[Path]:
    """Folders from other tools (A1111, ComfyUI, InvokeAI) the user added; read in place."""
    return [Path(p) for p in load_settings(home).get("extra_model_folders", [])]


def remember_setting(key: str, value: Any, home: Path | None = None) -> None:
    """Keep one preference the app can do without (a colour, a last folder) in
    settings.json: unchanged values are not written again, and a file that cannot be
    written is logged, never raised, so it costs only the memory."""
    settings = load_settings(home)
    if settings.get(key) == value:
        return
    settings[key] = value
    try:
        save_settings(settings, home)
    except SettingsError as exc:
        log.warning("%s", exc)


def usable_model_folder(folder: Path) -> Path:
    """`folder` as a model folder is kept (absolute, links resolved); ValueError with a
    sentence to show when it cannot be one."""
    try:
        folder = folder.expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a link loop, a name too long
        raise ValueError(f"{display_path(folder)} cannot be used: {_reason(exc)}") from None
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    return folder


def add_model_folder(folder: Path, home: Path | None = None) -> None:
    """Remember `folder` in settings.json; ValueError (SettingsError when settings.json
    cannot be written) with a sentence to show."""
    folder = usable_model_folder(folder)
    settings = load_settings(home)
    folders = settings.setdefault("extra_model_folders", [])
    if str(folder) not in folders:
        folders.append(str(folder))
    save_settings(settings, home)


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
