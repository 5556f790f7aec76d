"""`atelier export PROJECT.atelier -o film.mp4`: a project's timeline rendered as one video
(MP4, WebM, GIF or a PNG sequence, by the suffix), through the same export as the
Timeline panel (plugins/timeline/export.py).

Exit status: 0 when written, 1 when the timeline is empty or the film cannot be written,
2 when the project cannot be read or an option is wrong.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_FPS = 240  # what the video writer takes


def add_export_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `export` command to the `atelier` parser's subcommands."""
    export = subparsers.add_parser(
        "export",
        help="render a project's timeline as a video file",
        description=(
            "Render the timeline of a saved project as one video: .mp4 (H.264 with AAC "
            "sound), .webm (VP9 with Opus sound), .gif, or .png for a PNG sequence (a "
            "folder of numbered frames). The file appears only when it is complete."
        ),
    )
    export.add_argument("project", type=Path, help="a saved .atelier project")
    export.add_argument("-o", "--output", type=Path, required=True, help="the video to write")
    export.add_argument(
        "--fps", type=_positive_time, help="frames per second (default: the timeline's)"
    )
    export.add_argument("--width", type=_side, help="width in pixels (default: the timeline's)")
    export.add_argument("--height", type=_side, help="height in pixels (default: the timeline's)")
    export.add_argument(
        "--quality",
        default="medium",
        help="high, medium or small, or an encoder CRF (0-51 for MP4, 0-63 for WebM)",
    )
    export.add_argument("--start", type=_time, default=Fraction(0), help="seconds to start from")
    export.add_argument("--end", type=_time, help="seconds to end at (default: the timeline's end)")
    export.set_defaults(handler=run_export)
    return export


def run_export(args: argparse.Namespace) -> int:
    """Load the project, render its timeline and write it; returns the exit status."""
    from app.model.project_file import ProjectFileError, load_project
    from plugins.timeline.export import ExportSettings, export_frame_count, export_timeline
    from plugins.video_export.encoding import video_kind

    try:
        video_kind(args.output)
        settings = ExportSettings(
            args.output, args.fps, _size(args), _quality(args.quality), args.start, args.end
        )
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        doc = load_project(args.project)
    except (ProjectFileError, OSError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        total = export_frame_count(doc.timeline, settings)
    except ValueError as exc:
        return _fail(f"{args.project}: {exc}")
    progress = _Progress(total)
    try:
        written = export_timeline(doc.timeline, doc.media, settings, progress.show)
    except (ValueError, OSError) as exc:
        progress.end()
        return _fail(str(exc))
    progress.end()
    print(f"wrote {written}")
    return EXIT_OK


class _Progress:
    """Frames written, rewritten in place on stderr."""

    def __init__(self, total: int) -> None:
        self.total, self.shown = total, False

    def show(self, frames: int) -> None:
        if frames == self.total or frames % 10 == 0:
            print(f"\rexporting frame {frames}/{self.total}", end="", file=sys.stderr, flush=True)
            self.shown = True

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"atelier: error: {message}", file=sys.stderr)
    return code


def _time(text: str) -> Fraction:
    """Seconds as an exact fraction ("2.5", "5/2"), never negative."""
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seconds cannot be negative: {text}")
    return value


def _positive_time(text: str) -> Fraction:
    value = _time(text)
    if not 0 < value <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"the frame rate must be above 0 and at most {MAX_FPS}")
    return value


def _side(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of pixels: {text!r}") from None
    if not 1 <= value <= 16384:
        raise argparse.ArgumentTypeError(f"a side must be 1-16384 pixels, not {value}")
    return value


def _size(args: argparse.Namespace) -> tuple[int, int] | None:
    if args.width is None and args.height is None:
        return None
    if args.width is None or args.height is None:
        raise ValueError("give both --width and --height (or neither, for the timeline's size)")
    return (args.width, args.height)


def _quality(text: str) -> str | int:
    """A quality word or a CRF number; ValueError for anything else."""
    from plugins.video_export.encoding import QUALITIES

    if text.strip().isdigit():
        return int(text)
    if text not in QUALITIES:
        raise ValueError(f"--quality must be one of {', '.join(QUALITIES)} or a CRF number")
    return text
