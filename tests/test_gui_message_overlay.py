"""A message over the canvas leaves the view alone: its zoom and the canvas point at its
middle stay as they were while a message shows, grows and goes, fitted or zoomed and panned."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)

LONG = "The picture on the clipboard is larger than the canvas; the part outside was cut. " * 4


def view_state(win) -> tuple[float, QPointF, tuple[int, int]]:
    """(zoom, the canvas point at the middle of the view, the viewport's size)."""
    QApplication.processEvents()
    canvas = win.canvas
    middle = QPointF(canvas.viewport().rect().center())
    size = canvas.viewport().size()
    return canvas.zoom, canvas.canvas_point(middle), (size.width(), size.height())


def assert_same_view(before, after) -> None:
    (zoom, point, size), (zoom2, point2, size2) = before, after
    assert zoom2 == zoom and size2 == size
    assert abs(point2.x() - point.x()) * zoom <= 0.5 and abs(point2.y() - point.y()) * zoom <= 0.5


def test_messages_keep_a_zoomed_and_panned_view(canvas_window):
    win = canvas_window
    win.canvas.zoom_about(3.0, QPointF(40, 30))
    win.canvas.pan_by(37, -23)
    before = view_state(win)
    win.messages.show_message("Saved.", "info")
    assert_same_view(before, view_state(win))
    win.messages.show_message(LONG, "warning", "Undo", lambda: None, "Details", lambda: None)
    assert_same_view(before, view_state(win))
    win.messages.dismiss()
    assert_same_view(before, view_state(win))


def test_a_message_does_not_refit_a_fitted_view(canvas_window):
    win = canvas_window
    win.canvas.actions_by_name["fit"].trigger()
    before = view_state(win)
    win.messages.show_error(LONG)
    assert_same_view(before, view_state(win))
    win.messages.dismiss()
    assert_same_view(before, view_state(win))


def test_the_message_lies_over_the_top_of_the_canvas_and_follows_its_width(canvas_window):
    win = canvas_window
    win.resize(1200, 800)
    win.messages.show_message(LONG, "warning", "Undo", lambda: None)
    QApplication.processEvents()
    bar, canvas = win.messages.geometry(), win.canvas.rect()
    assert win.messages.parent() is win.canvas and win.messages.isVisible()
    assert canvas.contains(bar) and bar.top() < 20
    assert bar.height() >= win.messages.label.heightForWidth(win.messages.label.width())
    win.resize(win.width() - 200, win.height())
    QApplication.processEvents()
    assert win.canvas.rect().contains(win.messages.geometry())
