"""The `atelier` command line: generate, models, info; errors are one line and non-zero."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from tests.fixtures.tiny_models import copy_with_settings
from tests.image_checks import psnr

GENERATE = ["generate", "a red circle", "--model", "tiny-sd15", "--steps", "2", "--size", "64x64"]


def test_generate_writes_a_png_whose_parameters_round_trip(atelier_home, tmp_path, capsys):
    out = tmp_path / "out.png"
    args = [*GENERATE, "--seed", "42", "--cfg", "5.5", "--negative", "blurry, dark"]
    assert main([*args, "--scheduler", "DPM++ 2M Karras", "-o", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (64, 64)
        parameters = image.info["parameters"]
        recipe = json.loads(image.info["atelier"])["recipe"]
    assert parameters.startswith("a red circle\nNegative prompt: blurry, dark\n")
    assert "Seed: 42" in parameters and "CFG scale: 5.5" in parameters
    assert "Size: 64x64" in parameters and "Model: tiny-sd15" in parameters
    assert recipe["params"]["scheduler"] == "DPM++ 2M Karras"

    assert main(["info", str(out)]) == 0
    described = capsys.readouterr().out
    assert "a red circle" in described and "42" in described and "DPM++ 2M Karras" in described


def test_generate_is_deterministic_for_a_seed(atelier_home, tmp_path):
    """Same seed, same file: the invisible watermark's id comes from the recipe."""
    from plugins.provenance.watermark import detect_image

    a, b, other = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "other.png"
    big = [*GENERATE, "--size", "256x256"]  # the watermark's tile is 128 px
    assert main([*big, "--seed", "3", "-o", str(a)]) == 0
    assert main([*big, "--seed", "3", "-o", str(b)]) == 0
    assert main([*big, "--seed", "4", "-o", str(other)]) == 0
    first, second, third = (np.asarray(Image.open(p).convert("RGB")) for p in (a, b, other))
    assert np.array_equal(first, second) and psnr(first, third) < 25
    marks = [detect_image(image) for image in (first, third)]
    assert all(mark.present for mark in marks)
    assert marks[0].payload != marks[1].payload


def test_batch_writes_numbered_files(atelier_home, tmp_path):
    assert main([*GENERATE, "--batch", "2", "-o", str(tmp_path / "set.png")]) == 0
    assert (tmp_path / "set-1.png").is_file() and (tmp_path / "set-2.png").is_file()


