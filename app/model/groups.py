"""Group a layer into a new group and ungroup a group, each as one undoable step."""

from __future__ import annotations

from app.model import history_names as names
from app.model.commands import AddLayer, Macro, MoveLayer, RemoveLayer
from app.model.document import Document
from app.model.layers import GroupLayer


def group_layer(doc: Document, layer_id: str, name: str = "Group") -> Macro:
    """Put the layer into a new group standing where it stood (the group: commands[0].layer)."""
    parent, index = doc.position(layer_id)
    parent_id = None if parent is doc.root else parent.id
    group = GroupLayer(name=name)
    return Macro(
        names.GROUP_LAYER, [AddLayer(group, parent_id, index), MoveLayer(layer_id, 0, group.id)]
    )


def ungroup(doc: Document, group_id: str) -> Macro:
    """Put a group's children where the group stands (same order) and remove the group."""
    group = doc.find(group_id)
    if not isinstance(group, GroupLayer):
        raise ValueError(f"layer {group.name!r} is not a group")
    parent, index = doc.position(group_id)
    parent_id = None if parent is doc.root else parent.id
    moves = [
        MoveLayer(child.id, index + 1 + offset, parent_id)
        for offset, child in enumerate(group.children)
    ]
    return Macro(names.UNGROUP_LAYERS, [*moves, RemoveLayer(group_id)])
