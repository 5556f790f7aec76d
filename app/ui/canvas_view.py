"""The canvas: shows the current image with zoom and pan, and live previews while generating.

Zoom: wheel, Ctrl+= / Ctrl+-, fit Ctrl+0, 100% Ctrl+1. Pan: drag, space+drag or the middle
button. A step preview (latent-sized) is scaled up to the size being generated; ending the
preview without a result (cancel, failure) shows the previous image again.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from app.ui.images import pixmap_from_rgba
from engine.protocol import ImageData

MIN_ZOOM, MAX_ZOOM = 0.05, 32.0
WHEEL_STEP = 1.15
PLACEHOLDER = "Describe an image in the panel on the left and press Generate (Ctrl+Enter)."


class CanvasView(QGraphicsView):
    """A zoomable, pannable view of one image."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.image: ImageData | None = None
        self.previewing = False
        self._fit_mode = True
        self._pan_from: QPoint | None = None
        self._space_down = False
        self._setup_view()
        self.actions_by_name = self._make_actions()

    def _setup_view(self) -> None:
        self.setBackgroundBrush(QColor("#141517"))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _make_actions(self) -> dict[str, QAction]:
        specs = {
            "zoom_in": ("Zoom in", ["Ctrl+=", "Ctrl++"], lambda: self.zoom_by(1.25)),
            "zoom_out": ("Zoom out", ["Ctrl+-"], lambda: self.zoom_by(0.8)),
            "fit": ("Fit to window", ["Ctrl+0"], self.fit),
            "actual": ("Actual size (100%)", ["Ctrl+1"], self.actual_size),
        }
        made = {}
        for name, (text, keys, slot) in specs.items():
            action = QAction(text, self)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.triggered.connect(slot)
            made[name] = action
        return made

    # -- what is shown -------------------------------------------------------------------

    def set_image(self, image: ImageData | None) -> None:
        """Make `image` the current image (None clears the canvas)."""
        new_size = image.size if image is not None else None
        resized = self.image is None or new_size != self.image.size
        self.image = image
        self.previewing = False
        self._show(pixmap_from_rgba(image.pixels) if image is not None else QPixmap())
        if resized:
            self.fit()

    def show_preview(self, preview: ImageData, target: tuple[int, int]) -> None:
        """Show a step preview scaled to the (width, height) being generated."""
        first = not self.previewing
        pixmap = pixmap_from_rgba(preview.pixels).scaled(
            target[0],
            target[1],
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.previewing = True
        old = self.item.pixmap().size()
        self._show(pixmap)
        if first and (old.width(), old.height()) != target:
            self.fit()

    def end_preview(self) -> None:
        """Back to the current image after a preview that produced no result."""
        if self.previewing:
            self.set_image(self.image)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().paintEvent(event)
        if self.item.pixmap().isNull():
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#7d838a"))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, PLACEHOLDER)
            painter.end()

    def shown_pixmap(self) -> QPixmap:
        return self.item.pixmap()

    def _show(self, pixmap: QPixmap) -> None:
        self.item.setPixmap(pixmap)
        self.scene().setSceneRect(QRectF(pixmap.rect()))

    # -- zoom ------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.zoom_changed.emit(zoom)

    def zoom_by(self, factor: float) -> None:
        self._fit_mode = False
        self.set_zoom(self.zoom * factor)

    def actual_size(self) -> None:
        self._fit_mode = False
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Fit the image into the view (never enlarging beyond 400%)."""
        self._fit_mode = True
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            self.set_zoom(1.0)
            return
        margin = 24
        view = self.viewport().rect().adjusted(margin, margin, -margin, -margin)
        scale = min(view.width() / rect.width(), view.height() / rect.height())
        self.set_zoom(min(max(scale, MIN_ZOOM), 4.0))
        self.centerOn(rect.center())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(WHEEL_STEP**steps)
        event.accept()

    # -- pan -------------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().unsetCursor()
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pans = event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton)
        if pans or self._space_down:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            now = event.position().toPoint()
            delta = now - self._pan_from
            self._pan_from = now
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            if self._space_down:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, dx: int, dy: int) -> None:
        """Move the picture by (dx, dy) screen pixels."""
        self._fit_mode = False
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - dy)
