"""Wheel zoom on the canvas keeps the canvas point under the cursor where it is, in, out and
back; keys zoom about the middle of the view."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.ui.doc_session import DocumentSession
from app.ui.document_canvas import DocumentCanvas
from tests.canvas_helpers import small_document

NOTCH = 120  # one click of a mouse wheel


@pytest.fixture(name="canvas")
def canvas_fixture(qtbot) -> DocumentCanvas:
    """A 640x512 document in an 800x600 view, fitted (Ctrl+0)."""
    canvas = DocumentCanvas(DocumentSession(small_document((640, 512))))
    qtbot.addWidget(canvas)
    canvas.resize(800, 600)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.actions_by_name["fit"].trigger()
    return canvas


def wheel(canvas: DocumentCanvas, at: QPointF, notches: int) -> None:
    """Turn a mouse wheel over the viewport at `at` (up, away from the user, is positive)."""
    event = QWheelEvent(
        at, canvas.viewport().mapToGlobal(at), QPoint(0, 0), QPoint(0, NOTCH * notches),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(canvas.viewport(), event)


def distance(a: QPointF, b: QPointF) -> float:
    return ((a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2) ** 0.5


@pytest.mark.parametrize("at", [QPointF(400, 300), QPointF(130, 90), QPointF(700, 520)])
def test_wheel_zoom_keeps_the_point_under_the_cursor(canvas, at):
    fitted_zoom, under = canvas.zoom, canvas.canvas_point(at)
    for _ in range(6):
        wheel(canvas, at, 1)
        # one canvas pixel shown at this zoom is zoom screen pixels: within one screen pixel
        assert distance(canvas.canvas_point(at), under) * canvas.zoom <= 1.0
    assert canvas.zoom == pytest.approx(fitted_zoom * 1.15**6)
    for _ in range(9):
        wheel(canvas, at, -1)
        assert distance(canvas.canvas_point(at), under) * canvas.zoom <= 1.0
    for _ in range(3):
        wheel(canvas, at, 1)
    assert canvas.zoom == pytest.approx(fitted_zoom)
    assert distance(canvas.canvas_point(at), under) * canvas.zoom <= 1.0
    # the same view as after fit: the document's corner is where it was, within a pixel
    corner = canvas.mapFromScene(QPointF(0, 0))
    canvas.actions_by_name["fit"].trigger()
    assert (canvas.mapFromScene(QPointF(0, 0)) - corner).manhattanLength() <= 1


def test_the_fitted_view_zooms_about_the_cursor_not_the_corner(canvas):
    """The reported case: fit, cursor in the middle, one notch up."""
    middle = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
    under = canvas.canvas_point(middle)
    assert distance(under, QPointF(320, 256)) < 2  # fit centres the document
    wheel(canvas, middle, 1)
    assert distance(canvas.canvas_point(middle), under) * canvas.zoom <= 1.0
    corner = QPointF(canvas.mapFromScene(QPointF(0, 0)))
    assert distance(corner, middle) > 200  # the document's corner did not jump to the cursor


def test_zoom_keys_keep_the_middle_of_the_view(canvas):
    middle = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
    canvas.actions_by_name["zoom_in"].trigger()
    canvas.actions_by_name["zoom_in"].trigger()
    assert distance(canvas.canvas_point(middle), QPointF(320, 256)) * canvas.zoom <= 1.0
    canvas.actions_by_name["zoom_out"].trigger()
    assert distance(canvas.canvas_point(middle), QPointF(320, 256)) * canvas.zoom <= 1.0
