"""The active reference layer's settings, under the Layers panel's tree: the IP-Adapter that
reads its picture and its weight, how strongly the picture's style or subject steers
generation. Shown only while a reference layer is active.

The IP-Adapter list holds the installed ones that fit the Generate panel's checkpoint (its
family and cross-attention width; engine.ip_adapters `ip_adapter_fits`), all of them while
none is chosen, "Automatic (first that fits)" first; one made for another model is not
offered, and a layer's choice that does not fit shows as not available. A choice is one
SetReferenceModel command; a drag of the weight slider is one undo step.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QWidget

from app.model.layers import MAX_CONTROL_STRENGTH, ReferenceLayer
from app.model.reference_layers import SetReferenceModel, SetReferenceWeight
from app.ui.control_properties import fill_models
from app.ui.doc_session import DocumentSession
from engine.model_store import ModelEntry, ModelStore

NOTE = "Its style or subject steers generation; it is not part of the picture."
AUTOMATIC = "Automatic (first that fits)"
ADAPTER_TIP = (
    "The IP-Adapter that reads the picture: those made for the chosen model "
    "(Automatic: the first installed that fits)"
)
NONE_TIP = (
    "No installed IP-Adapter fits the chosen model: put one (.safetensors, with its "
    "image_encoder folder) in the models/ipadapter folder."
)


class ReferenceProperties(QWidget):
    """Edits the session's active reference layer's IP-Adapter and weight through commands;
    `checkpoint` gives the Generate panel's model (None while none is chosen)."""

    def __init__(
        self,
        session: DocumentSession,
        store: ModelStore,
        checkpoint: Callable[[], ModelEntry | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.store, self.checkpoint = session, store, checkpoint
        self.model = QComboBox()
        self.model.setObjectName("reference_model")
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
        form.addRow("IP-Adapter", self.model)
        form.addRow("Weight", row)
        form.addRow(note)
        self._drag_key: object | None = None
        session.active_changed.connect(self.refresh)
        session.layers_changed.connect(self.refresh)
        self.model.activated.connect(lambda _: self._on_model(self.model.currentData()))
        self.weight.sliderPressed.connect(self._start_drag)
        self.weight.sliderReleased.connect(self._end_drag)
        self.weight.valueChanged.connect(self._on_weight)
        self.refresh()

    @property
    def layer(self) -> ReferenceLayer | None:
        active = self.session.active
        return active if isinstance(active, ReferenceLayer) else None

    def refresh(self) -> None:
        """Show the active reference layer's settings (hidden when it is not one)."""
        layer = self.layer
        self.setVisible(layer is not None)
        if layer is not None:
            with QSignalBlocker(self.weight):
                self.weight.setValue(round(layer.weight * 100))
            self.weight_label.setText(f"{layer.weight:.2f}")
            self.refresh_models()

    def refresh_models(self) -> None:
        """List the installed IP-Adapters that fit the checkpoint, "Automatic" first, the
        layer's choice selected (marked not available when it is not among them)."""
        layer = self.layer
        if layer is None:
            return
        names = [entry.name for entry in self._adapters()]
        fill_models(
            self.model, names, layer.model, layer.model if layer.model in names else None, AUTOMATIC
        )
        self.model.setToolTip(ADAPTER_TIP if names else NONE_TIP)

    def _adapters(self) -> list[ModelEntry]:
        if not self.store.scanned:
            return []
        checkpoint = self.checkpoint()
        if checkpoint is not None:
            return self.store.ip_adapters_for(checkpoint)
        return [e for e in self.store.listing().entries if e.kind == "ipadapter" and e.ip_adapter]

    def _on_model(self, model: str) -> None:
        layer = self.layer
        if layer is not None and layer.model != model:
            self.session.push(SetReferenceModel(layer.id, model))

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
