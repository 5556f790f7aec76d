"""Shared pytest fixtures: tiny models built once per session, and a throwaway Atelier home."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: tests never download
# Tiny models gain nothing from threads, and on a busy 2-core machine OpenMP's spinning
# threads make them 5-10x slower; one thread keeps the suite fast and steady.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = ("tests.comfyui_server",)  # real ComfyUI servers (skipped where absent)

TINY_FOLDERS = ("tiny-sd15", "tiny-sdxl")
TINY_SINGLE_FILES = ("tiny-sd15-single.safetensors", "tiny-sdxl-single.safetensors")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A folder of tiny models: for each family F in sd15, sdxl

    tiny-F/ (diffusers folder), tiny-F-single.safetensors (original key names),
    tiny-F-ckpt.ckpt ({"state_dict": ...}); all of one family hold the same weights.
    """
    from tests.fixtures.tiny_models import (
        save_tiny_ckpt,
        save_tiny_diffusers,
        save_tiny_single_file,
    )

    root = tmp_path_factory.mktemp("tiny_models")
    for family in ("sd15", "sdxl"):
        save_tiny_diffusers(family, root / f"tiny-{family}")
        save_tiny_single_file(family, root / f"tiny-{family}-single.safetensors")
        save_tiny_ckpt(family, root / f"tiny-{family}-ckpt.ckpt")
    return root


@pytest.fixture(scope="session")
def tiny_config_root(tmp_path_factory) -> Path:
    """Config folders (like resources/configs) for the tiny architectures: pass as config_root=."""
    from tests.fixtures.tiny_models import write_tiny_configs

    return write_tiny_configs(tmp_path_factory.mktemp("tiny_configs"))


def no_builtin_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores made without a builtin_dir see no built-in models (the shipped demo model
    would otherwise be every test's default checkpoint)."""
    monkeypatch.setattr("engine.model_store.BUILTIN_MODELS", tmp_path / "no-builtin-models")


@pytest.fixture
def atelier_home(tmp_path, monkeypatch, tiny_models) -> Path:
    """A fresh ATELIER_HOME whose models/checkpoints holds tiny-sd15, tiny-sdxl (diffusers
    folders) and tiny-sd15-single, tiny-sdxl-single (.safetensors); the HF cache is empty,
    and there are no built-in models (so tiny-sd15 is the default checkpoint)."""
    from engine.home import ensure_model_dirs

    no_builtin_models(tmp_path, monkeypatch)
    home = tmp_path / "atelier-home"
    checkpoints = ensure_model_dirs(home) / "checkpoints"
    for name in TINY_FOLDERS:
        shutil.copytree(tiny_models / name, checkpoints / name)
    for name in TINY_SINGLE_FILES:
        shutil.copy2(tiny_models / name, checkpoints / name)
    monkeypatch.setenv("ATELIER_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return home


@pytest.fixture
def with_builtin(atelier_home, monkeypatch) -> Path:
    """The usual test home, but with the shipped built-in models visible."""
    from engine.home import RESOURCES

    monkeypatch.setattr("engine.model_store.BUILTIN_MODELS", RESOURCES / "models")
    return atelier_home


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty ATELIER_HOME (no models, no built-in ones): for tests of settings, keys and
    lists."""
    no_builtin_models(tmp_path, monkeypatch)
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("ATELIER_HOME", str(folder))
    return folder


@pytest.fixture
def unmarked_pixels(monkeypatch) -> None:
    """Images keep the pixels their task made: the engine's safety and provenance step
    leaves them unwatermarked (it still checks and records them). For comparing what two
    models make: their recipes differ, and so do their marks."""
    monkeypatch.setattr(
        "plugins.provenance.marking.mark_image_pixels", lambda image, payload: image.pixels
    )
