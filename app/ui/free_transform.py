"""Layer > Free transform (Ctrl+T): scale and rotate the active layer, or the selection's
contents, about their centre. A dialog asks for the width, height (linked unless "Keep
proportions" is off) and angle; Enter applies as one undoable step, Esc cancels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QWidget,
)

from app.model import history_names as names
from app.model.layers import RasterLayer
from app.model.transform import NOT_RASTER, NOTHING, TransformPixels, scale_rotate, source_rect
from app.ui.doc_session import DocumentSession


def _spin(low: float, high: float, value: float, suffix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(1)
    spin.setSuffix(suffix)
    spin.setValue(value)
    return spin


class FreeTransformDialog(QDialog):
    """Width %, height %, keep proportions and angle (degrees, clockwise)."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Free transform {what}")
        self.width_spin = _spin(1, 1000, 100, " %")
        self.height_spin = _spin(1, 1000, 100, " %")
        self.keep = QCheckBox("Keep proportions")
        self.keep.setChecked(True)
        self.angle = _spin(-360, 360, 0, "\N{DEGREE SIGN}")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow("", self.keep)
        form.addRow("Angle", self.angle)
        form.addRow(buttons)
        self.width_spin.valueChanged.connect(lambda v: self._link(self.height_spin, v))
        self.height_spin.valueChanged.connect(lambda v: self._link(self.width_spin, v))

    def _link(self, other: QDoubleSpinBox, value: float) -> None:
        if self.keep.isChecked() and other.value() != value:
            other.setValue(value)

    def values(self) -> tuple[float, float, float]:
        """(scale x, scale y, degrees)."""
        return self.width_spin.value() / 100, self.height_spin.value() / 100, self.angle.value()


class FreeTransform(QObject):
    """Runs the dialog and pushes the transform."""

    def __init__(
        self, session: DocumentSession, window: QWidget, report: Callable[[str], None]
    ) -> None:
        super().__init__(window)
        self.session, self.window, self.report = session, window, report

    def ask(self) -> None:
        if self._target() is None:
            return
        what = "selection" if self.session.selection is not None else "layer"
        dialog = FreeTransformDialog(what, self.window)
        accepted = dialog.exec()
        values = dialog.values()
        dialog.deleteLater()
        if accepted:
            self.apply(*values)

    def apply(self, scale_x: float, scale_y: float, degrees: float) -> bool:
        """Scale and rotate about the centre of what is transformed."""
        layer = self._target()
        if layer is None or (scale_x == scale_y == 1 and degrees % 360 == 0):
            return False
        box = source_rect(layer, self.session.selection)
        assert box is not None
        centre = (box.x + box.w / 2, box.y + box.h / 2)
        matrix = scale_rotate(centre, scale_x, scale_y, degrees)
        label = names.TRANSFORM_SELECTION if self.session.selection else names.TRANSFORM_LAYER
        return self.session.push(TransformPixels(layer.id, matrix, label=label))

    def _target(self) -> RasterLayer | None:
        layer = self.session.active
        if not isinstance(layer, RasterLayer):
            self.report(NOT_RASTER)
            return None
        if source_rect(layer, self.session.selection) is None:
            self.report(NOTHING)
            return None
        return layer
