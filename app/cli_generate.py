"""A task's `atelier` subcommand at work: run the task on the inline engine and write its
outputs through the chosen exporter, numbered for a batch, rescued when a write fails."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.file_writing import write_failure
from engine.home import atelier_home
from engine.protocol import Event, JobFailed, JobFinished, JobProgress
from plugins.api import Exporter
from plugins.exporters import export

if TYPE_CHECKING:
    from engine.model_store import ModelStore
    from plugins.registry import Registry

Fail = Callable[[str, int], int]  # prints "atelier: error: ..." and returns the exit status


def output_paths(output: Path, count: int) -> list[Path]:
    """`out.png` for one image; `out-1.png`, `out-2.png`, ... for a batch."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, count + 1)]


def check_writable(folder: Path) -> str | None:
    """Why files cannot be written into `folder`, or None; checked before a long job."""
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    probe = folder / f".atelier-write-test-{time.time_ns()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot write into {folder}: {exc.strerror or exc}"
    return None


def run_task(
    registry: Registry,
    task: str,
    params: object,
    output: Path,
    exporter: Exporter,
    fail: Fail,
    store: ModelStore | None = None,
    engine: Any = None,
) -> int:
    """Run `task` with `params` on an engine of `registry`'s tasks and hooks, and write its
    outputs to `output` (numbered for a batch) with `exporter`; `store`: the model store
    the engine uses (default: a fresh scan); `engine`: another engine to run it on (a
    backend's, e.g. servers), shut down at the end."""
    from engine.worker import InlineEngine

    problem = check_writable(output.parent.resolve())
    if problem:
        return fail(problem, 2)
    # a terminal shows no previews: none is made or checked (engine.preview_pace)
    engine = engine or InlineEngine.from_registry(registry, store=store, preview_interval_s=None)
    progress = ProgressLine()
    engine.subscribe(progress.show)
    handle = engine.submit(task, params)
    try:
        event = handle.future.result()
    except KeyboardInterrupt:  # Ctrl+C: take the job off a server too, then stop
        engine.cancel(handle.id)
        raise
    finally:
        engine.shutdown(wait=True, timeout=5.0)
    progress.end()
    if isinstance(event, JobFailed):
        return fail(event.message, 1)
    if not isinstance(event, JobFinished):
        return fail("cancelled", 1)
    for warning in event.warnings:
        print(f"atelier: note: {warning}", file=sys.stderr)
    paths = output_paths(output, len(event.outputs))
    return _save_all(event.outputs, paths, exporter, fail)


def _save_all(outputs: tuple, paths: list[Path], exporter: Exporter, fail: Fail) -> int:
    """Write each output; one that cannot be written goes to the rescue folder instead. When
    that fails too (the disk is full), stop with one message naming both failures: the
    outputs already written stay. An output the exporter refuses (ValueError) stops there."""
    code = 0
    for number, (made, path) in enumerate(zip(outputs, paths, strict=True), 1):
        try:
            written = export(exporter, path, made)
        except OSError as exc:
            try:
                written = export(exporter, rescue_path(path), made)
            except OSError as rescue_exc:
                return fail(_not_saved(exc, rescue_exc, number, len(paths)), 1)
            code = fail(f"{exc}; saved it to {written} instead", 1)
        except ValueError as exc:
            return fail(f"{path} was not written: {exc}", 1)
        print(f"{written}{_seed_note(made)}")
    return code


def _seed_note(made: Any) -> str:
    """The seed, as printed after the file name, when the output's recipe holds one."""
    recipe = made.meta.get("recipe")
    params = recipe.get("params") if isinstance(recipe, Mapping) else None
    seed = params.get("seed") if isinstance(params, Mapping) else None
    return f"  seed {seed}" if seed is not None else ""


def _not_saved(exc: OSError, rescue_exc: OSError, number: int, count: int) -> str:
    reason = write_failure(rescue_exc)
    lost = f"images {number} to {count} were" if count > number else "the image was"
    kept = f"; the first {number - 1} are saved" if number > 1 else ""
    return (
        f"{exc}, and the rescue copy failed too ({reason}): {lost} not saved{kept}; "
        "free some disk space and run the command again"
    )


def rescue_path(path: Path) -> Path:
    """Where an image goes when its own path fails (disk full, folder removed mid-job);
    OSError when that folder cannot be made."""
    folder = atelier_home() / "rescued"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"


class ProgressLine:
    """The job's stage and share done, rewritten in place on stderr."""

    def __init__(self) -> None:
        self.shown = False

    def show(self, event: Event) -> None:
        if isinstance(event, JobProgress):
            print(f"\r{event.stage:32} {event.fraction:6.0%}", end="", file=sys.stderr, flush=True)
            self.shown = True

    def end(self) -> None:
        """End the progress line, where there is one: a job refused before it started
        prints its error with no blank line above."""
        if self.shown:
            print(file=sys.stderr)
            self.shown = False
