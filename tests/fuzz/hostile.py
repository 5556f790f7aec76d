"""Hostile files named like pictures, shared by the CLI and window fuzz tests."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto showpage\n"


def hostile_images(folder: Path) -> dict[str, Path]:
    """Files named like pictures that are not, or not safely, pictures."""
    files = {
        "postscript": EPS,
        "empty": b"",
        "garbage": bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
        "truncated": png_bytes((64, 64))[:60],
    }
    made = {}
    for name, data in files.items():
        made[name] = folder / f"{name}.png"
        made[name].write_bytes(data)
    made["folder"] = folder / "folder.png"
    made["folder"].mkdir()
    made["fifo"] = folder / "fifo.png"
    os.mkfifo(made["fifo"])
    made["device"] = folder / "device.png"
    made["device"].symlink_to("/dev/zero")
    made["huge"] = folder / "huge.png"  # larger than any canvas, 4 MB on disk
    made["huge"].write_bytes(huge_png(20000, 20000))
    return made


def png_bytes(size: tuple[int, int]) -> bytes:
    """A small valid PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png(width: int, height: int, before: bytes = b"", after: bytes = b"") -> bytes:
    """A 1-bit black PNG of any size that stays small on disk, with chunks around IDAT."""
    row, packer = b"\0" + bytes(-(-width // 8)), zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + before
        + chunk(b"IDAT", idat)
        + after
        + chunk(b"IEND", b"")
    )
