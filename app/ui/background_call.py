"""One slow call (a server asked over the network) on a thread of its own, its answer posted
back to the GUI thread as a signal, so the window never waits for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class BackgroundCall(QObject):
    """`start(key, function, *args)` runs `function(*args)` on a daemon thread; `answered`
    arrives on the GUI thread with the key, the result and "", or None and what went wrong in a
    sentence. Calls may overlap; the key tells their answers apart."""

    answered = Signal(object, object, str)  # key, result (None on failure), error ("" if none)

    def start(self, key: Any, function: Callable[..., Any], *args: Any) -> None:
        threading.Thread(
            target=self._call, args=(key, function, args), name="atelier-call", daemon=True
        ).start()

    def _call(self, key: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        result, error = None, ""
        try:
            result = function(*args)
        except (OSError, ValueError) as exc:  # unreachable, refused, a bad answer
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug must not leave the caller waiting
            log.exception("a background call failed")
            error = str(exc) or type(exc).__name__
        try:
            self.answered.emit(key, result, error)  # queued to the GUI thread
        except RuntimeError:  # the widget that asked is gone
            log.debug("a background call answered after its widget closed")
