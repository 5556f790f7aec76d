"""A params field that picks a model (`Param.models`): a combo box of the models its plugin
offers, the default first, each with its note (the licence) by its name, and the chosen
one's note on a line under it.

Its value is the chosen model's name ("" while none is installed or listed yet). A field
whose empty name means a rule of its own (a motion adapter "made for the checkpoint") offers
it first, under its label (`Param.zero_label`), and keeps it while no model is installed.
A name set before the models are listed (a recipe, saved settings) is chosen once they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from plugins.api import ModelChoice

MIN_CHARACTERS = 12


class ModelField(QWidget):
    """The models of a model-picking field, and the chosen one's note."""

    changed = Signal()

    def __init__(self, automatic: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.automatic = automatic  # the label of the empty name; "": no such entry
        self.choices: list[ModelChoice] = []
        self._wanted = ""  # a name set while it is not listed: chosen when it appears
        self.combo = QComboBox()  # as narrow as the panel: a long name and licence are cut
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(MIN_CHARACTERS)  # (the popup and note show all)
        self.combo.addItem(automatic or "No models installed", "")
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.note.hide()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.combo)
        column.addWidget(self.note)
        self.combo.currentIndexChanged.connect(self._on_chosen)

    def set_choices(self, choices: Sequence[ModelChoice]) -> None:
        """List `choices`; keep the chosen model (or the one wanted) when it is among them,
        else choose the first, the default."""
        keep = self._wanted or self.value()
        self.choices = list(choices)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            if self.automatic:
                self.combo.addItem(self.automatic, "")
            for choice in self.choices:
                text = f"{choice.entry.name}  \N{MIDDLE DOT}  {choice.note}"
                self.combo.addItem(text if choice.note else choice.entry.name, choice.entry.name)
            if not self.combo.count():
                self.combo.addItem("No models installed", "")
            self.combo.setCurrentIndex(max(self.combo.findData(keep), 0))
        self._wanted = keep if self.combo.currentData() != keep else ""
        self._on_chosen()

    def value(self) -> str:
        return self.combo.currentData() or ""

    def setValue(self, name: str) -> None:  # noqa: N802 (the Qt spelling, like the spin boxes)
        """Choose the model called `name` ("" = the default, the first); a name not listed
        is chosen when it is (ValueError once models are listed and it is not among them)."""
        index = self.combo.findData(name) if name else 0
        if index < 0 and self.choices:
            raise ValueError(f"{name!r} is not installed")
        self._wanted = name if index < 0 else ""
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(max(index, 0))
        self._show_note()

    def chosen(self) -> ModelChoice | None:
        index = self.combo.currentIndex() - bool(self.automatic)
        return self.choices[index] if 0 <= index < len(self.choices) else None

    def _on_chosen(self, *_: object) -> None:
        self._show_note()
        self.changed.emit()

    def _show_note(self) -> None:
        chosen = self.chosen()
        note = chosen.note if chosen else ""
        self.note.setText(note)
        self.note.setVisible(bool(note))
