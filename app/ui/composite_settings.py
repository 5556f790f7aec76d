"""Reuse settings of an opened composite (an exported picture of several layers): the
message offers the settings of the layer the file chose, the largest generated one, and
"Other layers..." a menu of every generated layer's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QMenu, QWidget

from app.model.generation_info import Composite, LayerSettings
from app.model.quoting import quoted
from app.ui.message_bar import MessageBar

MENU_NAME = "reuseLayerMenu"
Reuse = Callable[[Mapping[str, Any]], None]  # loads a recipe into the Generate panel


def offer_composite(
    messages: MessageBar, parent: QWidget, file_name: str, composite: Composite, reuse: Reuse
) -> None:
    """Say that the file is a composite and offer its layers' settings."""
    chosen = composite.chosen_layer
    count = len(composite.layers)
    which = f'the largest, "{chosen.name}"' if count > 1 else f'those of "{chosen.name}"'
    layers = "layer" if composite.layer_count == 1 else "layers"
    messages.show_message(
        f"{file_name} is a picture of {composite.layer_count} {layers}, {count} of them "
        f"generated. Reuse settings loads {which}: {quoted(chosen.info.prompt)}",
        "info",
        "Reuse settings",
        lambda: reuse(_recipe(chosen)),
        "Other layers\N{HORIZONTAL ELLIPSIS}" if count > 1 else "",
        (lambda: layer_menu(parent, composite, reuse).popup(QCursor.pos())) if count > 1 else None,
    )


def layer_menu(parent: QWidget, composite: Composite, reuse: Reuse) -> QMenu:
    """A menu of the composite's generated layers, topmost first: choosing one loads its
    settings."""
    menu = QMenu(parent)
    menu.setObjectName(MENU_NAME)
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    for layer in composite.layers:
        place = f"{layer.width} x {layer.height} at {layer.x}, {layer.y}"
        action = menu.addAction(f"{layer.name}: {quoted(layer.info.prompt)} ({place})")
        action.triggered.connect(lambda _checked=False, layer=layer: reuse(_recipe(layer)))
    return menu


def _recipe(layer: LayerSettings) -> Mapping[str, Any]:
    return layer.info.recipe or {}
