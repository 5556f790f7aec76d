"""Writing media files with the ffmpeg that imageio-ffmpeg ships: the parts video export
(plugins/video_export) and audio export (plugins/audio_export) share.

The binary (which verify decodes with too), the check that the target's folder exists,
and failures as OSErrors that name the file and say what to do (a full disk, a read-only
folder), with the system's error number where ffmpeg's log names one.
"""

from __future__ import annotations

import errno
from pathlib import Path

from engine.file_writing import write_failure

_ERRNO_WORDS = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Permission denied": errno.EACCES,
    "Read-only file system": errno.EROFS,
}


class MediaWriteError(OSError):
    """A media file could not be written; the message names the path and the reason (and
    `errno` is set where the system gave one)."""


def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary imageio-ffmpeg ships."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def check_folder(path: Path, error_type: type[MediaWriteError] = MediaWriteError) -> None:
    """Refuse, before any work, a target whose folder is missing or is a file."""
    parent = path.parent
    if not parent.is_dir():
        missing = not parent.exists()
        error = error_type(
            f"cannot write {path}: {parent} {'does not exist' if missing else 'is not a folder'}"
        )
        error.errno = errno.ENOENT if missing else errno.ENOTDIR
        raise error


def write_error(
    path: Path, exc: OSError, error_type: type[MediaWriteError] = MediaWriteError
) -> MediaWriteError:
    """`exc` as an error naming `path`, the reason and what to do."""
    error = error_type(f"cannot write {path}: {write_failure(exc)}")
    error.errno = exc.errno
    return error


def ffmpeg_error(log: str, what: str) -> OSError:
    """What ffmpeg's log says went wrong encoding `what` ("the video"), with the system's
    error number where it names one."""
    for words, number in _ERRNO_WORDS.items():
        if words in log:
            return OSError(number, words)
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return OSError(f"ffmpeg could not encode {what} ({lines[-1] if lines else 'no reason given'})")
