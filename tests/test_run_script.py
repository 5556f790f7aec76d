"""`./run ARGS...` runs an atelier command in the folder it was called from, so relative
paths in it mean that folder, not the checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / ".venv" / ".atelier-installed").is_file(), reason="no ./run venv")
def test_a_commands_relative_paths_mean_the_callers_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    done = subprocess.run(
        [str(ROOT / "run"), "train-lora", "photos", "--trigger", "zqx", "-o", "zqx.safetensors"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "No photo in photos can be used" in done.stderr  # found in the caller's folder
