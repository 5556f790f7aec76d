"""Plugin tasks on the command line: every registered task with a `cli` name is an `atelier`
subcommand (its inputs arguments, its params flags), and -o's suffix chooses the exporter
that writes what it made. The sample plugin runs as a designer's shell runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app.cli
from app.cli import commands, main
from app.cli_tasks import cli_tasks
from engine.protocol import ImageData, TaskResult
from plugins.api import Exporter, Plugin, Task, param
from plugins.image_export import plugin as image_export
from plugins.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "plugin_sample"
BLUE, WHITE = (30, 60, 220), (255, 255, 255)  # the sample's


def looks_like(pixels: np.ndarray, colour: tuple[int, int, int]) -> bool:
    """Every pixel of the colour but for the watermark's faint pattern."""
    difference = np.abs(pixels.astype(int) - colour)
    return difference.mean() < 4 and difference.max() < 32


def atelier(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`atelier ARGS` as a real process, with the sample plugin installed (on its path)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(ROOT), str(SAMPLE))),
        "ATELIER_HOME": str(cwd / "home"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_help_lists_the_plugin_command_with_its_tip(tmp_path, monkeypatch):
    shown = atelier("--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "stripes" in shown.stdout and "Paint even stripes in two colours" in shown.stdout
    assert "generate" in shown.stdout and "Make new pictures from the prompt." in shown.stdout
    monkeypatch.syspath_prepend(str(SAMPLE))
    assert "stripes" in app.cli.COMMANDS  # main() tells it from a file name


def test_a_plugin_task_runs_and_its_picture_is_marked_with_provenance(tmp_path):
    made = atelier("stripes", "--stripes", "6", "--colour", "blue", "-o", "s.png", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "s.png"
    pixels = np.asarray(Image.open(tmp_path / "s.png").convert("RGB")).astype(int)
    assert pixels.shape == (64, 64, 3)
    assert looks_like(pixels[:, :10], BLUE) and looks_like(pixels[:, 11:21], WHITE)
    report = atelier("verify", "s.png", cwd=tmp_path).stdout
    assert "C2PA: valid" in report and "trainedAlgorithmicMedia" in report

    # 64 pixels are too small for the watermark's 128-pixel tile (README); 128 carry it
    big = atelier("stripes", "--colour", "blue", "--size", "128x128", "-o", "big.png", cwd=tmp_path)
    assert big.returncode == 0, big.stderr
    verified = atelier("verify", "big.png", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    assert "carries Atelier's watermark" in verified.stdout and "C2PA: valid" in verified.stdout


def test_the_sample_exporter_writes_a_readable_ppm(tmp_path):
    made = atelier("stripes", "--stripes", "2", "--colour", "blue", "-o", "s.ppm", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "s.ppm").read_bytes().startswith(b"P6\n64 64\n255\n")
    with Image.open(tmp_path / "s.ppm") as opened:
        assert opened.format == "PPM" and opened.size == (64, 64)
        pixels = np.asarray(opened).astype(int)
    assert looks_like(pixels[:, :32], BLUE) and looks_like(pixels[:, 32:], WHITE)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-o", "s.gif"], "cannot write s.gif: use .png, .jpg, .webp or .ppm"),
        (["--stripes", "0", "-o", "s.png"], "Stripes must be between 1 and 64"),
        (["--colour", "mauve", "-o", "s.png"], "invalid choice: 'mauve'"),
    ],
)
def test_bad_arguments_say_what_works_and_write_nothing(tmp_path, args, words):
    result = atelier("stripes", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name != "home"]


# ---- tasks of every input and output kind, in this process


@dataclass(frozen=True)
class FolderParams:
    copies: int = param(1, "Copies", minimum=1, maximum=4, help="How many pictures.")
    folder: Path | None = None
    clip: Path | None = None


SEEN: list[FolderParams] = []


def run_seen(params: FolderParams, ctx) -> TaskResult:
    """Remember what arrived; one grey picture per copy."""
    SEEN.append(params)
    grey = ImageData(np.full((8, 8, 4), 128, np.uint8))
    return TaskResult((grey,) * params.copies)


def refuse_grey(path: Path, output: ImageData) -> Path:
    raise ValueError("this format takes no grey pictures")


def fake_task(cli: str, inputs: tuple[str, ...] = (), output: str = "images") -> Task:
    runner = f"{__name__}:run_seen"
    return Task(f"fake.{cli}", 1, cli, FolderParams, runner, inputs=inputs, output=output, cli=cli)


@pytest.fixture
def fake_plugins(monkeypatch, home):
    """`atelier` with the image exporters and tasks that take a folder, a clip, or make
    a video."""
    tasks = (
        fake_task("album", ("folder",)),
        fake_task("still", ("clip",)),
        fake_task("animate", output="video"),
    )
    registry = Registry()
    picky = Exporter("fake.picky", "Picky", "images", (".picky",), f"{__name__}:refuse_grey")
    registry.add(Plugin("fake", "1", "Fake", tasks=tasks, exporters=(picky,)))
    registry.add(image_export)
    monkeypatch.setattr(app.cli, "discover", lambda: registry)
    SEEN.clear()
    return registry


def test_a_folder_and_a_clip_arrive_as_paths(fake_plugins, tmp_path, capsys):
    clip = tmp_path / "walk.mp4"
    clip.write_bytes(b"\0")
    assert main(["album", str(tmp_path), "--copies", "2", "-o", str(tmp_path / "a.png")]) == 0
    assert main(["still", str(clip), "-o", str(tmp_path / "s.webp")]) == 0
    assert [(p.folder, p.clip, p.copies) for p in SEEN] == [(tmp_path, None, 2), (None, clip, 1)]
    assert (tmp_path / "a-1.png").is_file() and (tmp_path / "a-2.png").is_file()
    with Image.open(tmp_path / "s.webp") as webp:
        assert webp.format == "WEBP"
    written = [str(tmp_path / name) for name in ("a-1.png", "a-2.png", "s.webp")]
    assert capsys.readouterr().out.split() == written


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["album", "missing", "-o", "a.png"], "missing is not a folder"),
        (["still", ".", "-o", "a.png"], ". is not a file"),
        (["animate", "-o", "a.mp4"], "Atelier cannot write video to a file yet"),
    ],
)
def test_inputs_and_outputs_that_cannot_work_are_refused_before_running(
    fake_plugins, tmp_path, monkeypatch, capsys, args, words
):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert words in capsys.readouterr().err
    assert SEEN == [] and not list(tmp_path.glob("a.*"))


def test_a_command_name_already_taken_gets_no_subcommand(fake_plugins):
    first, again, models = fake_task("album"), fake_task("album"), fake_task("models")
    assert cli_tasks([models, first, again], taken=("models",)) == [first]
    others = ("models", "info", "verify", "export")
    assert commands(fake_plugins) == ("album", "animate", "still", *others)


def test_an_output_the_exporter_refuses_is_one_line_and_exit_1(fake_plugins, tmp_path, capsys):
    target = tmp_path / "a.picky"
    assert main(["album", str(tmp_path), "-o", str(target)]) == 1
    error = capsys.readouterr().err
    assert f"atelier: error: {target} was not written: this format takes no grey" in error
    assert not target.exists()
