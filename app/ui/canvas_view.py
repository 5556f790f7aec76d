"""Zoom and pan for a graphics view: keys, mouse wheel, middle button, space-drag, touchpad.

Zoom: wheel or Ctrl+wheel, a touchpad pinch, Ctrl+= / Ctrl+-, fit Ctrl+0, 100% Ctrl+1.
Pan: the middle button, space + drag, two-finger touchpad scroll, Shift+wheel (sideways).
The wheel and a pinch zoom about the pointer, the keys about the middle of the view: that
canvas point stays where it is on screen, and zooming back returns to the same view.
The document canvas (app.ui.document_canvas) builds on this; the left button is the tool's.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
WHEEL_STEP = 1.15
FIT_MARGIN = 24
MAX_FIT_ZOOM = 4.0


class ZoomPanView(QGraphicsView):
    """A view of a scene with zoom and pan; subclasses say what `content_rect` is."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._fit_mode = True
        self._pan_from: QPoint | None = None
        self._space_down = False
        self._anchor: tuple[QPointF, QPointF] | None = None  # (viewport point, scene point)
        self._setup_view()
        self.actions_by_name = self._make_actions()

    def _setup_view(self) -> None:
        self.setBackgroundBrush(QColor("#141517"))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)  # see zoom_by
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, False)
        self.grabGesture(Qt.GestureType.PinchGesture)

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

    def content_rect(self) -> QRectF:
        """What "fit" shows; the items' bounds unless a subclass knows better."""
        return self.scene().itemsBoundingRect()

    def update_scene_rect(self) -> None:
        """The content plus a margin of a viewport's size or more at the current zoom, so it
        can be panned to any side of the view and any point can be held under the pointer
        while zooming; the middle of the view stays where it is."""
        rect, view = self.content_rect(), self.viewport().rect()
        room = max(view.width(), view.height()) / self.zoom
        margin = max(rect.width(), rect.height(), room)
        middle = self._view_middle()
        held = self.canvas_point(middle)
        self.scene().setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
        self._place(held, middle)

    # -- zoom ------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.update_scene_rect()
        self.zoom_changed.emit(zoom)

    def zoom_by(self, factor: float, at: QPointF | None = None) -> None:
        """Zoom keeping the canvas point at viewport point `at` (default: the middle) there."""
        self.zoom_about(self.zoom * factor, at)

    def zoom_about(self, zoom: float, at: QPointF | None = None) -> None:
        """Set the zoom keeping the canvas point at viewport point `at` (default: the middle)
        there. Steps at the same pointer position keep the first step's canvas point, so
        whole-pixel scrolling cannot make the picture creep however many steps are taken."""
        self._fit_mode = False
        at = self._view_middle() if at is None else QPointF(at)
        held = self._held_point(at)
        self.set_zoom(zoom)
        self._place(held, at)
        self._anchor = (at, held)

    def _held_point(self, at: QPointF) -> QPointF:
        """The canvas point under `at`: the last zoom's one while it is still there."""
        if self._anchor is not None and self._anchor[0] == at:
            shown = self.viewportTransform().map(self._anchor[1])
            if abs(shown.x() - at.x()) < 1 and abs(shown.y() - at.y()) < 1:
                return self._anchor[1]
        return self.canvas_point(at)

    def _place(self, scene_point: QPointF, at: QPointF) -> None:
        """Scroll so that `scene_point` shows at viewport point `at` (to the nearest pixel)."""
        shown = self.viewportTransform().map(scene_point)
        for bar, off in (
            (self.horizontalScrollBar(), shown.x() - at.x()),
            (self.verticalScrollBar(), shown.y() - at.y()),
        ):
            bar.setValue(bar.value() + round(off))

    def canvas_point(self, view_pos: QPointF) -> QPointF:
        """Viewport coordinates to canvas pixels, keeping the fraction (for fine strokes)."""
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(QPointF(view_pos))

    def _view_middle(self) -> QPointF:
        return QPointF(self.viewport().rect().center())

    def actual_size(self) -> None:
        self.zoom_about(1.0)

    def fit(self) -> None:
        """Fit the content into the view (never enlarging beyond 400%)."""
        self._fit_mode = True
        rect = self.content_rect()
        if rect.isEmpty():
            self.set_zoom(1.0)
            return
        view = self.viewport().rect().adjusted(FIT_MARGIN, FIT_MARGIN, -FIT_MARGIN, -FIT_MARGIN)
        scale = min(view.width() / rect.width(), view.height() / rect.height())
        self.set_zoom(min(max(scale, MIN_ZOOM), MAX_FIT_ZOOM))
        self.centerOn(rect.center())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
        else:
            self.update_scene_rect()

    def wheelEvent(self, event) -> None:  # noqa: N802
        """A mouse wheel zooms; a touchpad's two-finger scroll (pixel deltas) pans unless
        Ctrl is held; Shift+wheel pans sideways."""
        mods = event.modifiers()
        pixel = event.pixelDelta()
        if not pixel.isNull() and not mods & Qt.KeyboardModifier.ControlModifier:
            self.pan_by(pixel.x(), pixel.y())
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            delta = event.angleDelta()
            self.pan_by(delta.y() or delta.x(), 0)
        else:
            steps = event.angleDelta().y() / 120 or pixel.y() / 120
            if steps:
                self.zoom_by(WHEEL_STEP**steps, event.position())
        event.accept()

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.NativeGesture and self._native_gesture(event):
            return True
        if event.type() == QEvent.Type.Gesture and self._pinch(event):
            return True
        return super().viewportEvent(event)

    def _native_gesture(self, event) -> bool:
        """Touchpad pinch on macOS / Wayland arrives as a native zoom gesture."""
        if event.gestureType() != Qt.NativeGestureType.ZoomNativeGesture:
            return False
        self.zoom_by(1.0 + event.value(), event.position())
        event.accept()
        return True

    def _pinch(self, event) -> bool:
        pinch = event.gesture(Qt.GestureType.PinchGesture)
        if pinch is None:
            return False
        factor = pinch.scaleFactor()
        if factor > 0:
            self.zoom_by(factor, self.viewport().mapFromGlobal(pinch.centerPoint()))
        event.accept()
        return True

    # -- pan -------------------------------------------------------------------------------

    @property
    def panning(self) -> bool:
        return self._pan_from is not None

    @property
    def space_down(self) -> bool:
        return self._space_down

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.restore_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def start_pan(self, event) -> bool:
        """Begin a pan for the middle button or space + left button; True when it did."""
        middle = event.button() == Qt.MouseButton.MiddleButton
        if not (middle or (self._space_down and event.button() == Qt.MouseButton.LeftButton)):
            return False
        self._pan_from = event.position().toPoint()
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()
        return True

    def continue_pan(self, event) -> bool:
        if self._pan_from is None:
            return False
        now = event.position().toPoint()
        delta = now - self._pan_from
        self._pan_from = now
        self.pan_by(delta.x(), delta.y())
        event.accept()
        return True

    def end_pan(self, event) -> bool:
        if self._pan_from is None:
            return False
        self._pan_from = None
        self.restore_cursor()
        event.accept()
        return True

    def restore_cursor(self) -> None:
        """The cursor when nothing special happens (subclasses show their tool's)."""
        if self._space_down:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if not self.start_pan(event):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if not self.continue_pan(event):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if not self.end_pan(event):
            super().mouseReleaseEvent(event)

    def pan_by(self, dx: int, dy: int) -> None:
        """Move the picture by (dx, dy) screen pixels."""
        self._fit_mode = False
        self._anchor = None
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - dx)
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - dy)

    def set_smooth(self, smooth: bool) -> None:
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
