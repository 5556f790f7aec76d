"""The Layers panel: the layer tree (top first) with an eye for each layer's visibility and
its thumbnail, the active layer's blend mode and opacity, and buttons for the layer actions.

Click a layer to paint on it; click its eye (or press Space) to show or hide it; double-click
its name to rename it; right-click for "Reuse settings", "Regenerate" (layers made by
generation), "Convert to control layer", "Use as reference" and more. A control layer's
thumbnail is its map with a badge naming its kind, a reference layer's has a REF badge;
while one is active its settings show under the opacity (app.ui.control_properties,
app.ui.reference_properties); a control's opacity is its preview's on the canvas. Every change
is a command: an opacity drag is one undo step (its steps share a merge key).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.commands import SetLayerProps
from app.model.layers import (
    BlendMode,
    ControlLayer,
    GroupLayer,
    Layer,
    MaskLayer,
    RasterLayer,
    ReferenceLayer,
    SteeringLayer,
)
from app.ui.doc_session import DocumentSession
from app.ui.layer_actions import LayerActions
from app.ui.layer_thumbs import THUMB, layer_icon
from app.ui.layer_tree import ID_ROLE, LAYER_COLUMN, LayerTree
from app.ui.theme import SELECTED_ROW

THUMB_DELAY_MS = 250
HIDDEN_NAME = QColor("#7d838a")  # a hidden layer's name, dimmed as its eye is closed


class LayersPanel(QWidget):
    """Shows the session's layers and edits them through commands."""

    reuse_requested = Signal(str)  # layer id
    regenerate_requested = Signal(str)
    export_requested = Signal(str)

    def __init__(
        self,
        session: DocumentSession,
        actions: LayerActions,
        parent: QWidget | None = None,
        properties: Sequence[QWidget] = (),
    ) -> None:
        super().__init__(parent)
        self.session, self.actions, self.properties = session, actions, list(properties)
        self.tree = LayerTree()
        self.tree.setObjectName("layers")
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setIndentation(14)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        _calm_selected_rows(self.tree)
        self.blend = QComboBox()
        self.blend.addItems([mode.value.capitalize() for mode in BlendMode])
        self.blend.setToolTip("Blend mode of the active layer")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Opacity of the active layer")
        self.opacity_label = QLabel("100%")
        self.opacity_label.setFixedWidth(38)
        self._drag_key: object | None = None
        self._shape: list[tuple[str, int]] = []
        self._thumbs = QTimer(self, singleShot=True, interval=THUMB_DELAY_MS)
        self._thumbs.timeout.connect(self.refresh_thumbnails)
        self._build()
        self._connect()
        self.refresh()

    def _build(self) -> None:
        props = QHBoxLayout()
        props.addWidget(self.blend, 1)
        props.addWidget(self.opacity, 1)
        props.addWidget(self.opacity_label)
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for action in self.actions.all:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setIconSize(QSize(18, 18))
            button.setAutoRaise(True)
            button.setObjectName(f"button_{action.objectName()}")
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addLayout(props)
        for widget in self.properties:  # each shows itself for the layers it edits
            column.addWidget(widget)
        column.addWidget(self.tree, 1)
        column.addLayout(buttons)

    def _connect(self) -> None:
        s = self.session
        s.layers_changed.connect(self.refresh)
        s.active_changed.connect(self._show_active)
        s.pixels_changed.connect(lambda *_: self._thumbs.start())
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.visibility_clicked.connect(self.toggle_visibility)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.blend.activated.connect(self._on_blend)
        self.opacity.sliderPressed.connect(self._start_drag)
        self.opacity.sliderReleased.connect(self._end_drag)
        self.opacity.valueChanged.connect(self._on_opacity)

    # -- showing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the tree when layers were added, removed or moved; else update rows."""
        shape = list(self._walk_rows())
        if [(lay.id, depth) for lay, depth in shape] != self._shape:
            self._rebuild(shape)
        else:
            for layer, _ in shape:
                self._update_item(self.item_of(layer.id), layer)
        self._show_active()
        self._thumbs.start()

    def _walk_rows(self, layers: list[Layer] | None = None, depth: int = 0):
        """(layer, depth) top first, groups followed by their children."""
        for layer in reversed(self.session.doc.layers if layers is None else layers):
            yield layer, depth
            if isinstance(layer, GroupLayer):
                yield from self._walk_rows(layer.children, depth + 1)

    def _rebuild(self, shape: list[tuple[Layer, int]]) -> None:
        with QSignalBlocker(self.tree):
            self.tree.clear()
            parents: dict[str, QTreeWidgetItem] = {}
            for layer, _depth in shape:
                group, _ = self.session.doc.position(layer.id)
                parent = parents.get(group.id)
                item = QTreeWidgetItem(parent) if parent else QTreeWidgetItem(self.tree)
                item.setData(LAYER_COLUMN, ID_ROLE, layer.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self._update_item(item, layer)
                item.setIcon(LAYER_COLUMN, layer_icon(layer))
                parents[layer.id] = item
            self.tree.expandAll()
        self._shape = [(lay.id, depth) for lay, depth in shape]

    def _update_item(self, item: QTreeWidgetItem | None, layer: Layer) -> None:
        if item is None:
            return
        with QSignalBlocker(self.tree):
            item.setText(LAYER_COLUMN, layer.name)
            self.tree.show_visibility(item, layer.visible)
            muted = QBrush(HIDDEN_NAME) if not layer.visible else QBrush()
            item.setForeground(LAYER_COLUMN, muted)
            item.setToolTip(LAYER_COLUMN, _describe(layer))

    def refresh_thumbnails(self) -> None:
        for layer in self.session.doc.walk():
            item = self.item_of(layer.id)
            if item is not None:
                item.setIcon(LAYER_COLUMN, layer_icon(layer))

    def item_of(self, layer_id: str) -> QTreeWidgetItem | None:
        for index in range(self.tree.topLevelItemCount()):
            found = _find(self.tree.topLevelItem(index), layer_id)
            if found is not None:
                return found
        return None

    def _show_active(self) -> None:
        active = self.session.active
        item = self.item_of(active.id) if active else None
        with QSignalBlocker(self.tree):
            self.tree.setCurrentItem(item)
        enabled = active is not None
        self.blend.setEnabled(enabled and not isinstance(active, MaskLayer | SteeringLayer))
        self.opacity.setEnabled(enabled)
        if active is None:
            return
        with QSignalBlocker(self.blend), QSignalBlocker(self.opacity):
            self.blend.setCurrentIndex(list(BlendMode).index(active.blend))
            self.opacity.setValue(round(active.opacity * 100))
        self.opacity_label.setText(f"{round(active.opacity * 100)}%")

    # -- editing ---------------------------------------------------------------------------

    def _on_current(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        if item is not None:
            self.session.set_active(item.data(LAYER_COLUMN, ID_ROLE))

    def toggle_visibility(self, layer_id: str) -> None:
        """Show a hidden layer or hide a shown one, as one undo step."""
        layer = self.session.doc.get(layer_id)
        if layer is not None:
            self.session.push(SetLayerProps(layer.id, visible=not layer.visible))

    def _on_item_changed(self, item: QTreeWidgetItem, _column: int) -> None:
        layer = self.session.doc.get(item.data(LAYER_COLUMN, ID_ROLE))
        if layer is None:
            return
        name = item.text(LAYER_COLUMN).strip()
        if name and name != layer.name:
            self.session.push(SetLayerProps(layer.id, name=name))
        else:
            self._update_item(item, layer)  # an empty name: put the old one back

    def _on_blend(self, index: int) -> None:
        active = self.session.active
        mode = list(BlendMode)[index]
        if active is not None and active.blend != mode:
            self.session.push(SetLayerProps(active.id, blend=mode))

    def _start_drag(self) -> None:
        self._drag_key = object()

    def _end_drag(self) -> None:
        self._drag_key = None

    def _on_opacity(self, value: int) -> None:
        active = self.session.active
        self.opacity_label.setText(f"{value}%")
        if active is not None and round(active.opacity * 100) != value:
            key = ("opacity", active.id, self._drag_key) if self._drag_key else None
            self.session.push(SetLayerProps(active.id, merge_key=key, opacity=value / 100))

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        layer = self.session.doc.get(item.data(LAYER_COLUMN, ID_ROLE)) if item else None
        if layer is None:
            return
        self.session.set_active(layer.id)
        menu = self.context_menu(layer)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    def context_menu(self, layer: Layer) -> QMenu:
        """The right-click menu of a layer (also used by tests)."""
        menu = QMenu(self)
        made = isinstance(layer, RasterLayer) and bool(layer.recipe)
        reuse = menu.addAction("Reuse settings", lambda: self.reuse_requested.emit(layer.id))
        regen = menu.addAction("Regenerate", lambda: self.regenerate_requested.emit(layer.id))
        for action in (reuse, regen):
            action.setEnabled(made)
            action.setToolTip("" if made else "Only layers made by generation have settings")
        menu.addSeparator()
        shown = "Hide layer" if layer.visible else "Show layer"
        menu.addAction(shown, lambda: self.toggle_visibility(layer.id))
        menu.addAction("Rename", lambda: self.tree.editItem(self.item_of(layer.id), LAYER_COLUMN))
        menu.addAction(self.actions.duplicate)
        menu.addAction(self.actions.delete)
        menu.addAction(self.actions.merge)
        menu.addAction(self.actions.group)
        if isinstance(layer, GroupLayer):
            menu.addAction(self.actions.ungroup)
        if isinstance(layer, RasterLayer):
            menu.addSeparator()
            menu.addAction(
                "Export layer\N{HORIZONTAL ELLIPSIS}", lambda: self.export_requested.emit(layer.id)
            )
        if isinstance(layer, RasterLayer) and not isinstance(layer, SteeringLayer):
            convert = menu.addMenu("Convert to control layer")
            convert.addActions(list(self.actions.convert_control.values()))
        if self.actions.reference.isEnabled():
            menu.addAction(self.actions.reference)
        return menu


def _calm_selected_rows(tree: QTreeWidget) -> None:
    """A selected row in a calm blue, so its thumbnail's selection frame stands out."""
    palette = tree.palette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor(SELECTED_ROW))
    tree.setPalette(palette)


def _find(item: QTreeWidgetItem, layer_id: str) -> QTreeWidgetItem | None:
    if item.data(LAYER_COLUMN, ID_ROLE) == layer_id:
        return item
    for index in range(item.childCount()):
        found = _find(item.child(index), layer_id)
        if found is not None:
            return found
    return None


def _describe(layer: Layer) -> str:
    if isinstance(layer, ControlLayer):
        return f"{layer.control.label} control: steers generation, not part of the picture"
    if isinstance(layer, ReferenceLayer):
        return f"Reference picture (weight {layer.weight:.2f}): steers style, not in the picture"
    kind = {RasterLayer: "Pixel layer", MaskLayer: "Mask", GroupLayer: "Group"}[type(layer)]
    recipe = getattr(layer, "recipe", None)
    if recipe:
        prompt = str(recipe.get("params", {}).get("prompt", ""))[:80]
        return f"{kind} made by {recipe.get('task', 'generation')}: {prompt}"
    return kind
