"""The active control layer's settings, under the Layers panel's tree: kind, model, strength
and the step range it acts in. Shown only while a control layer is active.

The model list holds the control models the store found that take the layer's kind of map
and fit the Generate panel's checkpoint (its family and UNet; engine.control_models),
"Automatic" first (the first installed one that fits). While Run on is a server it holds that
server's ControlNets by file name instead (`show_server_controls`, from Run on's one listing),
those whose name says the layer's kind first, so a layer's model is the server's name for it.
Every change is a SetControl command; a strength drag is one undo step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.model.control_layers import SetControl
from app.model.layers import CONTROL_LABELS, MAX_CONTROL_STRENGTH, ControlLayer
from app.ui.doc_session import DocumentSession
from engine.model_entry import same_name
from engine.model_store import ModelEntry, ModelStore
from plugins.diffusion.control_maps import AS_IS_KINDS

AUTOMATIC = "Automatic"
AS_IS_NOTE = "The picture is used as it is: import or paint a {kind} map."
MAP_NOTE = "What you draw or import becomes a {kind} map (shown on the canvas)."
MISSING = "{name} (not available)"  # missing, or for another checkpoint or kind
INSTALLED_TIP = "The ControlNet that reads the map (Automatic: the first installed)"
SERVER_TIP = (
    "The server's ControlNet that reads the map (Automatic: the first whose file name says "
    "the layer's kind)"
)


class ControlProperties(QWidget):
    """Edits the session's active control layer through commands."""

    def __init__(
        self,
        session: DocumentSession,
        store: ModelStore,
        checkpoint: Callable[[], ModelEntry | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.store, self.checkpoint = session, store, checkpoint
        self.kind = QComboBox()
        for kind, label in CONTROL_LABELS.items():
            self.kind.addItem(label, kind)
        self.kind.setToolTip("What the control map shows")
        self.model = QComboBox()
        self.model.setToolTip(INSTALLED_TIP)
        self.server_controls: list[str] | None = None  # see show_server_controls
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, round(MAX_CONTROL_STRENGTH * 100))
        self.strength.setToolTip("How strongly the map steers (100% is the model's own)")
        self.strength_label = QLabel("100%")
        self.strength_label.setFixedWidth(38)
        self.start, self.end = _percent_box("Start"), _percent_box("End")
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self._drag_key: object | None = None
        self._build()
        self._connect()
        self.refresh()

    def _build(self) -> None:
        strength = QHBoxLayout()
        strength.addWidget(self.strength, 1)
        strength.addWidget(self.strength_label)
        steps = QHBoxLayout()
        steps.addWidget(self.start)
        steps.addWidget(QLabel("to"))
        steps.addWidget(self.end)
        steps.addStretch(1)
        form = QFormLayout(self)
        form.setContentsMargins(0, 4, 0, 0)
        form.addRow("Control", self.kind)
        form.addRow("Model", self.model)
        form.addRow("Strength", strength)
        form.addRow("Steps", steps)
        form.addRow(self.note)

    def _connect(self) -> None:
        self.session.active_changed.connect(self.refresh)
        self.session.layers_changed.connect(self.refresh)
        self.kind.activated.connect(lambda _: self._set(kind=self.kind.currentData()))
        self.model.activated.connect(lambda _: self._set(model=self.model.currentData()))
        self.strength.sliderPressed.connect(self._start_drag)
        self.strength.sliderReleased.connect(self._end_drag)
        self.strength.valueChanged.connect(self._on_strength)
        self.start.valueChanged.connect(self._on_start)
        self.end.valueChanged.connect(self._on_end)

    # -- showing ---------------------------------------------------------------------------

    @property
    def layer(self) -> ControlLayer | None:
        active = self.session.active
        return active if isinstance(active, ControlLayer) else None

    def refresh(self) -> None:
        """Show the active control layer's settings (hidden when it is not one)."""
        layer = self.layer
        self.setVisible(layer is not None)
        if layer is None:
            return
        control = layer.control
        with (
            QSignalBlocker(self.kind),
            QSignalBlocker(self.strength),
            QSignalBlocker(self.start),
            QSignalBlocker(self.end),
        ):
            self.kind.setCurrentIndex(self.kind.findData(control.kind))
            self.strength.setValue(round(control.strength * 100))
            self.start.setValue(round(control.start * 100))
            self.end.setValue(round(control.end * 100))
        self.strength_label.setText(f"{round(control.strength * 100)}%")
        template = AS_IS_NOTE if control.kind in AS_IS_KINDS else MAP_NOTE
        self.note.setText(template.format(kind=control.label.lower()))
        self.refresh_models()

    def refresh_models(self) -> None:
        """List the control models for the layer's kind: the installed ones that fit the
        checkpoint (of any checkpoint while none is chosen), or while jobs run on a server
        that server's; "Automatic" first, the layer's choice selected."""
        layer = self.layer
        if layer is None:
            return
        chosen = layer.control.model
        server = self.server_controls is not None
        if server:
            names = _naming_kind_first(self.server_controls, layer.control.kind)
            shown = _server_name(chosen, names)
        else:
            names = [entry.name for entry in self._controls(layer.control.kind)]
            shown = _installed_name(chosen, names)
        fill_models(self.model, names, chosen, shown)
        self.model.setToolTip(SERVER_TIP if server else INSTALLED_TIP)

    def show_server_controls(self, names: Sequence[str] | None) -> None:
        """While jobs run on a server: its ControlNets' file names in the model list, so a
        layer's model is the server's name for it; None: the installed ones again."""
        self.server_controls = None if names is None else list(names)
        self.refresh_models()

    def _controls(self, kind: str) -> list[ModelEntry]:
        if not self.store.scanned:
            return []
        checkpoint = self.checkpoint()
        if checkpoint is not None:
            return self.store.controls_for(checkpoint, kind)
        return [
            entry
            for entry in self.store.listing().entries
            if entry.control is not None and entry.control.takes(kind)
        ]

    # -- editing ---------------------------------------------------------------------------

    def _set(self, merge_key: object | None = None, **changes) -> None:
        layer = self.layer
        if layer is None:
            return
        changed = {k: v for k, v in changes.items() if getattr(layer.control, k) != v}
        if changed:
            self.session.push(SetControl(layer.id, merge_key=merge_key, **changed))

    def _start_drag(self) -> None:
        self._drag_key = object()

    def _end_drag(self) -> None:
        self._drag_key = None

    def _on_strength(self, value: int) -> None:
        self.strength_label.setText(f"{value}%")
        key = ("control strength", self._drag_key) if self._drag_key else None
        self._set(merge_key=key, strength=value / 100)

    def _on_start(self, value: int) -> None:
        """A start past the end moves the end with it (one step)."""
        self._set(start=value / 100, end=max(value, self.end.value()) / 100)

    def _on_end(self, value: int) -> None:
        """An end before the start moves the start with it (one step)."""
        self._set(start=min(value, self.start.value()) / 100, end=value / 100)


def fill_models(
    box: QComboBox,
    names: Sequence[str],
    chosen: str,
    shown: str | None,
    automatic: str = AUTOMATIC,
) -> None:
    """Fill a layer's model picker: `automatic` first (the choice ""), then `names`, then the
    layer's `chosen` model marked not available when it shows as none of them (`shown`
    None); the layer's choice selected."""
    with QSignalBlocker(box):
        box.clear()
        box.addItem(automatic, "")
        for name in names:
            box.addItem(name, name)
        if chosen and shown is None:
            box.addItem(MISSING.format(name=chosen), chosen)
        box.setCurrentIndex(box.findData(shown or chosen))


def _naming_kind_first(names: Sequence[str], kind: str) -> list[str]:
    """A server's ControlNets, those whose file name says `kind` first (the one a server job
    takes for Automatic), each group in the server's order."""
    return sorted(names, key=lambda name: kind not in name.lower())


def _server_name(chosen: str, names: Sequence[str]) -> str | None:
    """The server's file a layer's model names (its file name, or its stem: a model chosen
    from the installed ones), as the server's graphs match it; None when none is."""
    return next((name for name in names if same_name(chosen, name)), None)


def _installed_name(chosen: str, names: Sequence[str]) -> str | None:
    """The installed model a layer's model names (its name, or a server file of that stem:
    a model chosen while jobs ran on a server), as the model store finds it; None when none
    is."""
    return next((name for name in names if same_name(name, chosen)), None)


def _percent_box(name: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, 100)
    box.setSingleStep(5)
    box.setSuffix("%")
    box.setToolTip(f"{name} of the steps the control acts in (0% is the first step)")
    return box
