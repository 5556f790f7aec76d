"""Where each file dialog starts: the document's own folder, else the last folder used for
that action (open, save, export), else the user's Pictures folder, else home.

The last folders are remembered in settings.json ("dialog_folders"), so they survive a
restart; a folder that no longer exists is passed over.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths

from engine.home import load_settings, remember_setting

KEY = "dialog_folders"


def pictures_folder() -> Path:
    """The user's Pictures folder where there is one, else the home folder."""
    location = QStandardPaths.StandardLocation.PicturesLocation
    pictures = QStandardPaths.writableLocation(location)
    return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()


def start_folder(action: str, document_folder: Path | None) -> Path:
    """The folder the `action` dialog opens in."""
    if document_folder is not None and document_folder.is_dir():
        return document_folder
    last = load_settings().get(KEY, {})
    remembered = last.get(action) if isinstance(last, dict) else None
    if isinstance(remembered, str) and Path(remembered).is_dir():
        return Path(remembered)
    return pictures_folder()


def remember_folder(action: str, chosen: Path) -> None:
    """Keep `chosen`'s folder as the last one of `action`; a settings file that cannot be
    written only costs the memory (logged), never the user's file."""
    last = load_settings().get(KEY)
    last = last if isinstance(last, dict) else {}
    remember_setting(KEY, {**last, action: str(chosen.parent.resolve())})
