"""PySide6's import hook reads a new module's source only on the GUI thread."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6 import QtCore  # noqa: F401 (installs PySide6's import hook)

from app.ui.pyside_import_scan import FEATURE_MODULE, SCAN, scan_on_gui_thread_only

feature = sys.modules.get(FEATURE_MODULE)
pytestmark = pytest.mark.skipif(
    not hasattr(feature, SCAN), reason="this PySide6 has no import hook scan"
)
SOURCE = "from PySide6 import QtCore\n\nNAME = QtCore.__name__\n"


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Two new importable modules whose source uses PySide6 (imported by `__import__`, as an
    import statement does: the hook is there), and a record of their scans."""
    for name in ("scan_gui_side", "scan_worker_side"):
        (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    scanned: list[str] = []  # the modules of ours the scan read
    original = getattr(feature, SCAN)

    def recording(module):
        if module.__name__.startswith("scan_"):
            scanned.append(module.__name__)
        return original(module)

    monkeypatch.setattr(feature, SCAN, recording)
    yield scanned
    for name in ("scan_gui_side", "scan_worker_side"):
        sys.modules.pop(name, None)
        feature.pyside_feature_dict.pop(name, None)


def test_a_module_imported_on_a_worker_thread_is_not_scanned(modules):
    assert scan_on_gui_thread_only()
    worker = threading.Thread(target=lambda: __import__("scan_worker_side"))
    worker.start()
    worker.join()
    __import__("scan_gui_side")
    assert modules == ["scan_gui_side"]
    assert feature.pyside_feature_dict["scan_worker_side"] == -1
    assert feature.pyside_feature_dict["scan_gui_side"] == 0  # found using PySide6


def test_installing_twice_wraps_once(modules):
    assert scan_on_gui_thread_only() and scan_on_gui_thread_only()
    __import__("scan_gui_side")
    assert modules == ["scan_gui_side"]
