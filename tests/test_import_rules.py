"""DESIGN.md rules 1 and 2, proven: Qt stays in the GUI, torch stays in the engine.

Each check imports every module of a layer in a fresh interpreter in which the forbidden
packages cannot be imported at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.import_blocker import ENGINE_ONLY, GUI_ONLY

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = """
import importlib, sys
sys.path.insert(0, {root!r})
from tests.import_blocker import block_imports, leaked
block_imports({blocked!r})
for module in {modules!r}:
    importlib.import_module(module)
assert not leaked({blocked!r}), leaked({blocked!r})
print("ok", len({modules!r}))
"""


def modules_under(*folders: str, exclude: tuple[str, ...] = ()) -> list[str]:
    names = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            name = name.removesuffix(".__init__")
            if not any(name.startswith(prefix) for prefix in exclude):
                names.append(name)
    return names


def import_without(blocked: frozenset[str], modules: list[str]) -> None:
    code = BLOCKER.format(blocked=blocked, root=str(ROOT), modules=modules)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")


def test_engine_model_and_plugins_import_without_qt():
    modules = modules_under(
        "engine",
        "app/model",
        "plugins",
        exclude=(
            "plugins.diffusion.ui",
            "plugins.provenance.ui",
            "plugins.lora_training.panel",
            "plugins.timeline.ui",
            "plugins.audio.ui",
            "plugins.comfyui.ui",
        ),
    )
    assert "engine.worker" in modules and "plugins.diffusion.txt2img" in modules
    import_without(GUI_ONLY, modules)


def test_the_whole_app_imports_without_torch():
    modules = modules_under("app")
    assert "app.cli" in modules and any(m.startswith("app.ui") for m in modules)
    import_without(ENGINE_ONLY, modules)
