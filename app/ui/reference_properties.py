"""The active reference layer's weight, under the Layers panel's tree: how strongly its
picture's style or subject steers generation. Shown only while a reference layer is active;
a drag of the slider is one undo step."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QSlider, QWidget

from app.model.layers import MAX_CONTROL_STRENGTH, ReferenceLayer
from app.model.reference_layers import SetReferenceWeight
from app.ui.doc_session import DocumentSession

NOTE = "Its style or subject steers generation; it is not part of the picture."


class ReferenceProperties(QWidget):
    """Edits the session's active reference layer's weight through commands."""

    def __init__(self, session: DocumentSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.weight = QSlider(Qt.Orientation.Horizontal)
        self.weight.setRange(0, round(MAX_CONTROL_STRENGTH * 100))
        self.weight.setToolTip("How strongly the reference steers (0.6 is a usual start)")
        self.weight_label = QLabel("0.60")
        self.weight_label.setFixedWidth(38)
        note = QLabel(NOTE)
        note.setObjectName("muted")
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.weight, 1)
        row.addWidget(self.weight_label)
        form = QFormLayout(self)
        form.setContentsMargins(0, 4, 0, 0)
        form.addRow("Weight", row)
        form.addRow(note)
        self._drag_key: object | None = None
        session.active_changed.connect(self.refresh)
        session.layers_changed.connect(self.refresh)
        self.weight.sliderPressed.connect(self._start_drag)
        self.weight.sliderReleased.connect(self._end_drag)
        self.weight.valueChanged.connect(self._on_weight)
        self.refresh()

    @property
    def layer(self) -> ReferenceLayer | None:
        active = self.session.active
        return active if isinstance(active, ReferenceLayer) else None

    def refresh(self) -> None:
        """Show the active reference layer's weight (hidden when it is not one)."""
        layer = self.layer
        self.setVisible(layer is not None)
        if layer is not None:
            with QSignalBlocker(self.weight):
                self.weight.setValue(round(layer.weight * 100))
            self.weight_label.setText(f"{layer.weight:.2f}")

    def _start_drag(self) -> None:
        self._drag_key = object()

    def _end_drag(self) -> None:
        self._drag_key = None

    def _on_weight(self, value: int) -> None:
        layer = self.layer
        self.weight_label.setText(f"{value / 100:.2f}")
        if layer is not None and round(layer.weight * 100) != value:
            key = ("reference weight", self._drag_key) if self._drag_key else None
            self.session.push(SetReferenceWeight(layer.id, value / 100, key))
