"""Helpers for the canvas GUI tests: a window on a small document, pointer drags in canvas
pixels, and answering the modal "save changes?" question."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.model.document import Document
from app.model.layers import RasterLayer
from app.ui.main_window import MainWindow
from tests.canvas_input import LEFT, NO_MODS, click, drag, view_point  # noqa: F401 (for tests)
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)


@pytest.fixture(name="canvas_window")
def canvas_window_fixture(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):  # noqa: F811
    """The main window with a 64x64 document: a white "Background" under an empty "Paint"."""
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    win.files.new(small_document())
    win.canvas.actions_by_name["fit"].trigger()
    yield win
    close_window(win)


def small_document(size: tuple[int, int] = (64, 64)) -> Document:
    white = np.full((size[1], size[0], 4), 255, np.uint8)
    background = RasterLayer.from_array(white, name="Background")
    return Document(size, [background, RasterLayer.blank(size, name="Paint")])


def key(window: MainWindow, sequence: str) -> None:
    """Type a shortcut into the window (focus on the canvas, as after a click on it)."""
    window.activateWindow()
    window.canvas.setFocus()
    QTest.keySequence(window.canvas, sequence)


def layer_named(window: MainWindow, name: str) -> RasterLayer:
    return next(lay for lay in window.session.doc.walk() if lay.name == name)


def answer_next_dialog(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Click `button` in the next modal message box (recording its text)."""

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, press)
