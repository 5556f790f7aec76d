"""The model store is safe to read while it rescans: a reader on another thread (the engine
looking a model up while the window rescans) sees the last listing or the new one, whole,
never half of one, and never an exception."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from engine.home import ensure_model_dirs
from engine.model_scan import FolderScan
from engine.model_store import ModelStore
from engine.protocol import JobError
from tests.fuzz.test_fuzz_models import SD15_KEYS
from tests.test_model_store import store_for, write_safetensors


def add_models(home: Path, good: list[str], bad: list[str]) -> None:
    """Checkpoints named `good`, and files named `bad` that the scan skips (a problem each)."""
    checkpoints = ensure_model_dirs(home) / "checkpoints"
    for name in good:
        write_safetensors(checkpoints / f"{name}.safetensors", SD15_KEYS)
    for name in bad:
        (checkpoints / f"{name}.safetensors").write_bytes(b"not a model")


def listing(store: ModelStore) -> tuple[list[str], int]:
    """The entries' names and the number of problems of the store's listing."""
    found = store.listing()
    return [e.name for e in found.entries], len(found.problems)


@pytest.fixture
def old_and_new(home) -> tuple[ModelStore, tuple, tuple]:
    """A store scanned once (the old listing), then more models and bad files on disk (the
    new listing, which a rescan finds)."""
    add_models(home, ["a1", "a2"], ["x1"])
    store = store_for(home)
    store.scan()
    old = listing(store)
    add_models(home, ["a3", "a4"], ["x2", "x3"])
    new = (["a1", "a2", "a3", "a4"], 3)
    return store, old, new


def test_a_reader_sees_the_old_listing_until_the_rescan_is_complete(old_and_new, monkeypatch):
    store, old, new = old_and_new
    assert old == (["a1", "a2"], 1)
    halfway, go = threading.Event(), threading.Event()
    real_file_entry = FolderScan._file_entry

    def pausing(scan: FolderScan, *args):
        entry = real_file_entry(scan, *args)
        if not halfway.is_set():  # one file read: the scan's lists are half made
            halfway.set()
            assert go.wait(30)
        return entry

    monkeypatch.setattr(FolderScan, "_file_entry", pausing)
    rescan = threading.Thread(target=store.scan)
    rescan.start()
    try:
        assert halfway.wait(30)
        assert listing(store) == old
        assert store.find("a2").name == "a2"
        with pytest.raises(JobError) as missing:
            store.find("a3")
        assert missing.value.kind == "missing_model"
        assert [e.name for e in store.checkpoints()] == ["a1", "a2"]
    finally:
        go.set()
        rescan.join(30)
    assert listing(store) == new
    assert store.find("a3").name == "a3"


def test_readers_during_many_rescans_see_one_listing_or_the_other(old_and_new):
    store, old, new = old_and_new
    seen: list[tuple] = []  # whole listings
    names: set[tuple[str, ...]] = set()  # entries alone
    problems: set[int] = set()  # problems alone
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(listing(store))
                names.add(tuple(e.name for e in store.entries))
                problems.add(len(store.problems))
                store.find("a1")
                store.default_checkpoint()
        except BaseException as exc:  # noqa: BLE001 (any failure of a reader is the finding)
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, so a half-made list would show
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(20):
            store.scan()
    finally:
        done.set()
        reader.join(30)
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(seen) > 20 and set(map(repr, seen)) <= {repr(old), repr(new)}
    assert names <= {tuple(old[0]), tuple(new[0])} and problems <= {old[1], new[1]}
    assert listing(store) == new
