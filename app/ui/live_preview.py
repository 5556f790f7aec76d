"""The Live view: the live painting result beside the canvas, with its step previews, and
Apply, which adds it to the canvas as a new layer."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.images import pixmap_from_rgba
from app.ui.theme import ACCENT
from engine.protocol import ImageData

PROGRESS_STEPS = 1000
ON_STYLE = f"QToolButton:checked {{ background: {ACCENT}; border-color: {ACCENT}; color: white; }}"
OFF_TEXT = "Live is off. Turn it on, then paint: the picture follows each stroke."


def toggle_button(toggle: QAction) -> QToolButton:
    """A full-width button that shows and flips the Live toggle."""
    button = QToolButton()
    button.setDefaultAction(toggle)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    button.setStyleSheet(ON_STYLE)
    return button


class LivePreview(QWidget):
    """Shows the newest live picture (a step preview, then the result), a status line, the
    settings it runs with, and the Live toggle and Apply buttons."""

    apply_requested = Signal()

    def __init__(self, toggle: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle_button = toggle_button(toggle)
        self.picture = QLabel()
        self.picture.setObjectName("live_picture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(160, 160)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.status = QLabel(OFF_TEXT)
        self.status.setWordWrap(True)
        self.settings_line = QLabel()
        self.settings_line.setObjectName("muted")
        self.settings_line.setWordWrap(True)
        self.apply_button = QPushButton("Apply as layer")
        self.apply_button.setObjectName("primary")
        self.apply_button.setToolTip("Add the live picture to the canvas as a new layer")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_requested)
        self._pixmap: QPixmap | None = None
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self.toggle_button)
        column.addWidget(self.picture, 1)
        column.addWidget(self.progress)
        column.addWidget(self.status)
        column.addWidget(self.settings_line)
        column.addWidget(self.apply_button)

    @property
    def has_picture(self) -> bool:
        return self._pixmap is not None

    def show_image(self, image: ImageData) -> None:
        """Show a step preview or a result, scaled to fit."""
        self._pixmap = pixmap_from_rgba(image.pixels)
        self._fit()

    def clear(self) -> None:
        self._pixmap = None
        self.picture.clear()
        self.apply_button.setEnabled(False)
        self.progress.setValue(0)

    def show_status(self, text: str, settings: str | None = None) -> None:
        """The status line, and the settings line when given."""
        self.status.setText(text)
        if settings is not None:
            self.settings_line.setText(settings)

    def show_progress(self, fraction: float) -> None:
        self.progress.setValue(round(fraction * PROGRESS_STEPS))

    def set_can_apply(self, can: bool) -> None:
        self.apply_button.setEnabled(can)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is None:
            return
        size = self.picture.size()
        self.picture.setPixmap(
            self._pixmap.scaled(
                size,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
