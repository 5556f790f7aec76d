"""Where Atelier keeps its files: the home folder, model folders, settings and resources."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

MODEL_KINDS = (
    "checkpoints",
    "loras",
    "controlnet",
    "motion",
    "video",
    "music",
    "vae",
    "upscalers",
    "safety",
)
RESOURCES = Path(__file__).resolve().parent.parent / "resources"


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


def settings_path(home: Path | None = None) -> Path:
    return (home or atelier_home()) / "settings.json"


def load_settings(home: Path | None = None) -> dict[str, Any]:
    """The user's settings; a missing or unreadable file gives defaults (and is left alone)."""
    try:
        data = json.loads(settings_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(settings: dict[str, Any], home: Path | None = None) -> None:
    """Write settings atomically, so a crash mid-write keeps the previous file."""
    write_atomic(settings_path(home), json.dumps(settings, indent=2).encode("utf-8"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extra_model_folders(home: Path | None = None) -> list[Path]:
    """Folders from other tools (A1111, ComfyUI, InvokeAI) the user added; read in place."""
    return [Path(p) for p in load_settings(home).get("extra_model_folders", [])]


def add_model_folder(folder: Path, home: Path | None = None) -> None:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    settings = load_settings(home)
    folders = settings.setdefault("extra_model_folders", [])
    if str(folder) not in folders:
        folders.append(str(folder))
    save_settings(settings, home)
