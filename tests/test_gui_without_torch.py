"""Torch stays in the engine (DESIGN.md rule 2), proven in use and not only at import: in
an interpreter where torch, diffusers and transformers cannot be imported, `atelier` starts
and lists the built-in model, and the window paints, saves and opens a project
(tests/gui_without_torch.py). Generating needs torch: that runs on the engine thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.ui.launch import MODELS_SHOWN, STARTUP_PROBE, WINDOW_SHOWN

ROOT = Path(__file__).resolve().parent.parent

STARTUP = """
import sys
sys.path.insert(0, {root!r})
from tests.import_blocker import ENGINE_ONLY, block_imports, leaked
block_imports(ENGINE_ONLY)
from app.cli import main
code = main([])
assert not leaked(ENGINE_ONLY), leaked(ENGINE_ONLY)
sys.exit(code)
"""


def run_without_torch(args: list[str], home: Path, **env: str) -> str:
    """Run Python with `args` offscreen on the Atelier home `home`; its output (it must
    succeed)."""
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "ATELIER_HOME": str(home),
            "HF_HUB_CACHE": str(home / "no-hf-cache"),
            "QT_QPA_PLATFORM": "offscreen",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_atelier_starts_and_lists_the_builtin_model_without_torch(tmp_path):
    code = STARTUP.format(root=str(ROOT))
    out = run_without_torch(["-c", code], tmp_path, **{STARTUP_PROBE: "1"})
    assert sorted(out.splitlines()) == sorted([WINDOW_SHOWN, f"{MODELS_SHOWN}: atelier-demo"])


def test_the_window_paints_and_opens_a_project_without_torch(tmp_path):
    out = run_without_torch([str(ROOT / "tests" / "gui_without_torch.py"), str(tmp_path)], tmp_path)
    assert out.splitlines()[-1] == "ok"
    assert (tmp_path / "stroke.atelier").is_file()
