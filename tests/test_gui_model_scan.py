"""The model store is scanned off the GUI thread: the window shows and stays responsive
while a scan runs (a .ckpt is opened with torch, a network folder may be slow), the picker
says it is looking and fills when the scan is in; quitting during a scan does not hang."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from app.ui.main_window import MainWindow
from engine.model_scan import FolderScan
from engine.model_store import ModelStore
from engine.worker import Engine
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    diffusion_registry,
    make_store,
    qt_loop,
    wait_for_models,
)

ROOT = Path(__file__).resolve().parent.parent
LOOKING = "Looking for models\N{HORIZONTAL ELLIPSIS}"


class BlockedScans:
    """Scans that wait for `release` before they finish, recording the thread they ran on."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def wrap(self, models):
        def blocked(scan: FolderScan, *args):
            self.threads.append(threading.current_thread())
            self.started.set()
            assert self.release.wait(WAIT_MS / 1000), "the test never released the scan"
            return models(scan, *args)

        return blocked


@pytest.fixture
def blocked_scans(monkeypatch):
    scans = BlockedScans()
    monkeypatch.setattr(FolderScan, "models", scans.wrap(FolderScan.models))
    yield scans
    scans.release.set()  # whatever happened, no scan thread stays blocked


def new_window(store: ModelStore) -> MainWindow:
    """A shown window, without waiting for its model scan (make_window waits)."""
    registry = diffusion_registry()
    window = MainWindow(registry, store, Engine(registry.tasks, store=store))
    window.show()
    return window


def picker_names(window: MainWindow) -> list[str]:
    picker = window.prompt_panel.model_picker
    return [picker.itemData(i) for i in range(picker.count())]


@pytest.mark.usefixtures("qt_loop")
def test_the_window_shows_before_a_blocked_scan_and_fills_the_picker_after_it(
    qtbot, atelier_home, tmp_path, blocked_scans
):
    window = new_window(make_store(atelier_home, tmp_path))
    try:
        assert blocked_scans.started.wait(10)
        ticks = []
        QTimer.singleShot(10, lambda: ticks.append("tick"))
        qtbot.waitUntil(lambda: ticks == ["tick"], timeout=5000)  # the GUI loop runs meanwhile
        panel = window.prompt_panel
        assert window.isVisible() and window.scanning_models
        assert panel.model_picker.currentText() == LOOKING
        assert not panel.generate_button.isEnabled()
        assert window.stack.currentWidget() is window.prompt_scroll  # not "no models" yet
        assert blocked_scans.threads[0] is not threading.main_thread()

        blocked_scans.release.set()
        wait_for_models(window, qtbot)
        assert picker_names(window) == [
            "tiny-sd15",
            "tiny-sd15-single",
            "tiny-sdxl",
            "tiny-sdxl-single",
        ]
        assert panel.model_name() == "tiny-sd15" and panel.generate_button.isEnabled()
    finally:
        close_window(window)


@pytest.mark.usefixtures("qt_loop")
def test_rescan_and_an_added_folder_keep_the_picker_until_the_scan_is_in(
    qtbot, atelier_home, tmp_path, tiny_models, blocked_scans
):
    blocked_scans.release.set()
    window = new_window(make_store(atelier_home, tmp_path))
    try:
        wait_for_models(window, qtbot)
        before = picker_names(window)
        blocked_scans.release.clear()
        blocked_scans.started.clear()
        comfy = tmp_path / "ComfyUI" / "models" / "checkpoints"
        shutil.copytree(tiny_models / "tiny-sd15", comfy / "comfy-model")
        assert window.add_model_folder(tmp_path / "ComfyUI")  # returns while the scan waits
        assert blocked_scans.started.wait(10)
        window.refresh_models()  # Rescan during the scan: one more scan after it
        assert picker_names(window) == before and window.scanning_models
        assert window.prompt_panel.generate_button.isEnabled()  # the old list stays usable

        blocked_scans.release.set()
        wait_for_models(window, qtbot)
        assert picker_names(window) == sorted([*before, "comfy-model"], key=str.casefold)
        assert len(blocked_scans.threads) == 3  # the first scan, the added folder, Rescan
        assert "1 new checkpoint(s)" in window.statusBar().currentMessage()
    finally:
        close_window(window)


@pytest.mark.usefixtures("qt_loop")
def test_an_empty_home_shows_how_to_add_models_once_the_scan_is_in(qtbot, tmp_path, blocked_scans):
    window = new_window(make_store(tmp_path / "empty-home", tmp_path))
    try:
        assert window.stack.currentWidget() is window.prompt_scroll  # still looking
        blocked_scans.release.set()
        wait_for_models(window, qtbot)
        assert window.stack.currentWidget() is window.empty_state
    finally:
        close_window(window)


QUIT_WHILE_SCANNING = """
import sys, threading
sys.path.insert(0, {root!r})
from app.ui.main_window import MainWindow
from engine.model_scan import FolderScan
from engine.worker import Engine
FolderScan.models = lambda *args: threading.Event().wait()  # a scan that never ends
from PySide6.QtCore import QTimer
from app.ui.launch import make_app
from app.ui.main_window import MainWindow

app = make_app([])

def close():
    window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    print("picker:", window.prompt_panel.model_picker.currentText(), flush=True)
    window.close()

QTimer.singleShot(300, close)
from app.cli import main
sys.exit(main([]))
"""


def test_quitting_during_a_scan_does_not_hang(tmp_path):
    env = {
        **os.environ,
        "ATELIER_HOME": str(tmp_path),
        "HF_HUB_CACHE": str(tmp_path / "no-hf-cache"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    result = subprocess.run(
        [sys.executable, "-c", QUIT_WHILE_SCANNING.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"picker: {LOOKING}" in result.stdout
