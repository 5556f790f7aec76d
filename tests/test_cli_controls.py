"""`--control`, `--reference` and `--lora` on the diffusion subcommands: parsed into the
params' steering fields (pictures read safely and made into control maps), run end to end
on a tiny model, and a bad spec refused with one argparse line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.model.image_import import read_image
from plugins.diffusion import steering_cli
from tests.fixtures import tiny_controls

GENERATE = ["generate", "a red circle", "--model", "tiny-sd15", "--size", "64x64", "--steps", "2"]


@pytest.fixture
def sketch(tmp_path):
    """A dark circle outline drawn on white (a scribble as drawn on paper)."""
    pixels = np.full((64, 64, 3), 255, np.uint8)
    yy, xx = np.mgrid[:64, :64]
    ring = np.abs(np.hypot(yy - 40, xx - 20) - 12) < 2
    pixels[ring] = 0
    path = tmp_path / "sketch.png"
    Image.fromarray(pixels).save(path)
    return path


def test_a_control_spec_reads_kind_picture_model_strength_and_range(sketch):
    spec = steering_cli.control(f"scribble:{sketch}:my-control:0.8:0.1-0.6", read_image)
    assert (spec.kind, spec.model, spec.strength, spec.start, spec.end) == (
        "scribble",
        "my-control",
        0.8,
        0.1,
        0.6,
    )
    # dark lines on light become white lines on black, where they were drawn
    assert spec.image.shape == (64, 64, 3) and spec.image[40, 8].max() == 255
    assert spec.image[0, 0].max() == 0 and spec.image[40, 20].max() == 0
    plain = steering_cli.control(f"canny:{sketch}", read_image)
    assert (plain.model, plain.strength, plain.start, plain.end) == ("", 1.0, 0.0, 1.0)
    assert steering_cli.control(f"depth:{sketch}::0.5", read_image).strength == 0.5


def test_reference_and_lora_specs(sketch):
    assert steering_cli.reference(f"{sketch}:0.9", read_image).weight == 0.9
    assert steering_cli.reference(str(sketch), read_image).image.shape == (64, 64, 3)
    assert steering_cli.lora("style:0.5", read_image) == steering_cli.LoraSpec("style", 0.5)
    assert steering_cli.lora("style", read_image) == steering_cli.LoraSpec("style", 1.0)


def test_generate_with_a_control_records_it(atelier_home, tmp_path, sketch, capsys):
    tiny_controls.save_tiny_controlnet("sd15", tmp_path / "built")
    shutil.copytree(tmp_path / "built", atelier_home / "models" / "controlnet" / "tiny-scribble")
    out = tmp_path / "steered.png"
    control = f"scribble:{sketch}:tiny-scribble:0.7:0-0.5"
    assert main([*GENERATE, "--control", control, "-o", str(out)]) == 0
    assert main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "ControlNet 0" in shown and "Module: scribble, Model: tiny-scribble [" in shown
    assert "Weight: 0.7, Guidance Start: 0, Guidance End: 0.5" in shown


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("blur:x.png", "does not start with a control kind"),
        ("canny:{sketch}::3", "the strength must be between 0 and 2"),
        ("canny:{sketch}::0.5:0.8-0.2", "the step range 0.8-0.2"),
        ("canny:missing.png", "missing.png"),
        ("canny:", "a control needs a picture"),
    ],
)
def test_a_bad_control_is_one_argparse_line(home, tmp_path, sketch, capsys, spec, words):
    with pytest.raises(SystemExit) as exited:
        main([*GENERATE, "--control", spec.format(sketch=sketch), "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and words in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("atelier generate: error: argument --control")