@pytest.mark.parametrize(
    ("extra", "words"), [(["--model", "nope"], "nope"), (["--size", "64x9000"], "height")]
)
def test_failed_generation_exits_1_with_one_line(atelier_home, tmp_path, capsys, extra, words):
    out = tmp_path / "x.png"
    assert main([*GENERATE, *extra, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_an_empty_prompt_is_refused_with_no_blank_line_before_the_error(
    atelier_home, tmp_path, capsys
):
    out = tmp_path / "x.png"
    assert main(["generate", "", "--model", "tiny-sd15", "-o", str(out)]) == 1
    assert capsys.readouterr().err == "atelier: error: Type a prompt first.\n"
    assert not out.exists()


def test_the_progress_line_ends_before_what_follows(atelier_home, tmp_path, capsys):
    assert main([*GENERATE, "-o", str(tmp_path / "out.png")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("\r") and err.endswith("100%\n") and "\n\n" not in err


@pytest.mark.parametrize(
    ("extra", "words"),
    [(["--steps", "0"], "Steps must be between"), (["--size", "huge"], "size must look like")],
)
def test_bad_flags_exit_2_with_one_line(atelier_home, tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as exit_info:
        main([*GENERATE, *extra, "-o", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err


def test_unwritable_output_is_refused_before_generating(atelier_home, tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert main([*GENERATE, "-o", str(blocker / "out.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_models_lists_family_and_format(atelier_home, capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    tiny = next(line for line in lines if line.startswith("tiny-sd15 "))
    assert "sd15" in tiny and "diffusers" in tiny
    single = next(line for line in lines if line.startswith("tiny-sd15-single"))
    assert "single_file" in single


def test_info_on_a_png_without_settings_and_on_a_non_image(tmp_path, capsys):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    text = tmp_path / "notes.png"
    text.write_text("hello")
    assert main(["info", str(plain)]) == 1
    assert "no generation settings" in capsys.readouterr().out
    assert main(["info", str(text)]) == 2
    assert "notes.png" in capsys.readouterr().err


def test_an_image_that_cannot_be_written_is_rescued(atelier_home, tmp_path, capsys, monkeypatch):
    from app.model import image_files

    real_save = image_files.save_png
    target = tmp_path / "full-disk.png"

    def disk_full_for_target(path, *args, **kwargs):
        if path == target:
            raise image_files.ImageWriteError(f"cannot write {path}: No space left on device")
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(image_files, "save_png", disk_full_for_target)
    assert main([*GENERATE, "-o", str(target)]) == 1
    assert "No space left" in capsys.readouterr().err
    rescued = list((atelier_home / "rescued").glob("*-full-disk.png"))
    assert len(rescued) == 1 and Image.open(rescued[0]).size == (64, 64)


TUNED = {  # a model's atelier.json
    "native_size": 64,
    "defaults": {"steps": 3, "cfg_scale": 4.5, "scheduler": "DDIM"},
    "example_prompt": "a kite over a hill",
}


def recipe_params(path) -> dict:
    with Image.open(path) as image:
        return json.loads(image.info["atelier"])["recipe"]["params"]


def sampling(params: dict) -> tuple:
    return params["steps"], params["cfg_scale"], params["scheduler"], params["model"]


def test_models_says_what_a_model_can_make_under_its_line(atelier_home, tiny_models, capsys):
    about = {**TUNED, "about": "Draws kites over hills."}
    copy_with_settings(tiny_models / "tiny-sd15", atelier_home / "models/checkpoints/tuned", about)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("tuned "))
    assert lines[row + 1].strip() == "Draws kites over hills."
    assert sum("Draws kites" in line for line in lines) == 1  # only the model that says so


def test_generate_takes_the_model_defaults_but_given_flags_win(atelier_home, tiny_models, tmp_path):
    copy_with_settings(tiny_models / "tiny-sd15", atelier_home / "models/checkpoints/tuned", TUNED)
    base = ["generate", "a red circle", "--model", "tuned", "--seed", "1"]
    assert main([*base, "-o", str(tmp_path / "a.png")]) == 0
    made = recipe_params(tmp_path / "a.png")
    assert sampling(made) == (3, 4.5, "DDIM", "tuned")
    assert (made["width"], made["height"]) == (64, 64)  # its native size, not 512

    flags = ["--steps", "2", "--cfg", "6", "--scheduler", "Euler"]
    assert main([*base, *flags, "-o", str(tmp_path / "b.png")]) == 0
    assert sampling(recipe_params(tmp_path / "b.png")) == (2, 6.0, "Euler", "tuned")
    assert main([*base, "--steps", "2", "-o", str(tmp_path / "c.png")]) == 0
    assert sampling(recipe_params(tmp_path / "c.png")) == (2, 4.5, "DDIM", "tuned")


def test_generate_without_model_uses_the_builtin_one_and_its_defaults(
    atelier_home, tiny_models, tmp_path, monkeypatch
):
    builtin = tmp_path / "builtin"
    copy_with_settings(tiny_models / "tiny-sd15", builtin / "demo", TUNED)
    monkeypatch.setattr("engine.model_store.BUILTIN_MODELS", builtin)
    out = tmp_path / "out.png"
    assert main(["generate", "a red circle", "--seed", "1", "-o", str(out)]) == 0
    made = recipe_params(out)
    assert sampling(made) == (3, 4.5, "DDIM", "demo")
    assert Image.open(out).size == (64, 64)


def test_img2img_takes_the_model_defaults_but_given_flags_win(atelier_home, tiny_models, tmp_path):
    copy_with_settings(tiny_models / "tiny-sd15", atelier_home / "models/checkpoints/tuned", TUNED)
    source = tmp_path / "in.png"
    Image.new("RGB", (48, 48), (200, 40, 40)).save(source)
    base = ["img2img", str(source), "a red apple", "--model", "tuned", "--seed", "1"]
    assert main([*base, "-o", str(tmp_path / "a.png")]) == 0
    assert sampling(recipe_params(tmp_path / "a.png")) == (3, 4.5, "DDIM", "tuned")
    assert main([*base, "--cfg", "2", "-o", str(tmp_path / "b.png")]) == 0
    assert sampling(recipe_params(tmp_path / "b.png")) == (3, 2.0, "DDIM", "tuned")


def test_malformed_model_settings_change_nothing(atelier_home, tiny_models, tmp_path):
    checkpoints = atelier_home / "models/checkpoints"
    copy_with_settings(tiny_models / "tiny-sd15", checkpoints / "odd", {"defaults": {"steps": "x"}})
    args = ["generate", "a red circle", "--model", "odd", "--size", "64x64", "--cfg", "5"]
    assert main([*args, "-o", str(tmp_path / "a.png")]) == 0
    assert recipe_params(tmp_path / "a.png")["steps"] == 25  # the usual default
