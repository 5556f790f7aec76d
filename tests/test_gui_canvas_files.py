"""Projects in the window: save and reopen exactly, failed saves keep the old file, the
unsaved-changes question on close, autosave and the recovery offer after a crash."""

from __future__ import annotations

import errno

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

import app.model.project_file as project_file
from app.model.autosave import find_recovery_files
from app.model.layers import BlendMode
from app.ui.size_dialogs import anchor_offset, new_document
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    WAIT_MS,
    answer_next_dialog,
    canvas_window_fixture,
    close_window,
    diffusion_registry,
    drag,
    layer_named,
    make_store,
    make_window,
    qt_loop,
)
from tests.test_gui_canvas_generate import run_generate

Button = QMessageBox.StandardButton


def paint(win, y: int = 20, color=(200, 30, 30)) -> None:
    win.session.set_active(layer_named(win, "Paint").id)
    win.toolbox.choose("brush")
    win.canvas.settings.color = color
    drag(win, [(8, y), (56, y)])


def layer_state(win) -> list[tuple]:
    return [
        (lay.id, lay.name, lay.visible, lay.opacity, lay.blend, getattr(lay, "recipe", None))
        for lay in win.session.doc.walk()
    ]


def pixels(win) -> list[np.ndarray]:
    return [lay.pixels.to_array() for lay in win.session.doc.walk() if hasattr(lay, "pixels")]


def test_save_reopen_gives_back_layers_recipes_and_pixels(canvas_window, qtbot, tmp_path):
    win = canvas_window
    paint(win)
    run_generate(win, qtbot, "a small boat")
    made = win.apply_candidate()
    win.layers_panel.opacity.setValue(60)
    win.layers_panel.blend.activated.emit(list(BlendMode).index(BlendMode.SCREEN))
    win.layer_actions.new_mask.trigger()
    state, before = layer_state(win), pixels(win)
    path = tmp_path / "boat.atelier"

    assert win.files.save_as(path)
    assert path.exists() and not win.isWindowModified()
    assert win.windowTitle().startswith("boat.atelier")
    assert find_recovery_files(win.store.home) == []
    win.files.new(win.session.doc.__class__((32, 32)))
    assert win.open_file(path)
    assert layer_state(win) == state
    assert all(np.array_equal(a, b) for a, b in zip(pixels(win), before, strict=True))
    assert win.session.doc.find(made.id).recipe["task"] == "diffusion.txt2img"
    assert win.history_panel.labels() == ["Open document"]


def test_a_failed_save_says_why_and_keeps_the_previous_file(canvas_window, tmp_path, monkeypatch):
    win = canvas_window
    path = tmp_path / "keep.atelier"
    assert win.files.save_as(path)
    saved = path.read_bytes()
    paint(win)

    def disk_full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(project_file, "write_atomic", disk_full)
    win.save_action.trigger()
    assert win.messages.kind == "error" and "No space left on device" in win.messages.text
    assert path.read_bytes() == saved and win.isWindowModified()


def test_opening_a_damaged_project_keeps_the_current_document(canvas_window, tmp_path):
    win = canvas_window
    bad = tmp_path / "bad.atelier"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    doc = win.session.doc
    assert not win.open_file(bad)
    assert win.messages.kind == "error" and "bad.atelier" in win.messages.text
    assert win.session.doc is doc


def test_closing_with_unsaved_changes_asks(canvas_window, qtbot):
    win = canvas_window
    paint(win)
    win.autosave.tick()
    qtbot.waitUntil(lambda: find_recovery_files(win.store.home) != [], timeout=WAIT_MS)
    seen: list[str] = []
    answer_next_dialog(Button.Cancel, seen)
    win.close()
    assert seen == ["Save the changes to Untitled?"] and win.isVisible()
    answer_next_dialog(Button.Discard, seen)
    win.close()
    assert len(seen) == 2 and not win.isVisible()
    assert find_recovery_files(win.store.home) == []  # discarded on purpose: no recovery


def test_closing_and_answering_save_saves(canvas_window, tmp_path):
    win = canvas_window
    path = tmp_path / "work.atelier"
    assert win.files.save_as(path)
    paint(win)
    expected = win.session.doc.composite()
    seen: list[str] = []
    answer_next_dialog(Button.Save, seen)
    win.close()
    assert seen == ["Save the changes to work.atelier?"] and not win.isVisible()
    assert np.array_equal(project_file.load_project(path).composite(), expected)


def test_autosave_writes_a_recovery_file_and_the_next_window_offers_it(
    canvas_window, qtbot, atelier_home, tiny_config_root, tmp_path
):
    win = canvas_window
    paint(win)
    future = win.autosave.tick()
    assert future is not None
    qtbot.waitUntil(future.done, timeout=WAIT_MS)
    (found,) = find_recovery_files(atelier_home)
    assert found.document_id == win.session.doc.id
    assert win.autosave.tick() is None  # nothing new to write
    expected = win.session.doc.composite()

    # a crash: the window goes away without its clean close, the recovery file stays
    win.autosave.stop()
    win.hide()
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    second = make_window(qtbot, diffusion_registry(), store, close=False)
    try:
        assert "can be recovered" in second.messages.text
        QTest.mouseClick(second.messages.action_button, Qt.MouseButton.LeftButton)  # Recover
        assert second.session.doc.id == found.document_id
        assert np.array_equal(second.session.doc.composite(), expected)
        assert second.isWindowModified()
    finally:
        close_window(second)
    assert find_recovery_files(atelier_home) == []  # the clean close removed it


def test_export_the_picture_and_one_layer(canvas_window, tmp_path):
    win = canvas_window
    paint(win)
    picture = win.files.export(tmp_path / "picture.webp")
    with Image.open(picture) as image:
        assert image.size == (64, 64) and image.format == "WEBP"
    layer = layer_named(win, "Paint")
    written = win.files.export(tmp_path / "paint.png", layer_id=layer.id)
    assert np.array_equal(np.asarray(Image.open(written).convert("RGBA")), layer.pixels.to_array())


def test_new_document_and_canvas_size(canvas_window):
    win = canvas_window
    assert win.files.new(new_document((300, 200), "White"))
    assert win.session.doc.size == (300, 200) and not win.isWindowModified()
    assert tuple(win.session.doc.composite()[199, 299]) == (255, 255, 255, 255)
    offset = anchor_offset((300, 200), (400, 300), 8)  # bottom-right stays put
    assert offset == (100, 100)
    assert win.selection_edits.resize((400, 300), offset)
    assert win.session.doc.size == (400, 300) and win.canvas.cache.size == (400, 300)
    assert win.session.doc.composite()[0, 0, 3] == 0 and win.session.doc.composite()[299, 399, 3]
    win.undo_action.trigger()
    assert win.session.doc.size == (300, 200)
