"""The `atelier` command, run as a designer's shell runs it, on hostile files and arguments.

Each run is a real process with a time limit and an address-space limit. Every command
given a bad input must end with one `atelier: error: ...` line and a non-zero status (no
traceback, no hang), run no foreign code, and write nothing but its output file.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import COMMANDS, _parser
from tests.fuzz.hostile import png_bytes

ADDRESS_SPACE = 6 * 1024**3  # torch and the demo model fit easily; a runaway decode does not


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def atelier(*args: str | bytes, cwd: Path, seconds: float = 120) -> subprocess.CompletedProcess:
    """Run `atelier ARGS` in `cwd` (arguments may be bytes, as a shell passes them)."""
    command = [os.fsencode(sys.executable), b"-m", b"app.cli", *map(os.fsencode, args)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=seconds,
        preexec_fn=_limit_memory,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *names: str) -> None:
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode in (1, 2, 3), (result.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("atelier: error: ")]
    assert errors, stderr
    for name in names:
        assert name in errors[0], (name, errors[0])


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch) -> None:
    """Each run gets a fresh Atelier home (keys, settings, rescued files go there)."""
    monkeypatch.setenv("ATELIER_HOME", str(tmp_path / "home"))


def test_every_command_is_known_to_main():
    """main() must tell commands from file names; its list must match the parser's."""
    parser = _parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    assert set(commands.choices) == set(COMMANDS)


def test_a_command_is_never_read_as_a_file_name(tmp_path):
    """In a folder holding a file named `info`, `atelier info x.png` runs the command
    (it opened the window before)."""
    (tmp_path / "info").write_bytes(b"")
    (tmp_path / "x.png").write_bytes(png_bytes((8, 8)))
    result = atelier("info", "x.png", cwd=tmp_path, seconds=60)
    assert result.returncode == 1, result.stderr
    assert b"x.png: no generation settings found" in result.stdout


@pytest.mark.parametrize("command", ["info", "verify", "img2img", "inpaint-mask"])
def test_commands_refuse_hostile_pictures_cleanly(
    command, hostile, tmp_path, foreign_code_marker, unchanged
):
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes((64, 64)))
    unchanged(hostile["folder"].parent)
    for name, path in hostile.items():
        if command == "img2img":
            args = ["img2img", str(path), "a circle", "--steps", "1", "-o", "out.png"]
        elif command == "inpaint-mask":
            args = ["inpaint", str(good), "x", "--mask", str(path), "--steps", "1", "-o", "out.png"]
        else:
            args = [command, str(path)]
        result = atelier(*args, cwd=tmp_path, seconds=60)
        if command == "info" and name in ("postscript", "huge") and result.returncode == 1:
            continue  # a header read without decoding: "no generation settings found" is fine
        assert_one_line_error(result, path.name)
        assert not (tmp_path / "out.png").exists(), name


def test_a_prompt_with_bytes_that_are_not_utf8_still_generates(tmp_path):
    """The tokenizer crashed on the lone surrogates Python makes of such argv bytes."""
    result = atelier(
        "generate", b"a red circle \xff\xfe", "--steps", "1", "-o", "out.png", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert (tmp_path / "out.png").stat().st_size > 0


def test_an_output_name_that_is_not_utf8_is_saved_with_content_credentials(tmp_path):
    """It was saved without Content Credentials, silently."""
    from plugins.provenance.verify import verify_file

    name = b"circle-\xff.png"
    result = atelier("generate", "a red circle", "--steps", "1", "-o", name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert b"without Content Credentials" not in result.stderr
    assert name in result.stdout  # printed back as the same bytes
    report = verify_file(tmp_path / os.fsdecode(name))
    assert report.claims["c2pa"].get("present"), report.claims["c2pa"]
    assert report.marked


def test_overwriting_an_output_keeps_its_permissions(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    out.chmod(0o644)
    result = atelier("generate", "a red circle", "--steps", "1", "-o", "out.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert out.stat().st_mode & 0o777 == 0o644
    fresh = atelier("generate", "a red circle", "--steps", "1", "-o", "new.png", cwd=tmp_path)
    assert fresh.returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "new.png").stat().st_mode & 0o777 == 0o666 & ~umask
