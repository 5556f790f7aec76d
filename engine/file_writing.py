"""How Atelier writes every file: atomically, with the permissions a file should have, and
cleaning up what a killed write left behind.

`write_atomic` writes a temporary file beside the target and renames it over the target,
so a crash or a full disk leaves the previous file whole; `temp_beside` does the same for
writers that need a file name (ffmpeg). Temps are named
`.{name}.{pid}-{random}.atelier-tmp`, so that a later start can tell which are ours and
whether their writer still runs (`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

TEMP_SUFFIX = ".atelier-tmp"
STALE_TEMP_S = 60  # a temp untouched this long whose writer is gone is left from a crash
ABANDONED_TEMP_S = 24 * 3600  # untouched for a day: abandoned, even if its pid runs again


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`: a crash or a
    full disk leaves the previous file whole. The file gets `mode` if given (0o600 for
    secrets), else the mode of the file it replaces, else what the umask gives a new file.
    A read-only existing file is not replaced (PermissionError). Temps that crashed writes
    of the same file left behind are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, path.name)
    keep_mode = _existing_mode(path) if mode is None else mode
    fd, tmp = _create_temp(path, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as f:
            if keep_mode is not None:
                os.fchmod(f.fileno(), keep_mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def temp_beside(path: Path) -> Iterator[Path]:
    """For a writer that needs a file name (ffmpeg): an empty temp file beside `path`, with
    the permissions `write_atomic` would give, renamed over `path` when the block ends and
    removed when it raises. A read-only existing file is not replaced (PermissionError)."""
    path = Path(path)
    remove_stale_temps(path.parent, path.name)
    keep_mode = _existing_mode(path)
    fd, tmp = _create_temp(path, 0o666)
    try:
        try:
            if keep_mode is not None:
                os.fchmod(fd, keep_mode)
        finally:
            os.close(fd)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _existing_mode(path: Path) -> int | None:
    """The permission bits of the file `path` replaces (None: a new file); PermissionError
    when that file is read-only, since replacing it would override the user's choice."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(info.st_mode) and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, "the file is read-only", str(path))
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _create_temp(path: Path, mode: int) -> tuple[int, Path]:
    """A new, empty temp file beside `path`, named `.{name}.{pid}-{random}.atelier-tmp` so
    that a later start can tell it is ours and whether its writer still runs. `mode` is
    masked by the umask, as for any new file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = (
            path.parent
            / f"{_temp_prefix(path.name)}{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}"
        )
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(path.parent))


def _temp_prefix(name: str) -> str:
    return f".{name[:150]}."  # a long name must leave room for the rest (255 bytes at most)


def remove_stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the temps crashed writes left in `folder` (of the file `name`, or of any
    file): only regular files of ours (our name pattern, our user) whose writing process
    no longer runs and that nobody touched for a minute, or for a day whatever the pid
    says. Returns what was removed; a folder that cannot be read is skipped."""
    prefix = _temp_prefix(name) if name is not None else "."
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(OSError):
                if _is_stale_temp(entry):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _is_stale_temp(entry: os.DirEntry) -> bool:
    info = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != getattr(os, "getuid", lambda: 0)():
        return False
    idle = time.time() - info.st_mtime
    pid = _temp_pid(entry.name)
    if pid is None:
        return False
    return idle > ABANDONED_TEMP_S or (idle > STALE_TEMP_S and not _pid_runs(pid))


def _temp_pid(name: str) -> int | None:
    """The writer's pid in a temp's name (`….{pid}-{random}.atelier-tmp`), None if not ours."""
    middle = name.removesuffix(TEMP_SUFFIX).rsplit(".", 1)[-1]
    pid, _, token = middle.partition("-")
    if not (pid.isdigit() and len(token) == 8 and all(c in "0123456789abcdef" for c in token)):
        return None
    return int(pid)


def _pid_runs(pid: int) -> bool:
    """Whether process `pid` runs (our own pid counts as running: one of our threads may be
    writing). Where this cannot be asked without side effects, assume it does."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it runs, as another user
    return True


def remove_stale_temps_under(home: Path, skip: Iterable[str] = ("models",)) -> list[Path]:
    """Stale temps (see `remove_stale_temps`) anywhere in the home folder except its
    `skip` subfolders (models are never written by Atelier's file saving). Called at start."""
    removed = []
    for folder, subfolders, _files in os.walk(home):
        if Path(folder) == home:
            subfolders[:] = [name for name in subfolders if name not in set(skip)]
        removed += remove_stale_temps(Path(folder))
    return removed


def write_failure(exc: OSError) -> str:
    """Why a file could not be written, and what to do, for a message."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    advice = {
        errno.ENOSPC: "the disk is full: free some space or save to another disk",
        errno.EDQUOT: "your disk quota is used up: free some space or save to another disk",
        errno.EACCES: "Atelier may not write there: save to another folder or file name",
        errno.EPERM: "Atelier may not write there: save to another folder or file name",
        errno.EROFS: "the disk is read-only: save to another disk",
        errno.EISDIR: "a folder has that name: choose another name",
        errno.ENOTDIR: "part of the path is a file, not a folder: choose another folder",
        errno.ENOENT: "the folder does not exist: choose another folder",
        errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
    }.get(exc.errno or 0)
    return f"{reason} ({advice})" if advice else reason


def free_name(path: Path) -> Path:
    """`path`, or `name-2.ext`, `name-3.ext`, ... when it is taken: where to put a copy
    without overwriting anything."""
    candidate, number = path, 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate
