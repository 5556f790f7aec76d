"""Image menu edits of the whole picture: Resize image (a size dialog), Rotate 90 degrees
either way or 180, Flip horizontally or vertically. Each is one undoable command over every
layer, mask and the selection (app.model.image_geometry)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from app.model.image_geometry import FlipImage, ResizeImage, RotateImage, Turn
from app.ui.doc_session import DocumentSession
from app.ui.size_dialogs import ResizeImageDialog


class ImageEdits(QObject):
    """The Image menu's resize, rotate and flip."""

    def __init__(self, session: DocumentSession, window: QWidget) -> None:
        super().__init__(window)
        self.session, self.window = session, window

    def ask_size(self) -> None:
        dialog = ResizeImageDialog(self.session.doc.size, self.window)
        if dialog.exec():
            self.resize(dialog.result_size())

    def resize(self, size: tuple[int, int]) -> bool:
        if size == self.session.doc.size:
            return False
        try:
            command = ResizeImage(size)
        except ValueError as exc:
            self.session.edit_failed.emit(str(exc))
            return False
        return self.session.push(command)

    def rotate(self, turn: Turn) -> bool:
        return self.session.push(RotateImage(turn))

    def flip(self, horizontal: bool) -> bool:
        return self.session.push(FlipImage(horizontal))
