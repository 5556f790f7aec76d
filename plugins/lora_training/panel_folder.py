"""The training panel's photo folder: typed, chosen in a dialog or dropped on the panel, then
checked off the GUI thread (plugins.lora_training.folder_check), with the report shown as a
summary and one line per file, problems marked.

A UI module (imports PySide6).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.untrusted import display_path
from plugins.api import AppContext
from plugins.lora_training.folder_check import check_folder, require_usable

DIALOG_ACTION = "lora_training"
SKIPPED = "\N{MULTIPLICATION SIGN} "  # a file training leaves out
NOTED = "! "  # a file used after a fix (e.g. turned upright)
USABLE = "\N{CHECK MARK} "
SKIPPED_COLOUR = QColor("#ff6b6b")
NO_FOLDER = "Choose the folder of photos to train on."


@dataclass(frozen=True)
class FolderLook:
    """What the panel shows of a folder check (not the photos' pixels, which the job reads
    again): the summary, a line per file with its mark, the usable photos' count and why
    training cannot use the folder ("" when it can)."""

    summary: str
    lines: tuple[tuple[str, bool], ...]  # (text, skipped)
    photos: int
    problem: str


def look_at(folder: Path, min_side: int, progress: Callable[[int, int], None]) -> FolderLook:
    """Check `folder` as the training job will (on a worker thread: it reads every picture)."""
    try:
        report = check_folder(folder, min_side, progress=progress)
    except ValueError as exc:
        return FolderLook(str(exc), (), 0, str(exc))
    lines = [
        (f"{SKIPPED if p.skipped else NOTED}{display_path(p.path.name)}: {p.problem}", p.skipped)
        for p in report.problems
    ]
    flagged = {p.path for p in report.problems}
    lines += [
        (f"{USABLE}{display_path(photo.path.name)}", False)
        for photo in report.photos
        if photo.path not in flagged
    ]
    try:
        require_usable(report)
        problem = ""
    except ValueError as exc:
        problem = str(exc)
    return FolderLook(report.summary(), tuple(lines), len(report.photos), problem)


class FolderField(QWidget):
    """The folder to train on and what its check found. `checked` says, after each check of
    the folder shown, why training cannot use it ("" when it can)."""

    checked = Signal(str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.problem = NO_FOLDER
        self.photo_count = 0  # usable photos found by the last check
        self._min_side = 64
        self._checks = 0  # counts checks: only the newest one's result is shown
        self.task: asyncio.Task | None = None
        self.edit = QLineEdit()
        self.edit.setObjectName("lora_folder")
        self.edit.setPlaceholderText("A folder of 5 to 50 photos (or drop it here)")
        self.edit.editingFinished.connect(self._typed)
        self.choose_button = QPushButton("Choose folder\N{HORIZONTAL ELLIPSIS}")
        self.choose_button.clicked.connect(self.choose)
        self.summary = QLabel("")
        self.summary.setObjectName("lora_folder_summary")
        self.summary.setWordWrap(True)
        self.files = QListWidget()
        self.files.setObjectName("lora_folder_files")
        self.files.setMaximumHeight(110)
        self.files.setWordWrap(True)
        self.files.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.files.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.choose_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.summary)
        column.addWidget(self.files)

    def folder(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None

    def choose(self) -> None:
        start = str(self.context.dialog_folder(DIALOG_ACTION))
        chosen = QFileDialog.getExistingDirectory(self, "Folder of photos to train on", start)
        if chosen:
            self.context.remember_dialog_folder(DIALOG_ACTION, Path(chosen))
            self.set_folder(Path(chosen))

    def set_folder(self, folder: Path) -> asyncio.Task:
        """Show `folder` and check it."""
        self.edit.setText(str(folder))
        return self.check()

    def set_min_side(self, pixels: int) -> None:
        """Photos shorter than this on a side are too small; a shown folder is checked again."""
        if pixels != self._min_side:
            self._min_side = pixels
            if self.folder() is not None:
                self.check()

    def check(self) -> asyncio.Task:
        """Check the shown folder on a worker thread; the window stays responsive."""
        self._checks += 1
        self.task = asyncio.ensure_future(self._check(self.folder(), self._checks))
        return self.task

    def _typed(self) -> None:
        if self.edit.isModified():
            self.edit.setModified(False)
            self.check()

    async def _check(self, folder: Path | None, number: int) -> None:
        if folder is None:
            self._show(FolderLook("", (), 0, NO_FOLDER))
            return
        self._show(
            FolderLook(
                "Checking the photos\N{HORIZONTAL ELLIPSIS}", (), 0, "The photos are being checked."
            )
        )
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:  # on the worker thread
            loop.call_soon_threadsafe(self._show_checking, number, done, total)

        look = await asyncio.to_thread(look_at, folder, self._min_side, progress)
        if number == self._checks:  # else a newer check's result replaces this one
            self._show(look)

    def _show_checking(self, number: int, done: int, total: int) -> None:
        if number == self._checks:
            self.summary.setText(f"Checking the photos\N{HORIZONTAL ELLIPSIS} {done} of {total}")

    def _show(self, look: FolderLook) -> None:
        self.summary.setText(look.summary)
        self.files.clear()
        for text, skipped in look.lines:
            item = QListWidgetItem(text)
            if skipped:
                item.setForeground(QBrush(SKIPPED_COLOUR))
            self.files.addItem(item)
        self.files.setVisible(self.files.count() > 0)
        self.photo_count, self.problem = look.photos, look.problem
        self.checked.emit(look.problem)
