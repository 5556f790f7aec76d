"""Mouse input on the window's canvas, in canvas pixels (torch-free: the torch-blocked GUI
checks use it too)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

LEFT = Qt.MouseButton.LeftButton
NO_MODS = Qt.KeyboardModifier.NoModifier


def view_point(window, x: float, y: float) -> QPoint:
    """The viewport point over canvas pixel (x, y)."""
    return window.canvas.mapFromScene(QPointF(x, y))


def drag(
    window,
    points: Iterable[tuple[float, float]],
    mods: Qt.KeyboardModifier = NO_MODS,
) -> None:
    """Press at the first point, move through the others, release at the last."""
    viewport = window.canvas.viewport()
    path = [view_point(window, x, y) for x, y in points]
    QTest.mousePress(viewport, LEFT, mods, path[0])
    for point in path[1:]:
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(viewport, LEFT, mods, path[-1])


def click(window, x: float, y: float, mods: Qt.KeyboardModifier = NO_MODS) -> None:
    QTest.mouseClick(window.canvas.viewport(), LEFT, mods, view_point(window, x, y))
