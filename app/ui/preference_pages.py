"""The pages of Edit > Preferences: General, Model folders, Device and memory, Safety.

Each page shows its part of a `Preferences` value and gives it back edited (`values()`);
fields only offer what can be used (choices, number ranges), and each page says when its
changes take effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.preference_values import (
    CPU_THREADS,
    DEVICES,
    MAX_CPU_THREADS,
    MEMORY_SAVERS,
    PRECISIONS,
    Preferences,
)
from app.ui.recovery import MAX_AUTOSAVE_MINUTES, MIN_AUTOSAVE_MINUTES
from app.ui.theme import THEMES
from engine.devices import DevicePolicy
from engine.home import usable_model_folder
from plugins.provenance.settings import OUTPUT_LEVELS, PROMPT_LEVELS

AT_ONCE = "Changes here take effect at once."
AUTOMATIC = "Automatic"
_PROMPT_LABELS = {"block": "Refuse the job", "warn": "Only warn"}
_OUTPUT_LABELS = {
    "block": "Drop the picture",
    "blur": "Blur the picture",
    "warn": "Keep it, with a warning",
}
# every level the safety settings know, in their order (a new level needs a label here)
PROMPT_CHOICES = {level: _PROMPT_LABELS[level] for level in PROMPT_LEVELS}
OUTPUT_CHOICES = {level: _OUTPUT_LABELS[level] for level in OUTPUT_LEVELS}


def note(text: str) -> QLabel:
    """A muted line of explanation under a page's fields."""
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


def choice_box(choices: Mapping[Any, str], current: Any, name: str) -> QComboBox:
    """A combo box of `choices` (value: label) showing `current`."""
    box = QComboBox()
    box.setObjectName(name)
    for value, label in choices.items():
        box.addItem(label, value)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box


def page_layout(page: QWidget) -> tuple[QVBoxLayout, QFormLayout]:
    column = QVBoxLayout(page)
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
    column.addLayout(form)
    return column, form


class GeneralPage(QWidget):
    """Theme and autosave interval."""

    def __init__(self, prefs: Preferences) -> None:
        super().__init__()
        column, form = page_layout(self)
        titles = {name: theme.title for name, theme in THEMES.items()}
        self.theme = choice_box(titles, prefs.theme, "theme")
        form.addRow("Theme:", self.theme)
        self.autosave = QSpinBox(objectName="autosave_minutes")
        self.autosave.setRange(MIN_AUTOSAVE_MINUTES, MAX_AUTOSAVE_MINUTES)
        self.autosave.setSuffix(" min")
        self.autosave.setValue(prefs.autosave_minutes)
        self.autosave.setToolTip(
            "How often unsaved changes are copied to a recovery file, "
            f"{MIN_AUTOSAVE_MINUTES} to {MAX_AUTOSAVE_MINUTES} minutes; after a crash at "
            "most this much work is lost."
        )
        form.addRow("Autosave every:", self.autosave)
        column.addWidget(note(AT_ONCE))
        column.addStretch(1)

    def values(self, prefs: Preferences) -> Preferences:
        return replace(
            prefs, theme=self.theme.currentData(), autosave_minutes=self.autosave.value()
        )


class ModelFoldersPage(QWidget):
    """The model folders of other tools, read in place: add (with a folder picker), remove."""

    def __init__(self, prefs: Preferences, own_folder: Path) -> None:
        super().__init__()
        column = QVBoxLayout(self)
        column.addWidget(
            note(
                f"Atelier always looks in {own_folder} and at its built-in models. Add the "
                "model folders of A1111, ComfyUI or InvokeAI to use their models in place."
            )
        )
        self.folders = QListWidget(objectName="model_folders")
        for folder in prefs.model_folders:
            self._add_item(Path(folder))
        column.addWidget(self.folders, 1)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add folder\N{HORIZONTAL ELLIPSIS}")
        self.add_button.clicked.connect(lambda: self.add())
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        self.problem = QLabel(objectName="error", wordWrap=True)
        column.addWidget(self.problem)
        column.addWidget(note(AT_ONCE + " The model list is scanned again."))
        self.folders.currentRowChanged.connect(self._update_remove)
        self._update_remove()

    def listed(self) -> list[str]:
        return [self.folders.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count)]

    @property
    def count(self) -> int:
        return self.folders.count()

    def add(self, folder: Path | None = None) -> bool:
        """Add `folder` (asked with a folder picker when None); the reason when it cannot be
        one is shown under the list."""
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(self, "Add a model folder")
            if not chosen:
                return False
            folder = Path(chosen)
        try:
            folder = usable_model_folder(folder)
        except ValueError as exc:
            self.problem.setText(f"Could not add the folder: {exc}.")
            return False
        if str(folder) in self.listed():
            self.problem.setText(f"{folder} is in the list already.")
            return False
        self.problem.clear()
        self.folders.setCurrentItem(self._add_item(folder))
        return True

    def remove_selected(self) -> None:
        row = self.folders.currentRow()
        if row >= 0:
            self.folders.takeItem(row)
        self.problem.clear()
        self._update_remove()

    def values(self, prefs: Preferences) -> Preferences:
        return replace(prefs, model_folders=tuple(self.listed()))

    def _add_item(self, folder: Path) -> QListWidgetItem:
        found = folder.is_dir()
        item = QListWidgetItem(str(folder) if found else f"{folder} \N{EM DASH} not found")
        item.setData(Qt.ItemDataRole.UserRole, str(folder))
        item.setToolTip(str(folder) if found else "This folder is not there; it is skipped.")
        if not found:
            item.setForeground(self.palette().placeholderText())
        self.folders.addItem(item)
        return item

    def _update_remove(self) -> None:
        self.remove_button.setEnabled(self.folders.currentRow() >= 0)


