"""Layer operations as QActions (shared by the Layer menu and the Layers panel's buttons):
new layer, new mask layer, duplicate, delete, raise, lower, merge down, flatten; group
(Ctrl+G) and ungroup (Ctrl+Shift+G) are in the Layer menu, as are New control layer and
Convert to control layer (one action per control kind, in submenus; Depth makes a photo's
depth map when the window gives a DepthConversion) and Use as reference (checked while the
active layer is a reference picture)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from app.model.commands import (
    AddLayer,
    DuplicateLayer,
    Flatten,
    MergeDown,
    MoveLayer,
    RemoveLayer,
)
from app.model.control_layers import add_control_layer, convert_to_control
from app.model.groups import group_layer, ungroup
from app.model.layers import (
    CONTROL_LABELS,
    GroupLayer,
    MaskLayer,
    RasterLayer,
    ReferenceLayer,
    SteeringLayer,
)
from app.model.reference_layers import use_as_picture, use_as_reference
from app.ui.depth_conversion import DepthConversion
from app.ui.doc_session import DocumentSession
from app.ui.tool_icons import tool_icon

MASK_NAME = "Inpaint mask"


class LayerActions(QObject):
    """The actions; each works on the session's active layer."""

    def __init__(
        self,
        session: DocumentSession,
        parent: QObject | None = None,
        depth: DepthConversion | None = None,
    ) -> None:
        """`depth`: converts to Depth with the depth model (without it: a copy, as the
        other kinds)."""
        super().__init__(parent)
        self.session = session
        self.depth = depth
        self.new = self._make("New layer", "new", self.add_layer, "Ctrl+Shift+N")
        self.new_mask = self._make("New mask layer (paint what to repaint)", "mask", self.add_mask)
        self.duplicate = self._make("Duplicate layer", "duplicate", self.dup, "Ctrl+J")
        self.delete = self._make("Delete layer", "delete", self.remove)
        self.raise_ = self._make("Move layer up", "up", lambda: self.shift(1))
        self.lower = self._make("Move layer down", "down", lambda: self.shift(-1))
        self.merge = self._make("Merge layer down", "merge", self.merge_down, "Ctrl+E")
        self.flatten = self._make("Flatten image", "flatten", self.flatten_all)
        self.group = self._make("New group from layer", "group", self.group_active, "Ctrl+G")
        self.ungroup = self._make("Ungroup", "ungroup", self.ungroup_active, "Ctrl+Shift+G")
        self.new_control = {
            kind: self._kind_action(label, f"new_control_{kind}", self.add_control, kind)
            for kind, label in CONTROL_LABELS.items()
        }
        self.convert_control = {
            kind: self._kind_action(label, f"convert_control_{kind}", self.convert_active, kind)
            for kind, label in CONTROL_LABELS.items()
        }
        self.reference = QAction("Use as reference", self)
        self.reference.setObjectName("layer_reference")
        self.reference.setCheckable(True)
        self.reference.setToolTip("Let this picture's style or subject steer generation")
        self.reference.triggered.connect(lambda *_: self.toggle_reference())
        session.active_changed.connect(self.update_enabled)
        session.layers_changed.connect(self.update_enabled)
        self.update_enabled()

    def _make(self, text: str, icon: str, slot: Callable[[], None], key: str = "") -> QAction:
        action = QAction(tool_icon(icon), text, self)
        action.setObjectName(f"layer_{icon}")
        action.setToolTip(f"{text} ({key})" if key else text)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda *_: slot())
        return action

    def _kind_action(self, text: str, name: str, slot: Callable[[str], None], kind: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.triggered.connect(lambda *_: slot(kind))
        return action

    @property
    def all(self) -> list[QAction]:
        return [
            *(self.new, self.new_mask, self.duplicate, self.delete),
            *(self.raise_, self.lower, self.merge, self.flatten),
        ]

    def update_enabled(self) -> None:
        active = self.session.active
        for action in (self.duplicate, self.delete, self.group):
            action.setEnabled(active is not None)
        self.ungroup.setEnabled(isinstance(active, GroupLayer))
        convertible = isinstance(active, RasterLayer) and not isinstance(active, SteeringLayer)
        for action in self.convert_control.values():
            action.setEnabled(convertible)
        self.reference.setEnabled(convertible or isinstance(active, ReferenceLayer))
        self.reference.setChecked(isinstance(active, ReferenceLayer))
        if active is None:
            for action in (self.raise_, self.lower, self.merge):
                action.setEnabled(False)
            return
        group, index = self.session.doc.position(active.id)
        self.raise_.setEnabled(index < len(group.children) - 1)
        self.lower.setEnabled(index > 0)
        below = group.children[index - 1] if index > 0 else None
        self.merge.setEnabled(
            isinstance(below, RasterLayer | GroupLayer)
            and not isinstance(below, SteeringLayer)
            and not isinstance(active, MaskLayer | GroupLayer | SteeringLayer)
        )

    # -- the operations --------------------------------------------------------------------

    def insert_point(self) -> tuple[str | None, int | None]:
        """Above the active layer, in its group (default: on top)."""
        active = self.session.active
        if active is None:
            return None, None
        group, index = self.session.doc.position(active.id)
        return (None if group is self.session.doc.root else group.id), index + 1

    def add(self, layer, label: str = "") -> None:
        group_id, index = self.insert_point()
        if self.session.push(AddLayer(layer, group_id, index, label)):
            self.session.set_active(layer.id)

    def add_layer(self) -> None:
        count = sum(1 for _ in self.session.doc.walk()) + 1
        self.add(RasterLayer.blank(self.session.doc.size, name=f"Layer {count}"))

    def add_mask(self) -> None:
        self.add(MaskLayer.blank(self.session.doc.size, name=MASK_NAME))

    def add_control(self, kind: str) -> None:
        """A new empty control layer of `kind` above the active layer, made active."""
        group_id, index = self.insert_point()
        command = add_control_layer(self.session.doc, kind, group_id, index)
        if self.session.push(command):
            self.session.set_active(command.layer.id)

    def convert_active(self, kind: str) -> None:
        """A control layer of `kind` from the active pixel layer's pixels, just above it (a
        Depth one from a photo's depth map, see DepthConversion)."""
        active = self.session.active
        if not isinstance(active, RasterLayer) or isinstance(active, SteeringLayer):
            return
        if kind == "depth" and self.depth is not None:
            self.depth.convert(active.id)
        else:
            command = convert_to_control(self.session.doc, active.id, kind)
            if self.session.push(command):
                self.session.set_active(command.layer.id)

    def toggle_reference(self) -> None:
        """Make the active pixel layer a reference picture, or a reference a pixel layer."""
        active, doc = self.session.active, self.session.doc
        if isinstance(active, ReferenceLayer):
            self.session.push(use_as_picture(doc, active.id))
        elif isinstance(active, RasterLayer) and not isinstance(active, SteeringLayer):
            self.session.push(use_as_reference(doc, active.id))
        self.update_enabled()

    def dup(self) -> None:
        active = self.session.active
        if active is not None:
            command = DuplicateLayer(self.session.doc, active.id)
            if self.session.push(command):
                self.session.set_active(command.layer.id)

    def remove(self) -> None:
        active = self.session.active
        if active is not None:
            self.session.push(RemoveLayer(active.id))

    def shift(self, step: int) -> None:
        active = self.session.active
        if active is None:
            return
        group, index = self.session.doc.position(active.id)
        target = index + step
        if 0 <= target < len(group.children):
            group_id = None if group is self.session.doc.root else group.id
            self.session.push(MoveLayer(active.id, target, group_id))

    def merge_down(self) -> None:
        active = self.session.active
        if active is None:
            return
        group, index = self.session.doc.position(active.id)
        below = group.children[index - 1].id if index > 0 else None
        if self.session.push(MergeDown(active.id)) and below:
            self.session.set_active(below)

    def flatten_all(self) -> None:
        if self.session.doc.layers:
            self.session.push(Flatten())

    def group_active(self) -> None:
        """Put the active layer into a new group (the group becomes active)."""
        active = self.session.active
        if active is None or self.session.doc.owner_of_mask(active.id) is not None:
            return
        count = sum(isinstance(lay, GroupLayer) for lay in self.session.doc.walk()) + 1
        command = group_layer(self.session.doc, active.id, f"Group {count}")
        if self.session.push(command):
            self.session.set_active(command.commands[0].layer.id)

    def ungroup_active(self) -> None:
        """Put the active group's children where it stood; the top child becomes active."""
        active = self.session.active
        if not isinstance(active, GroupLayer):
            return
        top = active.children[-1].id if active.children else None
        if self.session.push(ungroup(self.session.doc, active.id)) and top:
            self.session.set_active(top)
