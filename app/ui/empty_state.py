"""What the canvas shows before any model is installed: where to put one, and two buttons."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

EXAMPLE_PROMPT = "a cosy reading nook by a rainy window, warm lamp light, watercolour illustration"


class EmptyState(QWidget):
    """A friendly first-start page; the window decides what the buttons do."""

    open_models_folder = Signal()
    add_model_folder = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("No models installed yet")
        title.setObjectName("title")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setMaximumWidth(560)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.open_button = QPushButton("Open models folder")
        self.open_button.setObjectName("primary")
        self.add_button = QPushButton("Add model folder\N{HORIZONTAL ELLIPSIS}")
        self.open_button.clicked.connect(self.open_models_folder)
        self.add_button.clicked.connect(self.add_model_folder)
        self._layout(title)

    def _layout(self, title: QLabel) -> None:
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.addStretch(1)
        column.addWidget(title)
        column.addSpacing(8)
        body_row = QHBoxLayout()  # no alignment flag: it would drop the label's height-for-width
        body_row.addStretch(1)
        body_row.addWidget(self.body)
        body_row.addStretch(1)
        column.addLayout(body_row)
        column.addSpacing(16)
        column.addLayout(buttons)
        column.addStretch(2)

    def set_models_folder(self, folder: Path) -> None:
        """Explain where checkpoints go."""
        self.folder = folder
        self.body.setText(
            "<p>Atelier needs a Stable Diffusion model to generate images. Put a checkpoint "
            "(<b>.safetensors</b>) or a diffusers model folder into</p>"
            f"<p><code>{html.escape(str(folder))}</code></p>"
            "<p>or add the model folder of an existing A1111, ComfyUI or InvokeAI install: "
            "its models are used in place, never copied.</p>"
        )
