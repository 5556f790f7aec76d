"""The window's startup and GUI checks in an interpreter where torch, diffusers and
transformers cannot be imported (DESIGN.md rule 2, proven the way napari proves its Qt-free
core). tests/test_gui_without_torch.py runs it in a subprocess:

    python tests/gui_without_torch.py HOME

Opens the window offscreen on the built-in demo model (resources/models), waits for the
model list, paints a stroke, saves the picture as a .atelier project and opens it again;
prints "ok" when all of that worked and none of the blocked packages was imported.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.import_blocker import ENGINE_ONLY, block_imports, leaked  # noqa: E402

block_imports(ENGINE_ONLY)  # before anything else is imported

import asyncio  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import qasync  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app.ui.launch import make_app  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.size_dialogs import new_document  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.worker import Engine  # noqa: E402
from plugins.registry import discover  # noqa: E402
from tests.canvas_input import drag  # noqa: E402

DEMO_MODEL = "atelier-demo"
WAIT_S = 60


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Run the Qt loop until `condition()` holds; fail after WAIT_S seconds."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        QTest.qWait(10)


def open_window(home: Path) -> MainWindow:
    """The window as `atelier` opens it: every registered plugin, the built-in models."""
    registry = discover()
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "no-hf-cache")
    window = MainWindow(registry, store, Engine.from_registry(registry, store=store))
    window.show()
    wait_until(window.isVisible, "the window to show")
    return window


def check_model_list(window: MainWindow) -> None:
    wait_until(lambda: not window.scanning_models, "the model list")
    panel = window.prompt_panel
    names = [panel.model_picker.itemData(i) for i in range(panel.model_picker.count())]
    assert DEMO_MODEL in names, names
    assert panel.model_name() == DEMO_MODEL and panel.generate_button.isEnabled()
    assert window.stack.currentWidget() is window.prompt_scroll


def paint_a_stroke(window: MainWindow) -> np.ndarray:
    """A red stroke across a white 64x64 picture with the brush; the picture after it."""
    window.files.new(new_document((64, 64), "White"))
    window.canvas.actions_by_name["fit"].trigger()
    window.toolbox.choose("brush")
    window.canvas.settings.color = (200, 30, 30)
    before = window.session.doc.composite()
    drag(window, [(8, 32), (32, 32), (56, 32)])
    after = window.session.doc.composite()
    changed = np.any(after != before, axis=2)
    assert changed[32, 8:56].all() and not changed[:16].any(), "the stroke is not where drawn"
    assert tuple(after[32, 32, :3]) == (200, 30, 30)
    return after


def save_and_open(window: MainWindow, painted: np.ndarray, path: Path) -> None:
    assert window.files.save_as(path) and path.is_file()
    window.files.new(new_document((32, 32), "White"))
    assert window.open_file(path)
    assert np.array_equal(window.session.doc.composite(), painted)


def main(home: Path) -> None:
    app = make_app([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = open_window(home)
    try:
        check_model_list(window)
        painted = paint_a_stroke(window)
        save_and_open(window, painted, home / "stroke.atelier")
    finally:
        window.session.history.mark_clean()
        window.close()
        window.shutdown_engine()
    assert not leaked(ENGINE_ONLY), leaked(ENGINE_ONLY)
    print("ok")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
