"""PySide6's import hook skips its source scan for modules first imported off the GUI thread.

Once PySide6.QtCore is imported it replaces `__import__`, and after the first import of
every module it reads that module's whole source (`inspect.getsource`) to learn whether it
uses PySide6, for PySide's opt-in `from __feature__ import ...` switches. Atelier never uses
those switches, and by design only UI modules import Qt, on the GUI thread; the engine
thread imports torch, diffusers and transformers, thousands of modules whose source was
read for nothing (about a tenth of the engine's warm-up on the CPU, 0.7 s of 7). Off the
GUI thread a module is now taken as not using PySide6, which is what the scan would find;
on the GUI thread PySide6 scans as before. Where PySide6 has no such hook nothing changes.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

FEATURE_MODULE = "shibokensupport.feature"  # where PySide6 keeps the hook's scan
SCAN = "_mod_uses_pyside"


def scan_on_gui_thread_only() -> bool:
    """Call on the GUI thread after importing PySide6; whether the hook was found."""
    feature = sys.modules.get(FEATURE_MODULE)
    scan = getattr(feature, SCAN, None)
    if scan is None:
        return False
    if getattr(scan, "gui_thread_only", False):
        return True
    gui = threading.current_thread()

    def uses_pyside(module: ModuleType) -> bool:
        return threading.current_thread() is gui and scan(module)

    uses_pyside.gui_thread_only = True  # type: ignore[attr-defined]
    setattr(feature, SCAN, uses_pyside)
    return True
