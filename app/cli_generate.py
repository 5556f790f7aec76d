"""`atelier generate` (and img2img, inpaint, outpaint): run a task on the inline engine and
write the PNGs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.file_writing import write_failure
from engine.home import atelier_home
from engine.protocol import Event, ImageData, JobFailed, JobFinished, JobProgress

if TYPE_CHECKING:
    from engine.model_store import ModelStore

TXT2IMG = "diffusion.txt2img"


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


def run_generate(
    params: object,
    output: Path,
    fail: Callable[[str, int], int],
    task: str = TXT2IMG,
    store: ModelStore | None = None,
) -> int:
    """Run `task` with `params` and save its images to `output` (numbered for a batch);
    `store`: the model store the engine uses (default: a fresh scan)."""
    from engine.worker import InlineEngine
    from plugins.registry import discover

    if output.suffix.lower() != ".png":
        return fail(f"the output must be a .png file, not {output.name}", 2)
    problem = check_writable(output.parent.resolve())
    if problem:
        return fail(problem, 2)
    engine = InlineEngine.from_registry(discover(), store=store)
    engine.subscribe(_print_progress)
    event = engine.submit(task, params).future.result()
    print(file=sys.stderr)
    if isinstance(event, JobFailed):
        return fail(event.message, 1)
    if not isinstance(event, JobFinished):
        return fail("cancelled", 1)
    for warning in event.warnings:
        print(f"atelier: note: {warning}", file=sys.stderr)
    return _save_all(event.outputs, output_paths(output, len(event.outputs)), fail)


def _save_all(images: tuple, paths: list[Path], fail: Callable[[str, int], int]) -> int:
    """Write each image; one that cannot be written goes to the rescue folder instead. When
    that fails too (the disk is full), stop with one message naming both failures: the
    images already written stay."""
    from app.model.image_files import ImageWriteError, save_generated_png

    code = 0
    for number, (image, path) in enumerate(zip(images, paths, strict=True), 1):
        assert isinstance(image, ImageData)
        try:
            written = save_generated_png(path, image)
        except ImageWriteError as exc:
            try:
                written = save_generated_png(rescue_path(path), image)
            except (ImageWriteError, OSError) as rescue_exc:
                return fail(_not_saved(exc, rescue_exc, number, len(paths)), 1)
            code = fail(f"{exc}; saved it to {written} instead", 1)
        print(f"{written}  seed {image.meta['recipe']['params']['seed']}")
    return code


def _not_saved(exc: Exception, rescue_exc: Exception, number: int, count: int) -> str:
    reason = write_failure(rescue_exc) if isinstance(rescue_exc, OSError) else str(rescue_exc)
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


def _print_progress(event: Event) -> None:
    if isinstance(event, JobProgress):
        print(f"\r{event.stage:32} {event.fraction:6.0%}", end="", file=sys.stderr, flush=True)
