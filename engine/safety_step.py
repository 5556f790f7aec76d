"""The safety and provenance step that the engine runs on every job itself.

It is not a job hook: no plugin can remove, displace or replace it, whatever the registry
holds. The prompt check runs before every plugin's `before` hook; the output check,
watermark and provenance record run after every plugin's `after` hook, so nothing undoes
them; every preview passes the output check after the plugins' `preview` hooks. Any
failure of the step (its module failing to import included) fails the job with a message
saying so; it is never skipped. The checks themselves live in plugins.provenance.marking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.protocol import ImageData, JobCancelledError, JobError, Output
from plugins.api import resolve

MARKING = "plugins.provenance.marking"


def check_request(task_id: str, params: Any) -> None:
    """The prompt check: JobError("blocked_by_safety") refuses the job."""
    _run("before_job", task_id, params)


def check_outputs(
    task_id: str, params: Any, outputs: Sequence[Output], ctx: Any
) -> tuple[tuple[Output, ...], tuple[str, ...]]:
    """The output check, watermark and provenance record of every output: (the outputs to
    deliver, warnings)."""
    kept, warnings = _run("after_job", task_id, params, outputs, ctx)
    return tuple(kept), tuple(warnings)


def check_preview(task_id: str, params: Any, image: ImageData) -> ImageData | None:
    """The output check of a live preview: the preview to show (perhaps blurred), or None."""
    return _run("check_preview", task_id, params, image)


def prepare() -> None:
    """Start the output checkers now (the engine's warm-up), not within the first job."""
    _run("prepare")


def _run(function: str, *args: Any) -> Any:
    try:
        return resolve(f"{MARKING}:{function}")(*args)
    except (JobError, JobCancelledError):
        raise
    except Exception as exc:
        raise JobError(
            "internal",
            f"The safety and provenance step failed ({type(exc).__name__}: {exc}), "
            "so nothing was delivered. Reinstall Atelier if this happens again.",
        ) from exc
