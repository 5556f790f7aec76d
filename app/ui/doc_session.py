"""The open document as the window sees it: document + history + file path + active layer.

Every edit goes through `push` (a command from app.model.commands), so it can be undone;
widgets listen to the signals instead of to each other. Tools that change pixels while the
pointer moves call `pixels_touched` for the live redraw and push the finished edit.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.model.commands import Command
from app.model.document import Document
from app.model.history import History
from app.model.layers import Layer, MaskLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import Rect

UNTITLED = "Untitled"


class DocumentSession(QObject):
    """One document being edited, with undo, and the layer that tools paint on."""

    pixels_changed = Signal(object)  # Rect | None: the canvas area to redraw
    layers_changed = Signal()  # the tree or a layer property changed (or undo/redo did)
    history_changed = Signal()
    selection_changed = Signal()
    active_changed = Signal()
    document_replaced = Signal()  # a new or opened document; also fires on a size change
    dirty_changed = Signal(bool)
    edit_failed = Signal(str)

    def __init__(self, doc: Document, path: Path | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc
        self.history: History | None = None
        self.path = path
        self.name: str | None = None  # the picture a document was opened from
        self.active_id: str | None = None
        self._was_dirty = False
        self._unsaved = False  # recovered work counts as unsaved until saved
        self._selection = doc.selection
        self._size = doc.size
        self.set_document(doc, path)

    # -- the document ----------------------------------------------------------------------

    def set_document(
        self,
        doc: Document,
        path: Path | None = None,
        dirty: bool = False,
        name: str | None = None,
    ) -> None:
        """Start editing `doc` (new, opened or recovered); the history starts empty. `name`
        titles a document opened from a picture (it has no project path yet)."""
        if self.history is not None:
            self.history.unsubscribe(self._on_history)
        self.doc, self.path, self._unsaved, self.name = doc, path, dirty, name
        self.history = History(doc)
        self.history.subscribe(self._on_history)
        self._selection, self._size = doc.selection, doc.size
        self.active_id = None
        self._ensure_active()
        self.document_replaced.emit()
        self.layers_changed.emit()
        self.history_changed.emit()
        self.selection_changed.emit()
        self.active_changed.emit()
        self._emit_dirty(force=True)

    @property
    def dirty(self) -> bool:
        return self._unsaved or not self.history.is_clean

    @property
    def title(self) -> str:
        return self.path.name if self.path else (self.name or UNTITLED)

    def mark_saved(self, path: Path) -> None:
        self.path, self._unsaved = path, False
        self.history.mark_clean()
        self._emit_dirty(force=True)

    # -- editing ---------------------------------------------------------------------------

    def push(self, command: Command) -> bool:
        """Do `command` as one undo step; a refused edit is reported, never raised."""
        try:
            self.history.push(command)
        except (ValueError, KeyError) as exc:
            self.edit_failed.emit(str(exc).strip("'\""))
            return False
        return True

    def undo(self) -> None:
        self.history.undo()

    def redo(self) -> None:
        self.history.redo()

    def go_to(self, position: int) -> None:
        self.history.go_to(position)

    def pixels_touched(self, rect: Rect | None) -> None:
        """A tool changed pixels in place (not yet recorded): redraw them now."""
        if rect is not None:
            self.doc.revision += 1
            self.pixels_changed.emit(rect)

    def _on_history(self, rect: Rect | None) -> None:
        if self.doc.size != self._size:
            self._size = self.doc.size
            self.document_replaced.emit()
        else:
            self.pixels_changed.emit(rect)
        if self.doc.selection is not self._selection:
            self._selection = self.doc.selection
            self.selection_changed.emit()
        self._ensure_active()
        self.layers_changed.emit()
        self.history_changed.emit()
        self._emit_dirty()

    def _emit_dirty(self, force: bool = False) -> None:
        if force or self.dirty != self._was_dirty:
            self._was_dirty = self.dirty
            self.dirty_changed.emit(self.dirty)

    # -- active layer ----------------------------------------------------------------------

    @property
    def active(self) -> Layer | None:
        return self.doc.get(self.active_id) if self.active_id else None

    def set_active(self, layer_id: str | None) -> None:
        if layer_id != self.active_id and (layer_id is None or self.doc.get(layer_id)):
            self.active_id = layer_id
            self.active_changed.emit()

    def paint_target(self) -> RasterLayer | MaskLayer | None:
        """The layer brushes, fills and the move tool work on (None: a group is active)."""
        layer = self.active
        return layer if isinstance(layer, RasterLayer | MaskLayer) else None

    def _ensure_active(self) -> None:
        if self.active is not None:
            return
        layers = [lay for lay in self.doc.walk() if isinstance(lay, RasterLayer | MaskLayer)]
        top = layers[-1].id if layers else None
        if top != self.active_id:
            self.active_id = top
            self.active_changed.emit()

    # -- selection -------------------------------------------------------------------------

    @property
    def selection(self) -> Selection | None:
        """The current selection; an empty one counts as none."""
        sel = self.doc.selection
        return None if sel is None or sel.is_empty else sel
