"""Run a reader on a hostile input in a child process with a time and a memory limit.

A reader that hangs (a FIFO, a quadratic regex in C code that no signal interrupts) or
allocates gigabytes must fail the test, not the machine: each call forks a child that
sets its own address-space limit, and the parent kills it when the time is up. What the
child returns, or raises, comes back as an Outcome.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """How a limited call ended: "ok" (value), "error" (error_type, message, trace),
    "timeout" or "crash" (killed by a signal, or out of memory: detail says which)."""

    kind: str
    value: Any = None
    error_type: str = ""
    message: str = ""
    trace: str = ""
    detail: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.kind == "error":
            return f"{self.error_type}: {self.message}\n{self.trace}"
        return f"{self.kind} {self.detail or self.value!r}"[:2000]


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def run_limited(
    fn: Callable[..., Any], *args: Any, seconds: float = 20, memory_mb: int = 1500
) -> Outcome:
    """fn(*args) in a forked child allowed `seconds` of wall time and `memory_mb` more
    address space than the parent has now."""
    read_end, write_end = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            limit = _vm_size() + memory_mb * MiB
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                result = ("ok", _picklable(fn(*args)), "", "", "")
            except MemoryError:
                result = ("crash", None, "", "", "MemoryError")
            except BaseException as exc:  # noqa: BLE001 - everything is reported
                trace = traceback.format_exc(limit=-6)
                result = ("error", None, type(exc).__name__, str(exc), trace)
            payload = pickle.dumps(result)
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    data, deadline = b"", start + seconds
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome("timeout", detail=f"still running after {seconds} s")
            ready, _, _ = select.select([pipe], [], [], left)
            if ready:
                chunk = pipe.read(1 << 20)
                if not chunk:
                    break
                data += chunk
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - start
    if not data:
        return Outcome("crash", detail=f"child ended with status {status}", seconds=elapsed)
    kind, value, error_type, message, trace = pickle.loads(data)
    return Outcome(
        kind, value, error_type, message, trace, trace if kind == "crash" else "", elapsed
    )


def _picklable(value: Any) -> Any:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001
        return repr(value)[:2000]
    return value


def assert_clean_error(outcome: Outcome, *types: str, mentions: str = "") -> None:
    """The call ended in one of the named exception types, with a one-line message that
    names `mentions` (a file name, usually); a traceback, a hang or a crash fails."""
    assert outcome.kind == "error", f"expected a clean error, got {outcome}"
    assert outcome.error_type in types, f"unexpected {outcome}"
    assert outcome.message.strip(), f"empty message: {outcome}"
    assert "Traceback" not in outcome.message
    if mentions:
        assert mentions in outcome.message, f"{mentions!r} not named in: {outcome.message}"


def assert_handled(outcome: Outcome, *types: str) -> None:
    """Either the call worked or it ended in one of the named clean errors."""
    if outcome.kind != "ok":
        assert_clean_error(outcome, *types)
