"""Hostile files named like pictures, shared by the CLI and window fuzz tests."""

from __future__ import annotations

import io
import os
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
    made["huge"] = folder / "huge.png"
    Image.new("L", (13000, 13000), 200).save(made["huge"], optimize=False)
    return made


def png_bytes(size: tuple[int, int]) -> bytes:
    """A small valid PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()
