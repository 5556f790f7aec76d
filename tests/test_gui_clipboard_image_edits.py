"""Edit > Cut / Copy / Paste through the system clipboard, and Image > Resize / Rotate /
Flip from the menus, driven with the keyboard and the menu actions; each is one History step
that undoes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from app.model import history_names as names
from app.model.clip import Clip, paste_position
from app.model.tiles import Rect
from app.ui.clipboard_edits import CLIP_FORMAT
from app.ui.images import qimage_from_rgba, rgba_from_qimage
from app.ui.size_dialogs import ResizeImageDialog
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    drag,
    key,
    layer_named,
    qt_loop,
    small_document,
)
from tests.test_gui_canvas_transform import RED, red_square


def menu_action(win, menu: str, text: str) -> QAction:
    bar = win.menuBar()
    found = next(a.menu() for a in bar.actions() if a.text().replace("&", "") == menu)
    return next(a for a in found.actions() if a.text().replace("&", "") == text)


def clipboard_pixels() -> np.ndarray:
    return rgba_from_qimage(QGuiApplication.clipboard().image())


def test_copy_and_paste_a_selection_through_the_system_clipboard(canvas_window):
    win = canvas_window
    red_square(win)  # (10, 10) 20x20 on "Paint"
    key(win, "M")
    drag(win, [(20, 15), (40, 35)])  # the square's lower right part and empty pixels
    key(win, "Ctrl+C")
    copied = clipboard_pixels()
    assert copied.shape == (20, 20, 4)
    assert (copied[:15, :10] == RED).all() and not copied[15:, 10:].any()
    assert QGuiApplication.clipboard().mimeData().hasFormat(CLIP_FORMAT)
    steps = len(win.session.history.entries())  # a copy changes nothing

    key(win, "Ctrl+V")
    pasted = win.session.active
    assert pasted.name == "Pasted" and pasted.pixels.bbox() == Rect(20, 15, 10, 15)
    assert len(win.session.history.entries()) == steps + 1
    assert win.history_panel.labels()[-1] == names.PASTE_PICTURE
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())
    key(win, "Ctrl+Z")
    assert win.session.doc.get(pasted.id) is None


def test_cut_clears_the_layer_in_one_undoable_step(canvas_window):
    win = canvas_window
    before = red_square(win)
    key(win, "Ctrl+X")  # nothing selected: the whole layer
    paint = layer_named(win, "Paint")
    assert not paint.pixels.to_array().any()
    assert clipboard_pixels().shape == (20, 20, 4) and (clipboard_pixels() == RED).all()
    assert win.history_panel.labels()[-1] == names.CUT_SELECTION
    key(win, "Ctrl+Z")
    assert np.array_equal(paint.pixels.to_array(), before)


def test_a_picture_from_another_application_lands_in_the_middle_of_the_view(canvas_window):
    win = canvas_window
    shot = np.zeros((10, 16, 4), np.uint8)
    shot[..., 1:] = 255  # cyan, opaque: a screenshot
    QGuiApplication.clipboard().setImage(qimage_from_rgba(shot))
    key(win, "Ctrl+V")
    centre = win.canvas.canvas_point(win.canvas.viewport().rect().center())
    x, y = paste_position(Clip(shot), (64, 64), (centre.x(), centre.y()))
    assert abs(x - 24) <= 1 and abs(y - 27) <= 1  # the fitted 64x64 canvas fills the view
    assert win.session.active.pixels.bbox() == Rect(x, y, 16, 10)
    assert tuple(win.session.doc.composite()[y + 5, x + 8]) == (0, 255, 255, 255)


def test_a_copy_pastes_in_place_in_another_document_and_as_a_new_image(canvas_window, qtbot):
    win = canvas_window
    red_square(win, Rect(40, 30, 8, 6))
    win.session.set_active(layer_named(win, "Paint").id)
    key(win, "Ctrl+C")
    win.files.replace(small_document((100, 80)))  # another document
    key(win, "Ctrl+V")
    assert win.session.active.pixels.bbox() == Rect(40, 30, 8, 6)

    win.files.replace(small_document((100, 80)))  # nothing to save: no question asked
    key(win, "Ctrl+Shift+V")
    assert win.session.doc.size == (8, 6)
    assert (win.session.doc.composite() == RED).all()


def test_paste_with_an_empty_clipboard_says_what_to_do(canvas_window):
    win = canvas_window
    QGuiApplication.clipboard().clear()
    steps = len(win.session.history.entries())
    key(win, "Ctrl+V")
    assert "no picture to paste" in win.statusBar().currentMessage()
    assert len(win.session.history.entries()) == steps


def test_rotate_from_the_image_menu_and_undo(canvas_window):
    win = canvas_window
    win.files.replace(small_document((64, 40)))
    before = red_square(win, Rect(2, 3, 10, 5))
    win.selection_edits.select_all()
    menu_action(win, "Image", "Rotate 90\N{DEGREE SIGN} clockwise").trigger()
    doc = win.session.doc
    paint = layer_named(win, "Paint")
    assert doc.size == (40, 64) and doc.selection.size == (40, 64)
    assert np.array_equal(paint.pixels.to_array(), np.rot90(before, -1))
    assert paint.pixels.bbox() == Rect(40 - 8, 2, 5, 10)
    assert win.history_panel.labels()[-1] == "Rotate image 90\N{DEGREE SIGN} clockwise"
    assert np.array_equal(win.canvas.rendered_pixels(), doc.composite())
    assert win.size_label.text() == "40 \N{MULTIPLICATION SIGN} 64"
    key(win, "Ctrl+Z")
    assert doc.size == (64, 40) and np.array_equal(paint.pixels.to_array(), before)
    assert np.array_equal(win.canvas.rendered_pixels(), doc.composite())

    menu_action(win, "Image", "Flip horizontally").trigger()
    assert np.array_equal(paint.pixels.to_array(), np.flip(before, axis=1))
    assert win.history_panel.labels()[-1] == "Flip image horizontally"


def test_resize_image_in_percent_keeps_the_proportions(canvas_window, qtbot):
    win = canvas_window
    red_square(win, Rect(16, 16, 32, 32))
    seen: list[tuple[int, int]] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ResizeImageDialog):
            QTimer.singleShot(20, answer)
            return
        dialog.unit.setCurrentText("percent")
        assert dialog.width_spin.value() == 100
        dialog.width_spin.setValue(50)
        seen.append(dialog.result_size())
        dialog.accept()

    QTimer.singleShot(0, answer)
    menu_action(win, "Image", "Resize image\N{HORIZONTAL ELLIPSIS}").trigger()
    assert seen == [(32, 32)]
    assert win.session.doc.size == (32, 32)
    assert layer_named(win, "Paint").pixels.bbox() == Rect(8, 8, 16, 16)
    assert win.history_panel.labels()[-1] == "Resize image to 32 \N{MULTIPLICATION SIGN} 32"
    win.activateWindow()  # the dialog had the keyboard
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    key(win, "Ctrl+Z")
    assert win.session.doc.size == (64, 64)


def test_the_resize_dialog_links_pixels_by_aspect_unless_told_not_to(qtbot):
    dialog = ResizeImageDialog((1600, 900))
    qtbot.addWidget(dialog)
    dialog.width_spin.setValue(800)
    assert dialog.result_size() == (800, 450)
    dialog.keep.setChecked(False)
    dialog.height_spin.setValue(300)
    assert dialog.result_size() == (800, 300)
    assert dialog.result_label.text() == "800 \N{MULTIPLICATION SIGN} 300 pixels"
    dialog.unit.setCurrentText("percent")
    assert (
        round(dialog.width_spin.value(), 2) == 50 and round(dialog.height_spin.value(), 2) == 33.33
    )
    dialog.width_spin.setValue(100000)  # clamped to the largest canvas
    assert dialog.result_size()[0] == 16384


def test_ctrl_c_in_a_text_field_copies_its_text_not_the_canvas(canvas_window, qtbot):
    win = canvas_window
    red_square(win)
    field = win.prompt_panel.findChild(QPlainTextEdit)
    field.setPlainText("a red fox")
    field.setFocus()
    field.selectAll()
    qtbot.waitUntil(field.hasFocus)
    QGuiApplication.clipboard().clear()
    QTest.keySequence(field, "Ctrl+C")
    assert QGuiApplication.clipboard().text() == "a red fox"
    assert QGuiApplication.clipboard().image().isNull()
