"""The sample plugin (tests/plugin_sample) in the window, found only through its entry point:
its task is a Generate mode with its own fields, its results become candidates and layers,
and its panel docks and works through the AppContext; nothing in app/ or engine/ names it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.tiles import Rect
from plugins.registry import discover
from tests.canvas_helpers import small_document
from tests.image_checks import psnr
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    make_store,
    make_window,
    qt_loop,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "plugin_sample"
STRIPES = "sample.stripes"
BLUE = (30, 60, 220)


def stripes(width: int, height: int, count: int, rgb: tuple[int, int, int]) -> np.ndarray:
    """What the sample task paints: `count` vertical bands, every other one in `rgb`."""
    pixels = np.full((height, width, 4), 255, np.uint8)
    band = width / count
    for number in range(0, count, 2):
        pixels[:, int(number * band) : int((number + 1) * band), :3] = rgb
    return pixels


def looks_like(pixels: np.ndarray, expected: np.ndarray) -> bool:
    """The same picture, give or take an invisible mark."""
    return pixels.shape == expected.shape and psnr(pixels[..., :3], expected[..., :3]) > 35


@pytest.fixture
def sample_window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path, monkeypatch):  # noqa: F811
    """The window of every installed plugin, the sample one included, on a 64x64 canvas."""
    monkeypatch.syspath_prepend(str(SAMPLE))
    registry = discover()
    assert STRIPES in registry.tasks
    window = make_window(qtbot, registry, make_store(atelier_home, tmp_path, tiny_config_root))
    window.files.new(small_document())
    yield window
    close_window(window)


def mode_button(window, task_id: str):
    return next(
        b for b in window.prompt_panel.mode_buttons.buttons() if b.objectName() == f"mode_{task_id}"
    )


def test_the_generate_panel_offers_stripes_with_its_own_fields(sample_window):
    panel = sample_window.prompt_panel
    assert [t.title for t in panel.modes][-1] == "Stripes"  # order 900: after the built-ins
    button = mode_button(sample_window, STRIPES)
    assert button.text() == "Stripes" and "stripes in two colours" in button.toolTip()

    panel.model_about.setText("Draws kites over hills.")  # as a model with an "about" line
    panel.model_about.show()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    form = panel.mode_forms.forms[STRIPES]
    assert panel.mode == STRIPES and panel.mode_forms.currentWidget() is form
    assert list(form.basic.widgets) == ["stripes", "colour"]
    assert list(form.advanced.widgets) == ["width", "height"]
    assert form.basic.isVisible() and not form.advanced.isVisible()
    QTest.mouseClick(form.more, Qt.MouseButton.LeftButton)
    assert form.advanced.isVisible()
    # the diffusion settings (prompt, steps, size, model) are not the sample task's
    assert not panel.form.isVisible() and not panel.model_row.isVisible()
    assert not panel.model_about.isVisible()  # the model's own line goes with its picker

    QTest.mouseClick(mode_button(sample_window, "diffusion.txt2img"), Qt.MouseButton.LeftButton)
    assert panel.form.isVisible() and panel.model_row.isVisible() and panel.model_about.isVisible()
    assert panel.form.widgets["prompt"].isVisible() and not panel.mode_forms.isVisible()


def test_generating_stripes_gives_a_candidate_that_applies_as_an_undoable_layer(
    sample_window, qtbot
):
    win = sample_window
    QTest.mouseClick(mode_button(win, STRIPES), Qt.MouseButton.LeftButton)
    win.prompt_panel.mode_forms.forms[STRIPES].set_values(
        {"stripes": 4, "colour": "blue", "width": 32, "height": 16}
    )
    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS):
        QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.generation.running, timeout=WAIT_MS)

    candidate = win.results.current
    assert candidate.title == "Stripes"
    assert looks_like(candidate.image.pixels, stripes(32, 16, 4, BLUE))
    assert candidate.rect_now() == Rect(0, 0, 32, 16)
    before = win.session.doc.composite()

    layer = win.apply_candidate()
    assert layer.name == "Stripes" and win.history_panel.labels()[-1] == "Generate: stripes"
    assert looks_like(win.session.doc.composite(Rect(0, 0, 32, 16)), stripes(32, 16, 4, BLUE))
    win.undo_action.trigger()
    assert layer not in list(win.session.doc.walk())
    assert np.array_equal(win.session.doc.composite(), before)


def test_the_sample_panel_docks_and_its_button_adds_a_layer(sample_window, qtbot):
    win = sample_window
    dock = win.plugin_docks["sample.stripes_panel"]
    panel = dock.widget()
    assert dock.isVisible() and dock.windowTitle() == "Stripes"
    size = "Canvas: 64 \N{MULTIPLICATION SIGN} 64"  # the fixture's document, not the first one
    qtbot.waitUntil(lambda: panel.size_label.text() == size, timeout=WAIT_MS)

    count = len(list(win.session.doc.walk()))
    QTest.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(list(win.session.doc.walk())) == count + 1, timeout=WAIT_MS)
    qtbot.waitUntil(panel.button.isEnabled, timeout=WAIT_MS)
    layer = win.session.doc.layers[-1]
    assert layer.name == "Stripes" and win.history_panel.labels()[-1] == "Add stripes"
    assert looks_like(layer.pixels.to_array(), stripes(64, 64, 4, (220, 30, 30)))
    win.undo_action.trigger()
    assert len(list(win.session.doc.walk())) == count


def test_no_window_or_engine_module_names_the_sample_plugin_and_no_ui_a_task_id(sample_window):
    registry = sample_window.registry
    plugin = next(p for p in registry.plugins if p.id == "sample")
    names = ["atelier_sample_plugin", "stripes", *(p.id for p in plugin.panels)]
    task_ids = list(registry.tasks)
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "engine").rglob("*.py")]:
        text = path.read_text()
        assert not [name for name in names if name in text.lower()], path
        if path.parent.name == "ui":
            assert not [i for i in task_ids if f'"{i}"' in text], path
