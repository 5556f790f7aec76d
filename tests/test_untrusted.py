"""The bounded readers every outside input goes through (engine/untrusted.py)."""

from __future__ import annotations

import os

import pytest

from engine.untrusted import (
    UntrustedInputError,
    clean_text,
    json_depth,
    parse_json,
    read_file_bytes,
    read_json_file,
    validate,
)


def test_only_regular_files_are_read_and_never_block(tmp_path):
    fifo = tmp_path / "x.safetensors"
    os.mkfifo(fifo)  # opening it for reading would block without O_NONBLOCK
    with pytest.raises(UntrustedInputError) as fifo_error:
        read_file_bytes(fifo, "a model", 100)
    assert fifo_error.value.reason == "it is a pipe (FIFO), not a file"
    assert str(fifo_error.value) == f"{fifo} is a pipe (FIFO), not a file"
    for path, kind in (("/dev/zero", "a device"), (tmp_path, "a folder")):
        with pytest.raises(UntrustedInputError, match=f"is {kind}, not a file"):
            read_file_bytes(path, "an image", 100)


def test_sizes_are_bounded_and_said(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"[" + b"0," * 2000 + b"0]")
    assert read_file_bytes(path, "a list", 5000) == path.read_bytes()
    with pytest.raises(
        UntrustedInputError,
        match=r"is too large for a list \(4 KB; Atelier reads at most 100 bytes\)",
    ):
        read_file_bytes(path, "a list", 100)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # RecursionError in json
        ("[" * 101 + "]" * 101, "nested too deeply"),  # parses, but deeper than the limit
        ('{"width": Infinity}', "Infinity is not a number JSON allows"),
        ('{"a": NaN}', "NaN is not a number JSON allows"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        ('{"a": 1', "is not valid JSON"),
    ],
)
def test_hostile_json_is_one_sentence(text, problem):
    with pytest.raises(UntrustedInputError, match=problem) as error:
        parse_json(text, "settings.json")
    assert str(error.value).startswith("settings.json ")


def test_nan_can_be_let_through_for_readers_that_ignore_it_alone(tmp_path):
    path = tmp_path / "atelier.json"
    path.write_text('{"cfg": NaN, "steps": 4}')
    assert read_json_file(path, allow_nan=True)["steps"] == 4
    with pytest.raises(UntrustedInputError, match=f"^{path} is not valid JSON"):
        read_json_file(path)


def test_depth_is_measured_without_recursion():
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    assert json_depth(deep) == 50_001
    assert json_depth({"a": [1, {"b": []}]}) == 4 and json_depth(7) == 0


def test_validate_says_where_and_what():
    assert validate({"a": 1}, dict[str, int], "x") == {"a": 1}
    with pytest.raises(UntrustedInputError, match=r"^settings.json: a: Input should be .* more"):
        validate({"a": "one", "b": None}, dict[str, int], "settings.json")


def test_clean_text_restores_bytes_or_marks_them():
    assert clean_text("caf\udcc3\udca9") == "café"  # surrogateescape of UTF-8 bytes
    assert clean_text("a\udcffb") == "a\ufffdb"  # a byte that is not UTF-8
    assert clean_text("a\ud800b") == "a\ufffdb"  # a lone surrogate from JSON "\ud800"
    assert clean_text("plain ü") == "plain ü"
