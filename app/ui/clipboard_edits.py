"""Edit > Cut, Copy, Copy merged, Paste and Paste as new image, through the system
clipboard, so pictures go to and come from other applications (a screenshot, GIMP, Krita).

A copy puts the pixels on the clipboard as an image and, beside it, where on the canvas they
came from (CLIP_FORMAT), so a paste in Atelier, in this document or another, puts them back
in place; an image from elsewhere lands in the middle of the view. A paste is a new layer
above the active one, and a cut one step, both in History. What the copy takes and
where the paste goes is app.model.clip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PySide6.QtCore import QByteArray, QMimeData, QObject, QPointF
from PySide6.QtGui import QClipboard, QGuiApplication, QImage

from app.model import history_names as names
from app.model.clip import (
    Clip,
    clip_document,
    copy_layer,
    copy_merged,
    cut_layer,
    cut_off,
    origin_text,
    parse_origin,
    paste_position,
    pasted_layer,
)
from app.model.image_files import ImageReadError
from app.model.image_import import CANVAS_PIXELS, read_image
from app.ui.canvas_view import ZoomPanView
from app.ui.doc_session import DocumentSession
from app.ui.document_files import DocumentFiles
from app.ui.images import qimage_from_rgba, rgba_from_qimage
from app.ui.layer_actions import LayerActions

T = TypeVar("T")
CLIP_FORMAT = "application/x-atelier-clip"
NO_LAYER = "Choose a layer in the Layers panel to copy from."
NO_PICTURE = "The clipboard holds no picture to paste; copy a picture or a selection first."
TOO_LARGE = "The picture on the clipboard is too large to paste ({w} x {h} pixels)."
CUT_OFF = "The pasted picture is larger than the canvas; the part outside was cut off."


def clipboard() -> QClipboard:
    return QGuiApplication.clipboard()


def put_clip(clip: Clip) -> None:
    """Put the clip on the system clipboard: an image for every application, and its
    origin for Atelier."""
    mime = QMimeData()
    mime.setImageData(qimage_from_rgba(clip.pixels))
    mime.setData(CLIP_FORMAT, QByteArray(origin_text(clip).encode()))
    clipboard().setMimeData(mime)


def take_clip() -> Clip | None:
    """The picture on the system clipboard (an image, or a copied image file); None when
    there is none. Raises ValueError when there is one that cannot be pasted."""
    mime = clipboard().mimeData()
    if mime is None:
        return None
    image = clipboard().image()
    if not image.isNull():
        return Clip(_pixels(image), parse_origin(bytes(mime.data(CLIP_FORMAT).data())))
    files = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    if files:
        try:
            return Clip(read_image(files[0], CANVAS_PIXELS))
        except ImageReadError as exc:
            raise ValueError(str(exc)) from exc
    return None


def _pixels(image: QImage) -> np.ndarray:
    if image.width() * image.height() > CANVAS_PIXELS:
        raise ValueError(TOO_LARGE.format(w=image.width(), h=image.height()))
    return rgba_from_qimage(image)


class ClipboardEdits(QObject):
    """The Edit menu's clipboard commands, on the session's active layer."""

    def __init__(
        self,
        session: DocumentSession,
        canvas: ZoomPanView,
        layers: LayerActions,
        files: DocumentFiles,
        report: Callable[[str], None],
    ) -> None:
        super().__init__(canvas)
        self.session, self.canvas, self.layers, self.files = session, canvas, layers, files
        self.report = report

    def copy(self) -> bool:
        """The active layer's selected pixels (all its content without a selection)."""
        layer_id = self._active_id()
        clip = layer_id and self._attempt(lambda: copy_layer(self.session.doc, layer_id))
        return self._put(clip)

    def copy_merged(self) -> bool:
        """The visible image inside the selection (all of it without a selection)."""
        return self._put(self._attempt(lambda: copy_merged(self.session.doc)))

    def cut(self) -> bool:
        """Copy, then clear what was copied (one undo step)."""
        layer_id = self._active_id()
        cut = layer_id and self._attempt(lambda: cut_layer(self.session.doc, layer_id))
        if not cut:
            return False
        clip, edit = cut
        return self.session.push(edit) and self._put(clip)

    def _active_id(self) -> str | None:
        active = self.session.active
        if active is None:
            self.report(NO_LAYER)
        return active.id if active is not None else None

    def _put(self, clip: Clip | None) -> bool:
        if clip is None:
            return False
        put_clip(clip)
        return True

    def _attempt(self, make: Callable[[], T]) -> T | None:
        """What `make` returns; its ValueError (nothing to copy, ...) is reported instead."""
        try:
            return make()
        except ValueError as exc:
            self.report(str(exc))
            return None

    def paste(self) -> bool:
        """The clipboard's picture as a new layer above the active one."""
        clip = self._clip()
        if clip is None:
            return False
        size = self.session.doc.size
        centre = self.canvas.canvas_point(QPointF(self.canvas.viewport().rect().center()))
        at = paste_position(clip, size, (centre.x(), centre.y()))
        self.layers.add(pasted_layer(clip, size, at), names.PASTE_PICTURE)
        if cut_off(clip, size, at):
            self.report(CUT_OFF)
        return True

    def paste_as_new_image(self) -> bool:
        """The clipboard's picture as a new document of its size."""
        clip = self._clip()
        if clip is None:
            return False
        doc = self._attempt(lambda: clip_document(clip))
        return doc is not None and self.files.new(doc)

    def _clip(self) -> Clip | None:
        clip = self._attempt(take_clip)
        if clip is None:
            self.report(NO_PICTURE)
        return clip
