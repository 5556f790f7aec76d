"""How files are written and settings read: permissions as the umask gives them, temps of
killed writes cleaned at the next start, full and read-only disks reported in one sentence
with nothing lost, and a damaged settings.json that never stops Atelier."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import engine.file_writing as writing
from app import cli_generate
from app.model.document import Document
from app.model.project_file import ProjectFileError, save_project
from engine.file_writing import (
    TEMP_SUFFIX,
    remove_stale_temps,
    remove_stale_temps_under,
    write_atomic,
)
from engine.home import (
    SettingsError,
    add_model_folder,
    extra_model_folders,
    load_settings,
    read_settings,
    save_settings,
    settings_path,
)
from engine.protocol import ImageData
from tests.fuzz.harness import run_limited
from tests.test_gui_main_window import qt_loop, window  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


# ---- permissions -------------------------------------------------------------------------------


def modes_after_writes(folder: str, umask: int) -> dict[str, int]:
    """In a child (the umask is process-wide): write new and existing files."""
    os.umask(umask)
    base = Path(folder)
    write_atomic(base / "new.txt", b"new")
    for name, mode in (("was-644.txt", 0o644), ("was-755.sh", 0o755), ("was-600.txt", 0o600)):
        (base / name).write_bytes(b"old")
        os.chmod(base / name, mode)
        write_atomic(base / name, b"replaced")
    write_atomic(base / "key.pem", b"secret", mode=0o600)
    write_atomic(base / "was-644.txt", b"secret now", mode=0o600)
    return {path.name: path.stat().st_mode & 0o7777 for path in base.iterdir()}


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_mode_the_umask_gives_or_keep_theirs(tmp_path, umask):
    outcome = run_limited(modes_after_writes, str(tmp_path), umask, seconds=10)
    assert outcome.kind == "ok", str(outcome)
    assert outcome.value == {
        "new.txt": 0o666 & ~umask,
        "was-644.txt": 0o600,
        "was-755.sh": 0o755,
        "was-600.txt": 0o600,
        "key.pem": 0o600,
    }


# ---- interrupted writes ------------------------------------------------------------------------

KILLED_WRITER = """
import os, sys, time
sys.path.insert(0, {root!r})
import engine.file_writing as writing
writing.os.fsync = lambda fd: time.sleep(60)  # stop mid-write, data in the temp
writing.write_atomic(writing.Path({target!r}), b"new" * 1_000_000)
"""


def test_a_write_killed_midway_leaves_the_file_and_the_next_start_removes_its_temp(tmp_path):
    home = tmp_path / "home"
    target = home / "recovery" / "doc.atelier"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"the saved work")
    code = KILLED_WRITER.format(root=str(ROOT), target=str(target))
    writer = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while not (temps := list(target.parent.glob(f"*{TEMP_SUFFIX}"))):
            assert time.monotonic() < deadline and writer.poll() is None, "no temp appeared"
            time.sleep(0.05)
        while temps[0].stat().st_size < 3_000_000:
            time.sleep(0.05)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    (temp,) = temps
    assert temp.name.startswith(".doc.atelier.") and temp.exists()
    assert target.read_bytes() == b"the saved work"

    assert remove_stale_temps_under(home) == []  # too fresh: it might still be written
    old = time.time() - 120
    os.utime(temp, (old, old))
    assert remove_stale_temps_under(home) == [temp]  # the next start
    assert target.read_bytes() == b"the saved work"
    assert sorted(p.name for p in target.parent.iterdir()) == ["doc.atelier"]


def test_a_write_removes_stale_temps_of_its_own_file(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    dead = stale_temp(folder, "scene.atelier", dead_pid())
    other = stale_temp(folder, "other.atelier", dead_pid())
    write_atomic(folder / "scene.atelier", b"saved")
    assert not dead.exists() and other.exists()  # only the file being saved is looked at


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def stale_temp(folder: Path, name: str, pid: int, age: float = 600) -> Path:
    path = folder / f".{name}.{pid}-0123abcd{TEMP_SUFFIX}"
    path.write_bytes(b"half")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_files_that_are_not_stale_temps_of_ours_are_never_removed(tmp_path, unchanged):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "notes.atelier-tmp").write_bytes(b"a user's file")
    (folder / ".x.atelier-tmp").write_bytes(b"no pid")
    (folder / f".x.123-nothex!{TEMP_SUFFIX}").write_bytes(b"not our name")
    stale_temp(folder, "running", os.getppid())  # its writer runs
    stale_temp(folder, "ours-now", os.getpid())  # one of our threads may be writing
    stale_temp(folder, "fresh", dead_pid(), age=5)  # a minute has not passed
    (folder / "target.txt").write_bytes(b"linked to")
    (folder / f".link.{dead_pid()}-0123abcd{TEMP_SUFFIX}").symlink_to(folder / "target.txt")
    (folder / f".dir.{dead_pid()}-0123abcd{TEMP_SUFFIX}").mkdir()
    unchanged(folder)
    assert remove_stale_temps(folder) == []


# ---- full and read-only disks ------------------------------------------------------------------


def fail_with(code: int):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("code", "advice"),
    [(errno.ENOSPC, "free some space"), (errno.EROFS, "read-only"), (errno.EACCES, "another")],
)
def test_a_failed_save_names_the_file_says_what_to_do_and_keeps_the_old_one(
    tmp_path, monkeypatch, code, advice
):
    path = save_project(Document((16, 16)), tmp_path / "scene.atelier")
    saved = path.read_bytes()
    where = "fsync" if code == errno.ENOSPC else "open"  # full mid-write; refused at once
    monkeypatch.setattr(writing.os, where, fail_with(code))
    with pytest.raises(ProjectFileError) as caught:
        save_project(Document((8, 8)), path)
    message = str(caught.value)
    assert "scene.atelier" in message and os.strerror(code) in message and advice in message
    assert "\n" not in message
    monkeypatch.undo()
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.atelier"]


def test_a_read_only_file_is_not_replaced(tmp_path, monkeypatch):
    path = tmp_path / "locked.atelier"
    path.write_bytes(b"keep me")
    monkeypatch.setattr(writing.os, "access", lambda *_a, **_k: False)  # root ignores 0o444
    with pytest.raises(ProjectFileError, match="locked.atelier: the file is read-only"):
        save_project(Document((8, 8)), path)
    assert path.read_bytes() == b"keep me" and os.listdir(tmp_path) == ["locked.atelier"]


def image(seed: int) -> ImageData:
    pixels = np.zeros((8, 8, 4), np.uint8)
    return ImageData(pixels, meta={"recipe": {"params": {"seed": seed}}})


def test_the_cli_says_once_when_neither_the_output_nor_the_rescue_folder_can_be_written(
    home, tmp_path, monkeypatch, capsys
):
    from app.model.image_files import ImageWriteError
    from plugins.image_export import PNG, writers

    (home / "rescued").write_bytes(b"a file where the rescue folder goes")
    real_save = writers.write_png

    def disk_full_after_the_first(path, picture):
        if picture.meta["recipe"]["params"]["seed"] == 1:
            return real_save(path, picture)
        raise ImageWriteError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(writers, "write_png", disk_full_after_the_first)
    messages: list[str] = []
    paths = cli_generate.output_paths(tmp_path / "out.png", 3)
    code = cli_generate._save_all(
        (image(1), image(2), image(3)), paths, PNG, lambda text, c: messages.append(text) or c
    )
    assert code == 1 and len(messages) == 1
    (message,) = messages
    assert "out-2.png" in message and "No space left on device" in message
    assert "rescue copy failed" in message and "free some disk space" in message
    assert (tmp_path / "out-1.png").exists()  # what was saved stays
    assert "out-1.png" in capsys.readouterr().out


def test_a_failed_save_in_the_window_keeps_the_document_and_the_file(
    window,  # noqa: F811 (the fixture)
    tmp_path,
    monkeypatch,
):
    path = tmp_path / "work.atelier"
    assert window.files.save_as(path)
    saved = path.read_bytes()
    window.session.set_document(Document((24, 24)), path, dirty=True)  # unsaved changes
    doc = window.session.doc
    monkeypatch.setattr(writing.os, "open", fail_with(errno.EROFS))
    assert not window.files.save()
    monkeypatch.undo()
    text = window.messages.text
    assert window.messages.kind == "error" and "work.atelier" in text
    assert "Read-only file system" in text and "the previous file is unchanged" in text
    assert window.session.doc is doc and window.session.dirty and path.read_bytes() == saved


# ---- settings.json -----------------------------------------------------------------------------

BAD_SETTINGS = {
    "not json": b"{extra_model_folders: nope",
    "a list": b"[1, 2]",
    "deep nesting": b'{"device": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "huge": b'{"pad": "' + b"x" * (4 << 20) + b'"}',
    "not utf-8": b'{"a": "\xff\xfe"}',
    "NaN": b'{"safety": {"nudity_threshold": NaN}}',
}


def settings_outcome(home: str) -> tuple[dict, str, list[str]]:
    settings = read_settings(Path(home))
    return settings.values, settings.problem, [str(p) for p in extra_model_folders(Path(home))]


@pytest.mark.parametrize("name", list(BAD_SETTINGS))
def test_a_damaged_settings_file_gives_defaults_and_one_message(tmp_path, unchanged, name):
    settings_path(tmp_path).write_bytes(BAD_SETTINGS[name])
    unchanged(tmp_path)
    outcome = run_limited(settings_outcome, str(tmp_path), seconds=10, memory_mb=400)
    assert outcome.kind == "ok", str(outcome)
    values, problem, folders = outcome.value
    assert values == {} and folders == []
    assert "settings.json" in problem and "\n" not in problem


def test_a_fifo_or_a_folder_named_settings_json_does_not_hang(tmp_path):
    os.mkfifo(settings_path(tmp_path))
    outcome = run_limited(settings_outcome, str(tmp_path), seconds=10, memory_mb=400)
    assert outcome.kind == "ok" and "pipe" in outcome.value[1]
    os.unlink(settings_path(tmp_path))
    settings_path(tmp_path).mkdir()
    outcome = run_limited(settings_outcome, str(tmp_path), seconds=10, memory_mb=400)
    assert outcome.kind == "ok" and "folder" in outcome.value[1]
    with pytest.raises(SettingsError, match="settings.json: it is a folder"):
        save_settings({"a": 1}, tmp_path)
    with pytest.raises(ValueError, match="folder"):  # what `atelier models --add-folder` catches
        add_model_folder(tmp_path, tmp_path)


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        (5, []),
        ("/models", []),
        ({"a": "/models"}, []),
        ([None, 3, "/models", "", ["/x"], "/more"], ["/models", "/more"]),
    ],
)
def test_wrong_shapes_keep_the_valid_settings(tmp_path, value, usable):
    data = {"extra_model_folders": value, "device": [1], "safety": {"prompt": "warn"}, "x": 1}
    settings_path(tmp_path).write_text(json.dumps(data))
    settings = read_settings(tmp_path)
    assert settings.values == {"extra_model_folders": usable, "safety": {"prompt": "warn"}, "x": 1}
    assert "extra_model_folders" in settings.problem and "device" in settings.problem
    assert load_settings(tmp_path) == settings.values
    assert extra_model_folders(tmp_path) == [Path(p) for p in usable]
    models = tmp_path / "ComfyUI"
    models.mkdir()
    add_model_folder(models, tmp_path)  # works on top of a damaged file
    assert extra_model_folders(tmp_path) == [*map(Path, usable), models.resolve()]


def test_saving_over_a_damaged_settings_file_keeps_a_copy_of_it(tmp_path):
    """The user's hand edits are work too: what Atelier could not read is kept aside."""
    damaged = b'{"extra_model_folders": ["/models/a",], "device": {"dtype": "float16"}'
    settings_path(tmp_path).write_bytes(damaged)
    models = tmp_path / "ComfyUI"
    models.mkdir()
    add_model_folder(models, tmp_path)
    assert extra_model_folders(tmp_path) == [models.resolve()]
    assert (tmp_path / "settings.damaged.json").read_bytes() == damaged
    add_model_folder(tmp_path, tmp_path)  # the file is fine now: no second copy
    assert not (tmp_path / "settings.damaged-2.json").exists()