class DevicePage(QWidget):
    """The engine's device policy: device, precision, memory savers and CPU threads, each
    "Automatic" (chosen from the machine when a job first runs) unless set."""

    def __init__(self, prefs: Preferences, in_use: DevicePolicy | None) -> None:
        super().__init__()
        column, form = page_layout(self)
        chosen = prefs.device
        self.device = choice_box({None: AUTOMATIC, **DEVICES}, chosen.get("device"), "device")
        form.addRow("Device:", self.device)
        self.dtype = choice_box({None: AUTOMATIC, **PRECISIONS}, chosen.get("dtype"), "dtype")
        form.addRow("Precision:", self.dtype)
        on_off = {None: AUTOMATIC, True: "On", False: "Off"}
        self.savers = {name: choice_box(on_off, chosen.get(name), name) for name in MEMORY_SAVERS}
        for name, box in self.savers.items():
            form.addRow(f"{MEMORY_SAVERS[name]}:", box)
        self.savers["cpu_offload"].setToolTip("Used with an NVIDIA GPU only.")
        self.threads = QSpinBox(objectName=CPU_THREADS)
        self.threads.setRange(0, MAX_CPU_THREADS)
        self.threads.setSpecialValueText(AUTOMATIC)  # shown for 0
        self.threads.setValue(chosen.get(CPU_THREADS, 0))
        self.threads.setToolTip(
            "Threads for work on the processor; Automatic leaves one core free."
        )
        form.addRow("CPU threads:", self.threads)
        column.addWidget(note(_in_use_line(in_use)))
        column.addWidget(note("Changes here take effect after Atelier restarts."))
        column.addStretch(1)

    def values(self, prefs: Preferences) -> Preferences:
        boxes = {"device": self.device, "dtype": self.dtype, **self.savers}
        chosen = {name: box.currentData() for name, box in boxes.items()}
        chosen[CPU_THREADS] = self.threads.value() or None
        return replace(prefs, device={k: v for k, v in chosen.items() if v is not None})


def _in_use_line(policy: DevicePolicy | None) -> str:
    if policy is None:
        return "The device is chosen when the first picture is made."
    savers = [label for name, label in MEMORY_SAVERS.items() if getattr(policy, name)]
    return (
        f"In use now: {DEVICES.get(policy.device, policy.device)}, "
        f"{PRECISIONS.get(policy.dtype, policy.dtype)}"
        + (f", {', '.join(savers).lower()}" if savers else "")
        + f", {policy.cpu_threads} CPU thread(s)."
    )


class SafetyPage(QWidget):
    """What the safety checks do with a listed prompt and a flagged picture."""

    def __init__(self, prefs: Preferences) -> None:
        super().__init__()
        column, form = page_layout(self)
        safety = prefs.safety
        self.prompt = choice_box(PROMPT_CHOICES, safety.prompt, "safety_prompt")
        form.addRow("A prompt on the blocked list:", self.prompt)
        self.output = choice_box(OUTPUT_CHOICES, safety.output, "safety_output")
        form.addRow("A picture flagged as nudity:", self.output)
        self.threshold = QDoubleSpinBox(objectName="nudity_threshold")
        self.threshold.setDecimals(3)
        self.threshold.setRange(0.05, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(safety.nudity_threshold)
        self.threshold.setToolTip("A detector score from here up flags a picture (0.05 to 1).")
        form.addRow("Flag from a score of:", self.threshold)
        self.frames = QSpinBox(objectName="video_frames")
        self.frames.setRange(1, 256)
        self.frames.setValue(safety.video_frames)
        form.addRow("Video frames checked:", self.frames)
        if safety.ignored:
            column.addWidget(
                note(
                    "The settings file held values that cannot be used ("
                    + "; ".join(safety.ignored)
                    + "); the defaults are shown instead."
                )
            )
        column.addWidget(note("Changes here apply from the next job on."))
        column.addStretch(1)

    def values(self, prefs: Preferences) -> Preferences:
        safety = replace(
            prefs.safety,
            prompt=self.prompt.currentData(),
            output=self.output.currentData(),
            nudity_threshold=self.threshold.value(),
            video_frames=self.frames.value(),
            ignored=(),
        )
        return replace(prefs, safety=safety)
