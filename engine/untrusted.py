"""Readers for files and text from outside Atelier: bounded size and depth, checked shape.

Everything Atelier reads that a user, another tool or an attacker may have written
(images' metadata, projects, settings, model folders, recovery files) goes through these
few functions, so that a hostile or damaged input gives one sentence saying which file
and what is wrong, never a traceback, a hang or a huge allocation:

- `read_file_bytes` opens only regular files (a FIFO, a device or a folder is refused
  before anything blocks) and reads at most a set number of bytes;
- `parse_json` refuses text over a size, nesting deeper than a limit (the C parser's
  RecursionError included), and NaN/Infinity;
- `validate` turns plain JSON values into typed values with pydantic, and its first
  complaint into a sentence;
- `clean_text` makes text safe for tokenizers and file metadata (lone surrogates from
  undecodable bytes become U+FFFD).

Torch-free and Qt-free.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

MiB = 1024 * 1024
MAX_JSON_BYTES = 16 * MiB  # ComfyUI workflows with many nodes reach a few MB; nothing else does
MAX_JSON_DEPTH = 100  # well below Python's recursion limit, well above any real document
_SURROGATE = re.compile("[\ud800-\udfff]")


class UntrustedInputError(ValueError):
    """An input from outside is unusable; the message is one sentence for the designer:
    its `subject` (the file, shown printable) and `predicate` ("is a pipe (FIFO), not a
    file"), so that a caller can also say it about the file as "it" (`reason`)."""

    def __init__(self, subject: str, predicate: str) -> None:
        super().__init__(f"{subject} {predicate}")
        self.subject, self.predicate = subject, predicate

    @property
    def reason(self) -> str:
        """The predicate with "it" as its subject: "it is a pipe (FIFO), not a file"."""
        return f"it {self.predicate}"


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file_size(path: str | os.PathLike[str]) -> int:
    """The size of `path`, which must be a regular file (links followed). Raises
    UntrustedInputError for folders, FIFOs, devices and sockets (which would block or
    never end), and OSError when it cannot be looked at."""
    mode = os.stat(path)
    if not stat.S_ISREG(mode.st_mode):
        raise _not_a_file(path, mode.st_mode)
    return mode.st_size


def _not_a_file(path: str | os.PathLike[str], mode: int) -> UntrustedInputError:
    return UntrustedInputError(display_path(path), f"is {_file_kind(mode)}, not a file")


def read_file_bytes(path: str | os.PathLike[str], what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`. Opened without blocking, checked
    to be a regular file after opening (no race with a swapped-in FIFO), read with a bound.
    Raises UntrustedInputError (wrong kind of file, too large) or OSError (unreadable)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd)
        if not stat.S_ISREG(mode.st_mode):
            raise _not_a_file(path, mode.st_mode)
        if mode.st_size > max_bytes:
            raise too_large(display_path(path), what, mode.st_size, max_bytes)
        chunks, left = [], max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 4 * MiB))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # the file grew while being read
        raise too_large(display_path(path), what, len(data), max_bytes)
    return data


def too_large(subject: str, what: str, size: int, limit: int) -> UntrustedInputError:
    """The error for an input over its size limit ("x.png is too large for an image ...")."""
    return UntrustedInputError(
        subject,
        f"is too large for {what} ({_size_text(size)}; Atelier reads at most {_size_text(limit)})",
    )


def _size_text(size: int) -> str:
    if size >= MiB:
        return f"{size / MiB:.1f} MB"
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(
    text: str | bytes,
    what: str,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    allow_nan: bool = False,
) -> Any:
    """JSON text from outside, parsed with limits; `what` names it in the message
    ("settings.json", "the ComfyUI workflow in x.png"). NaN and Infinity are refused
    unless `allow_nan` (for readers that ignore a key holding one on their own).
    Raises UntrustedInputError."""
    if len(text) > max_bytes:
        raise too_large(what, "JSON", len(text), max_bytes)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UntrustedInputError(what, "is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=None if allow_nan else _no_constants)
    except RecursionError:
        raise UntrustedInputError(what, "is nested too deeply to be real") from None
    except ValueError as exc:
        reason = getattr(exc, "msg", None) or str(exc)
        raise UntrustedInputError(what, f"is not valid JSON ({reason})") from None
    if json_depth(data) > max_depth:
        raise UntrustedInputError(what, "is nested too deeply to be real")
    return data


def json_depth(data: Any) -> int:
    """How deeply lists and objects nest in `data` (0 for a plain value); iterative, so
    that any depth is measured without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def read_json_file(
    path: str | os.PathLike[str],
    what: str | None = None,
    max_bytes: int = MAX_JSON_BYTES,
    allow_nan: bool = False,
) -> Any:
    """A JSON file from outside: regular file, bounded size and depth; `what` names it in
    messages (default: its path). Raises UntrustedInputError or OSError."""
    data = read_file_bytes(path, "a JSON file", max_bytes)
    return parse_json(data, what or display_path(path), max_bytes, allow_nan=allow_nan)


def validate(data: Any, kind: type[T] | Any, what: str) -> T:
    """`data` (plain JSON values) as `kind` (a pydantic model, dataclass or type hint);
    UntrustedInputError with the first problem as a sentence ("settings.json:
    extra_model_folders.0: Input should be a valid string")."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return _adapter(kind, TypeAdapter).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        more = exc.error_count() - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise UntrustedInputError(
            f"{what}:", f"{where or 'the document'}: {first['msg']}{extra}"
        ) from None


_adapters: dict[Any, Any] = {}


def _adapter(kind: Any, factory: Any) -> Any:
    if kind not in _adapters:
        _adapters[kind] = factory(kind)
    return _adapters[kind]


def clean_text(text: str) -> str:
    """Text with lone surrogates (undecodable bytes from argv or a file name) turned back
    into their UTF-8 bytes where valid, else U+FFFD; other text unchanged."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    if all("\udc80" <= c <= "\udcff" for c in _SURROGATE.findall(text)):  # surrogateescape's
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _SURROGATE.sub("\ufffd", text)


def display_path(path: str | os.PathLike[str]) -> str:
    """A path fit to print or store in metadata (undecodable bytes shown as U+FFFD)."""
    return clean_text(os.fspath(Path(path)))
