"""Select and Image menu edits: select all, deselect, invert, grow / shrink / feather the
selection, canvas size and crop to selection. Each is one undoable command."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QWidget

from app.model import history_names as names
from app.model.commands import ResizeCanvas, SetSelection
from app.model.selection import Selection
from app.ui.doc_session import DocumentSession
from app.ui.select_tools import crop_command
from app.ui.size_dialogs import CanvasSizeDialog

NOTHING_SELECTED = "Nothing is selected; select an area first (M, O or L)."
VERBS = {"grow": "Grow", "shrink": "Shrink", "feather": "Feather"}
HISTORY_NAMES = {
    "grow": names.GROW_SELECTION,
    "shrink": names.SHRINK_SELECTION,
    "feather": names.FEATHER_SELECTION,
}


class SelectionEdits(QObject):
    """Menu commands about the selection and the canvas size."""

    def __init__(
        self, session: DocumentSession, window: QWidget, report: Callable[[str], None]
    ) -> None:
        super().__init__(window)
        self.session, self.window, self.report = session, window, report

    def select_all(self) -> None:
        self.session.push(SetSelection(Selection.all(self.session.doc.size), names.SELECT_ALL))

    def deselect(self) -> None:
        if self.session.doc.selection is not None:
            self.session.push(SetSelection(None, names.DESELECT_ALL))

    def invert(self) -> None:
        doc = self.session.doc
        current = doc.selection or Selection.empty(doc.size)
        inverted = current.invert()
        self.session.push(
            SetSelection(None if inverted.is_empty else inverted, names.INVERT_SELECTION)
        )

    def change(self, how: str, pixels: float) -> bool:
        """Grow, shrink or feather the selection by `pixels`."""
        current = self.session.selection
        if current is None:
            self.report(NOTHING_SELECTED)
            return False
        changed = getattr(current, how)(pixels)
        label = HISTORY_NAMES[how]
        return self.session.push(SetSelection(None if changed.is_empty else changed, label))

    def ask(self, how: str) -> None:
        if self.session.selection is None:
            self.report(NOTHING_SELECTED)
            return
        pixels, ok = QInputDialog.getInt(
            self.window, f"{VERBS[how]} selection", "Pixels:", 8, 1, 500
        )
        if ok:
            self.change(how, pixels)

    def canvas_size(self) -> None:
        dialog = CanvasSizeDialog(self.session.doc.size, self.window)
        if dialog.exec():
            size, offset = dialog.result_size()
            self.resize(size, offset)

    def resize(self, size: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> bool:
        if size == self.session.doc.size and offset == (0, 0):
            return False
        return self.session.push(ResizeCanvas(size, offset))

    def crop_to_selection(self) -> bool:
        current = self.session.selection
        box = current.bbox() if current is not None else None
        if box is None:
            self.report(NOTHING_SELECTED)
            return False
        return self.session.push(crop_command(box))
