"""Makes packages unimportable in this interpreter, to prove that a layer does without them
(DESIGN.md rules 1 and 2). Imports nothing but the standard library."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterable

ENGINE_ONLY = frozenset({"torch", "diffusers", "transformers"})  # torch stays in the engine
GUI_ONLY = frozenset({"PySide6", "shiboken6", "qasync"})  # Qt stays in the GUI


class _Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, blocked: Iterable[str]) -> None:
        self.blocked = frozenset(blocked)

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in self.blocked:
            raise ImportError(f"{name} is forbidden here")


def block_imports(blocked: Iterable[str]) -> None:
    """From now on, importing any of the `blocked` top-level packages raises ImportError
    (call it before anything imports them)."""
    sys.meta_path.insert(0, _Refuse(blocked))


def leaked(blocked: Iterable[str]) -> list[str]:
    """The modules of the `blocked` packages that are imported all the same."""
    names = frozenset(blocked)
    return sorted(m for m in sys.modules if m.split(".")[0] in names)
