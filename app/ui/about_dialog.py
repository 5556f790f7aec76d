"""Help > About Atelier: the version, the licences (Atelier's and each built-in model's, as
its model card states it) and where Atelier keeps its files, with buttons to open them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.diffusers_folders import is_model_folder
from engine.home import ensure_model_dirs
from engine.model_scan import model_card_licence
from engine.untrusted import UntrustedInputError, display_path

PACKAGE = "atelier"


@dataclass(frozen=True)
class BundledModel:
    name: str
    licence: str  # as its model card states it, or why it is not known


def atelier_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "(version unknown: Atelier is not installed as a package)"


def atelier_licence() -> str:
    """The licence the package metadata names ("Apache-2.0")."""
    try:
        info = metadata.metadata(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown (Atelier is not installed as a package)"
    return info.get("License-Expression") or info.get("License") or "not stated"


def bundled_models(builtin_dir: Path) -> list[BundledModel]:
    """Each model folder in `builtin_dir` and the licence its model card's front matter
    names, by folder name."""
    try:
        folders = sorted(p for p in builtin_dir.iterdir() if p.is_dir() and is_model_folder(p))
    except OSError:
        return []
    return [BundledModel(folder.name, _card_licence(folder)) for folder in folders]


def _card_licence(folder: Path) -> str:
    try:
        licence = model_card_licence(folder)
    except (OSError, UntrustedInputError) as exc:
        reason = exc.reason if isinstance(exc, UntrustedInputError) else exc.strerror or exc
        return f"unknown: its model card cannot be read ({reason})"
    return licence or "not stated in its model card"


def open_folder(folder: Path) -> None:
    """Show `folder` in the desktop's file manager."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class AboutDialog(QDialog):
    """What Atelier is, under which licences, and where its files are."""

    def __init__(
        self, home: Path, builtin_dir: Path, added: list[Path], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("about")
        self.setWindowTitle("About Atelier")
        self.home = home
        column = QVBoxLayout(self)
        title = QLabel(f"Atelier {atelier_version()}", objectName="title")
        column.addWidget(title)
        column.addWidget(
            _text(
                "A local, offline-first creative studio. Atelier is free software under the "
                f"{atelier_licence()} licence."
            )
        )
        self.models = bundled_models(builtin_dir)
        column.addWidget(self._licences_box())
        self.open_buttons: dict[str, QPushButton] = {}
        column.addWidget(self._folders_box(builtin_dir, added))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.setMinimumWidth(560)

    def _licences_box(self) -> QGroupBox:
        box = QGroupBox("Built-in models")
        grid = QGridLayout(box)
        for row, model in enumerate(self.models):
            grid.addWidget(QLabel(model.name), row, 0)
            grid.addWidget(_text(f"Licence: {model.licence}"), row, 1)
        if not self.models:
            grid.addWidget(_text("No built-in models are installed."), 0, 0)
        grid.setColumnStretch(1, 1)
        return box

    def _folders_box(self, builtin_dir: Path, added: list[Path]) -> QGroupBox:
        box = QGroupBox("Where Atelier keeps its files")
        grid = QGridLayout(box)
        rows = [
            ("Data folder (settings, recovery)", self.home, True),
            ("Models folder", self.home / "models", True),
            ("Built-in models", builtin_dir, False),
            *((f"Added model folder {n}", f, False) for n, f in enumerate(added, start=1)),
        ]
        for row, (label, folder, create) in enumerate(rows):
            self._folder_row(grid, row, label, folder, create)
        grid.setColumnStretch(1, 1)
        return box

    def _folder_row(
        self, grid: QGridLayout, row: int, label: str, folder: Path, create: bool
    ) -> None:
        """`folder` with an Open button; `create`: Atelier's own folder, made when opened."""
        there = folder.is_dir()
        path = _text(display_path(folder) + ("" if there or create else " (not found)"))
        path.setWordWrap(False)  # a path reads badly broken across lines
        button = QPushButton("Open")
        button.setEnabled(there or create)
        button.clicked.connect(lambda *_: self.open(folder, create))
        grid.addWidget(QLabel(f"{label}:"), row, 0)
        grid.addWidget(path, row, 1)
        grid.addWidget(button, row, 2)
        self.open_buttons[label] = button

    def open(self, folder: Path, create: bool = False) -> None:
        if create:
            ensure_model_dirs(self.home)
        open_folder(folder)


def _text(text: str) -> QLabel:
    """A wrapped label whose text can be selected (to copy a path)."""
    label = QLabel(text, wordWrap=True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
