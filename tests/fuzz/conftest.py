"""Fixtures of the fuzz suite: a fake Ghostscript that leaves a marker, folder snapshots."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from tests.fuzz.hostile import hostile_images


@pytest.fixture
def foreign_code_marker(tmp_path, monkeypatch) -> Path:
    """A `gs` (and `gsc`) first on PATH that writes a marker file when anything runs it:
    Pillow's EPS plugin would, so the marker must never appear. Returns the marker path."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    marker = tmp_path / "FOREIGN-CODE-RAN"
    for name in ("gs", "gsc", "gswin64c"):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho ran >> '{marker}'\nexit 1\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    from PIL import EpsImagePlugin

    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # look it up again
    monkeypatch.setattr(EpsImagePlugin, "gs_windows_binary", None)
    yield marker
    assert not marker.exists(), "a hostile file made Atelier run Ghostscript"


def tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (not following links): kind, mode, size and content hash."""
    state: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            st = path.lstat()
            digest = ""
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_mode, digest)
    return state


@pytest.fixture
def unchanged(tmp_path):
    """Call with a folder to snapshot it; at the end of the test the folder must be as it
    was (nothing written, removed or changed there)."""
    watched: list[tuple[Path, dict]] = []

    def watch(folder: Path) -> Path:
        watched.append((folder, tree_state(folder)))
        return folder

    yield watch
    for folder, before in watched:
        after = tree_state(folder)
        assert after == before, f"files under {folder} changed: " + ", ".join(
            sorted(set(after) ^ set(before)) or [k for k in after if after[k] != before.get(k)]
        )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Hostile files named like pictures (tests.fuzz.hostile), made once per test module."""
    return hostile_images(tmp_path_factory.mktemp("hostile"))
