"""File > Open Recent: the last projects and pictures opened or saved, newest first.

The list is kept in settings.json ("recent_files", absolute paths), so it survives a
restart. A file opened again moves to the top instead of appearing twice; the list keeps
the newest MAX_RECENT. A file that is no longer there stays in the list, shown greyed out
with "not found" (it may be on a disk that is not plugged in), until "Clear recent".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu

from engine.home import load_settings, remember_setting

KEY = "recent_files"
MAX_RECENT = 10


def recent_files(home: Path | None = None) -> list[Path]:
    """The remembered files, newest first (values that are not paths are passed over)."""
    saved = load_settings(home).get(KEY)
    if not isinstance(saved, list):
        return []
    return [Path(p) for p in saved if isinstance(p, str) and p][:MAX_RECENT]


def remember_recent(path: Path, home: Path | None = None) -> None:
    """Put `path` at the top of the list (once), keeping the newest MAX_RECENT."""
    path = Path(os.path.abspath(path))
    kept = [p for p in recent_files(home) if p != path]
    remember_setting(KEY, [str(p) for p in [path, *kept][:MAX_RECENT]], home)


def clear_recent(home: Path | None = None) -> None:
    remember_setting(KEY, [], home)


class RecentMenu(QObject):
    """Fills `menu` with the recent files each time it opens; choosing one calls `open_file`."""

    def __init__(
        self, menu: QMenu, open_file: Callable[[Path], Any], home: Path | None = None
    ) -> None:
        super().__init__(menu)
        self.menu, self.open_file, self.home = menu, open_file, home
        menu.setToolTipsVisible(True)
        menu.aboutToShow.connect(self.refresh)
        self.refresh()

    def add(self, path: Path) -> None:
        """A file was opened or saved."""
        remember_recent(path, self.home)
        self.refresh()

    def clear(self) -> None:
        clear_recent(self.home)
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the entries: one per file (greyed out when it is not there), then Clear."""
        self.menu.clear()
        files = recent_files(self.home)
        names = [p.name for p in files]
        for number, path in enumerate(files, start=1):
            self._add_entry(number, path, names.count(path.name) > 1)
        if not files:
            self.menu.addAction("No recent files").setEnabled(False)
        self.menu.addSeparator()
        clear = self.menu.addAction("Clear recent", self.clear)
        clear.setEnabled(bool(files))

    def _add_entry(self, number: int, path: Path, with_folder: bool) -> None:
        """One file; `with_folder` adds its folder's name, for names listed twice."""
        shortcut = f"&{number % 10} " if number <= 10 else ""
        name = f"{path.name} ({path.parent.name})" if with_folder else path.name
        found = path.is_file()
        note = "" if found else " \N{EM DASH} not found"
        action = self.menu.addAction(f"{shortcut}{_escaped(name)}{note}")
        action.setEnabled(found)
        where = str(path) if found else f"{path} is not there any more"
        action.setToolTip(where)
        action.setStatusTip(where)
        action.setData(str(path))
        action.triggered.connect(lambda *_, p=path: self.open_file(p))


def _escaped(text: str) -> str:
    """`text` with its ampersands shown, not read as a menu mnemonic."""
    return text.replace("&", "&&")
