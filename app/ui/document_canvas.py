"""The document canvas: the layered picture with zoom and pan, the selection, the tools.

It redraws only what changed: the session reports a rectangle, the composite cache
recomputes those pixels, and only that part of the viewport repaints. The left button (or
a pen, with its pressure) goes to the current tool; the middle button and space+drag pan.
Generation previews and candidates float above the document until one is applied.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem, QWidget

from app.model.tiles import Rect
from app.ui.canvas_items import DocumentItem, FloatingImage, SelectionOutline
from app.ui.canvas_view import ZoomPanView
from app.ui.composite_cache import CompositeCache
from app.ui.doc_session import DocumentSession
from app.ui.images import pixmap_from_rgba
from app.ui.paint_tools import picked_rgb
from app.ui.tool_base import Tool, ToolSettings
from engine.protocol import ImageData

MARCH_MS = 160
CONTROL_RETRY_MS = 80  # how soon a control layer's map that is being remade shows again
TABLET_EVENTS = {
    QEvent.Type.TabletPress: "press",
    QEvent.Type.TabletMove: "move",
    QEvent.Type.TabletRelease: "release",
}


class DocumentCanvas(ZoomPanView):
    """Shows `session.doc`; the window sets the tool and listens to the signals."""

    color_picked = Signal(tuple)  # (r, g, b)
    message = Signal(str)  # a tool's complaint, e.g. "Choose a layer to paint on"
    settings_changed = Signal()  # e.g. [ and ] resized the brush

    def __init__(self, session: DocumentSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = ToolSettings()
        self.tool: Tool | None = None
        self.cache = CompositeCache(session.doc)
        self.item = DocumentItem(self.cache)
        self.outline = SelectionOutline()
        self.preview = FloatingImage(z=6)  # generation steps and candidates
        self.floating = FloatingImage(z=7)  # the layer being moved
        self.guide = self._guide_item()
        self.brush_outline = self._brush_item()
        for item in (self.item, self.outline, self.preview, self.floating, self.guide):
            self.scene().addItem(item)
        self.scene().addItem(self.brush_outline)
        self.candidate: ImageData | None = None
        self.candidate_rect: QRectF | None = None
        self.previewing = False
        self._pressed = False
        self._ants = QTimer(self, interval=MARCH_MS, timeout=self.outline.march)
        self._control_retry = QTimer(self, singleShot=True, interval=CONTROL_RETRY_MS)
        self._control_retry.timeout.connect(lambda: self.redraw(None))
        self._connect()
        self.update_scene_rect()
        self.viewport().setMouseTracking(True)

    def _guide_item(self) -> QGraphicsPathItem:
        item = QGraphicsPathItem()
        pen = QPen(QColor("#f5f5f5"), 1, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(11)
        return item

    def _brush_item(self) -> QGraphicsEllipseItem:
        item = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255, 200), 1)
        pen.setCosmetic(True)
        item.setPen(pen)
        item.setZValue(12)
        item.hide()
        return item

    def _connect(self) -> None:
        self.session.pixels_changed.connect(self.redraw)
        self.session.document_replaced.connect(self.reload)
        self.session.selection_changed.connect(self._show_selection)

    # -- the picture -----------------------------------------------------------------------

    def redraw(self, rect: Rect | None) -> None:
        """Recompose and repaint `rect` only."""
        if self.cache.stale:
            self.reload()
            return
        part = self.cache.refresh(rect)
        if part is not None:
            self.item.update(QRectF(part.x, part.y, part.w, part.h))
        if self.cache.controls.pending:  # a control's map is being remade: show it soon
            self._control_retry.start()

    def redraw_all(self) -> None:
        self.redraw(self.session.doc.rect)

    def reload(self) -> None:
        """A new document or a new canvas size: rebuild the cache and fit it again."""
        resized = self.cache.size != self.session.doc.size
        self.cache = CompositeCache(self.session.doc)
        self.item.set_cache(self.cache)
        self._show_selection()
        self.update_scene_rect()
        if resized or self._fit_mode:
            self.fit()

    def content_rect(self) -> QRectF:
        rect = self.item.boundingRect()
        if self.preview.isVisible():
            rect = rect.united(self.preview.sceneBoundingRect())
        return rect

    def _show_selection(self) -> None:
        selection = self.session.selection
        self.outline.set_selection(selection)
        if selection is None:
            self._ants.stop()
        else:
            self._ants.start()

    def rendered_pixels(self) -> np.ndarray:
        """What the canvas shows of the document (straight RGBA), from its cache."""
        return self.cache.straight_pixels()

    # -- previews and candidates -------------------------------------------------------------

    def show_preview(self, preview: ImageData, rect: QRectF) -> None:
        """A generation step, stretched over the canvas rectangle being generated."""
        first = not self.previewing
        self.previewing = True
        self.preview.setOpacity(1.0)
        self.preview.show_image(pixmap_from_rgba(preview.pixels), rect)
        if first:
            self.update_scene_rect()
            self._refit()

    def end_preview(self) -> None:
        """Back to the candidate (or nothing) after a job that made no image."""
        if self.previewing:
            self.previewing = False
            self.show_candidate(self.candidate, self.candidate_rect)

    def show_candidate(self, image: ImageData | None, rect: QRectF | None = None) -> None:
        """Float a generated image over the canvas at `rect` until it is applied."""
        self.previewing = False
        self.candidate, self.candidate_rect = image, rect
        if image is None or rect is None:
            self.preview.clear()
        else:
            self.preview.show_image(pixmap_from_rgba(image.pixels), rect)
        self.update_scene_rect()
        self._refit()

    def _refit(self) -> None:
        """In fit mode, keep what floats beyond the canvas (an outpaint) in view too."""
        if self._fit_mode:
            self.fit()

    def shown_pixmap(self) -> QPixmap:
        """The floating preview or candidate image (empty when none)."""
        return self.preview.pixmap()

    # -- tools -----------------------------------------------------------------------------

    def set_tool(self, tool: Tool) -> None:
        if self.tool is not None:
            self.tool.deactivate()
        self.tool = tool
        tool.activate()
        self.restore_cursor()

    def restore_cursor(self) -> None:
        if self.space_down or self.tool is None:
            super().restore_cursor()
        else:
            self.viewport().setCursor(self.tool.cursor)

    def report(self, text: str) -> None:
        self.message.emit(text)

    def pick_color_at(self, pos: QPointF) -> None:
        rgb = picked_rgb(self.session.doc, pos)
        if rgb is not None:
            self.settings.color = rgb
            self.color_picked.emit(rgb)

    def show_guide(self, path: QPainterPath | None) -> None:
        self.guide.setPath(path if path is not None else QPainterPath())

    def show_brush_outline(self, pos: QPointF | None, size: float) -> None:
        if pos is None or size < 3:
            self.brush_outline.hide()
            return
        self.brush_outline.setRect(QRectF(pos.x() - size / 2, pos.y() - size / 2, size, size))
        self.brush_outline.show()

    # -- pointer events --------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if self.start_pan(event):
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool is not None:
            self._pressed = True
            self.tool.press(self._canvas_pos(event), event.modifiers(), 1.0)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.continue_pan(event) or self.tool is None:
            return
        pos = self._canvas_pos(event)
        if self._pressed:
            self.tool.move(pos, event.modifiers(), 1.0)
        else:
            self.tool.hover(pos)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self.end_pan(event):
            return
        if event.button() == Qt.MouseButton.LeftButton and self._pressed and self.tool:
            self._pressed = False
            self.tool.release(self._canvas_pos(event), event.modifiers())
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.brush_outline.hide()
        super().leaveEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        kind = TABLET_EVENTS.get(event.type())
        if kind is not None and self.tool is not None:
            return self._tablet(kind, event)
        return super().viewportEvent(event)

    def _tablet(self, kind: str, event) -> bool:
        """A pen: the same as the mouse, with its pressure (accepted: no mouse copy)."""
        pos = self.canvas_point(event.position())
        pressure = max(0.05, float(event.pressure()))
        if kind == "press" and not self.space_down:
            self._pressed = True
            self.tool.press(pos, event.modifiers(), pressure)
        elif kind == "move" and self._pressed:
            self.tool.move(pos, event.modifiers(), pressure)
        elif kind == "move":
            self.tool.hover(pos)
        elif kind == "release" and self._pressed:
            self._pressed = False
            self.tool.release(pos, event.modifiers())
        else:
            return False  # let Qt make mouse events (e.g. for space-drag panning)
        event.accept()
        return True

    def _canvas_pos(self, event) -> QPointF:
        return self.canvas_point(event.position())

    def keyPressEvent(self, event) -> None:  # noqa: N802
        steps = {Qt.Key.Key_BracketLeft: 1 / 1.25, Qt.Key.Key_BracketRight: 1.25}
        if event.key() in steps and not event.modifiers():
            self._resize_brush(steps[event.key()])
            event.accept()
            return
        super().keyPressEvent(event)

    def _resize_brush(self, factor: float) -> None:
        eraser, layer = getattr(self.tool, "eraser", False), self.session.active
        size = min(1000.0, max(1.0, self.settings.size_for(eraser, layer) * factor))
        self.settings.set_size_for(eraser, layer, size)
        self.settings_changed.emit()
