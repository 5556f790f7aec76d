"""Reuse settings in the window from other generators' pictures: File > Open offers them
naming the generator, a picture dropped on the Generate panel loads them at once, and
what Atelier has no setting for is said plainly."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.main_window import MainWindow
from tests.fixtures.metadata import build_fixtures
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)

FIXTURES = Path(build_fixtures.__file__).parent


@pytest.fixture
def window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):  # noqa: F811
    win = make_window(
        qtbot, diffusion_registry(), make_store(atelier_home, tmp_path, tiny_config_root), False
    )
    yield win
    close_window(win)


def drop(target: QWidget, path: Path) -> bool:
    """Drag a file onto `target` and drop it, as from a file manager; whether the drop
    was taken."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, event)
    return event.isAccepted()


def test_open_offers_another_generators_settings_and_says_what_is_left_out(
    window: MainWindow, qtbot
):
    assert window.open_file(FIXTURES / "fooocus" / "fooocus_scheme.png")
    assert "made with Fooocus v2.5.5" in window.messages.text
    qtbot.mouseClick(window.messages.action_button, Qt.MouseButton.LeftButton)
    values = window.prompt_panel.form.values()
    assert values["prompt"].startswith("a smiling goldfish")
    assert (values["steps"], values["cfg_scale"], values["scheduler"]) == (30, 4.0, "Euler a")
    assert (values["width"], values["height"]) == (896, 1152)
    text = window.messages.text
    assert "Atelier has no setting for these, so they were left out" in text
    assert "sharpness (2)" in text and "Schedule type (karras)" in text


def test_a_picture_dropped_on_the_prompt_loads_its_settings_at_once(window):
    prompt_box = window.prompt_panel.form.widgets["prompt"]
    target = prompt_box.viewport() if hasattr(prompt_box, "viewport") else prompt_box
    assert drop(target, FIXTURES / "novelai" / "novelai.png")
    values = window.prompt_panel.form.values()
    assert values["prompt"] == "1girl, reading, library"
    assert values["negative_prompt"] == "lowres, bad anatomy"
    assert (values["steps"], values["cfg_scale"], values["scheduler"]) == (28, 5.0, "Euler a")
    assert "Cfg rescale (0.0)" in window.messages.text


def test_an_unknown_sampler_is_named_as_not_loaded(window):
    assert drop(window.prompt_panel, FIXTURES / "fooocus" / "fooocus_a1111_scheme.png")
    assert window.prompt_panel.form.value("prompt") == "a paper boat"
    assert window.prompt_panel.form.value("seed") == 42
    text = window.messages.text
    assert "Settings loaded, except: " in text and "scheduler ('DPM++ 2M SDE')" in text
    assert "so they were left out: Schedule type (Karras)" in text


def test_a_dropped_picture_without_settings_says_so(window, tmp_path):
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    assert drop(window.prompt_panel, plain)
    assert "plain.png holds no generation settings" in window.messages.text
    text_file = tmp_path / "notes.txt"
    text_file.write_text("x")
    assert not drop(window.prompt_panel, text_file)
