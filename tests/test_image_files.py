"""Image files: PNGs written atomically with their settings, read back from Atelier, A1111 and
ComfyUI files, and described for `atelier info`."""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

import engine.file_writing
from app.model.generation_info import GenerationInfo, format_parameters
from app.model.image_files import (
    ImageReadError,
    ImageWriteError,
    describe,
    generation_text_chunks,
    read_generation_info,
    read_text_chunks,
    save_png,
)
from app.model.image_import import read_image
from engine.protocol import ImageData
from plugins.image_export.writers import write_png

FULL = GenerationInfo(
    prompt="a watercolor fox in a snowy forest",
    negative_prompt="blurry, lowres",
    steps=20,
    cfg_scale=7.0,
    seed=123,
    width=512,
    height=768,
    scheduler="Euler a",
    model="dreamshaper_8",
    model_hash="879db523c3",
)
A1111_TEXT = """\
cinematic photo of an old fisherman, weathered face, golden hour
Negative prompt: cartoon, painting, (worst quality, low quality:2)
Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 1234567890, \
Size: 832x1216, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, ADetailer model: face_yolov8n.pt, \
ADetailer prompt: "detailed face, sharp eyes", Lora hashes: "add_detail: 7c6bad76eb54", \
Version: v1.10.1"""
COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "euler_ancestral",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5.safetensors"}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"batch_size": 1, "height": 512, "width": 512},
    },
    "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "glass bottle"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "text, watermark"}},
}
COMFY_WORKFLOW = {
    "nodes": [
        {
            "id": 3,
            "type": "KSampler",
            "inputs": [
                {"name": "model", "type": "MODEL", "link": 1},
                {"name": "positive", "type": "CONDITIONING", "link": 4},
                {"name": "negative", "type": "CONDITIONING", "link": 6},
                {"name": "latent_image", "type": "LATENT", "link": 2},
            ],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
        },
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["v1-5.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "widgets_values": [512, 640, 1]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["glass bottle"]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["text, watermark"]},
    ],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"],
        [2, 5, 0, 3, 3, "LATENT"],
        [4, 6, 0, 3, 1, "CONDITIONING"],
        [6, 7, 0, 3, 2, "CONDITIONING"],
    ],
}


def _pixels(alpha: int | None = None, size: tuple[int, int] = (24, 16)) -> np.ndarray:
    h, w = size
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    rgba[..., 3] = 255 if alpha is None else alpha
    return rgba


TEXT_CHUNKS = (b"tEXt", b"iTXt", b"zTXt")


def _chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk in a PNG file, read with nothing but struct."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        out.append((kind, body))
        pos += 12 + length
    return out


# ---- writing ----------------------------------------------------------------------------------


def test_save_png_round_trips_pixels_and_text(tmp_path: Path) -> None:
    rgba = _pixels(alpha=None)
    rgba[0, 0, 3] = 10  # not fully opaque: RGBA
    path = save_png(tmp_path / "out.png", rgba, {"parameters": "a cat", "Software": "Atelier"})
    assert path == tmp_path / "out.png"
    with Image.open(path) as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image), rgba)
        assert image.text == {"parameters": "a cat", "Software": "Atelier"}
    assert [kind for kind, _ in _chunks(path)].count(b"tEXt") == 2


def test_fully_opaque_image_is_saved_as_rgb(tmp_path: Path) -> None:
    rgba = _pixels()
    path = save_png(tmp_path / "opaque.png", rgba, {})
    with Image.open(path) as image:
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), rgba[..., :3])


def test_unicode_prompt_goes_into_itxt(tmp_path: Path) -> None:
    info = GenerationInfo(prompt="猫が窓辺で眠る 🦊", negative_prompt="ぼやけた", steps=9)
    path = save_png(tmp_path / "u.png", _pixels(), generation_text_chunks(info, None))
    chunks = dict(
        (body.split(b"\0", 1)[0], kind) for kind, body in _chunks(path) if kind in TEXT_CHUNKS
    )
    assert chunks == {b"parameters": b"iTXt", b"atelier": b"iTXt"}
    assert read_generation_info(path) == info


def test_latin1_text_stays_in_plain_text_chunks(tmp_path: Path) -> None:
    path = save_png(tmp_path / "l.png", _pixels(), {"parameters": "café, naïve\nSteps: 5"})
    assert [kind for kind, _ in _chunks(path) if kind in TEXT_CHUNKS] == [b"tEXt"]
    assert read_generation_info(path).prompt == "café, naïve"


def test_generated_png_round_trip_through_atelier_chunk(tmp_path: Path) -> None:
    info = GenerationInfo(**{**FULL.__dict__, "extras": {"Clip skip": "2"}})
    recipe = {"task": "diffusion.txt2img", "version": 1, "params": {"seed": 123}}
    chunks = generation_text_chunks(info, recipe)
    assert chunks["parameters"] == format_parameters(info)
    assert json.loads(chunks["atelier"])["recipe"] == recipe
    path = save_png(tmp_path / "gen.png", _pixels(), chunks)
    assert read_generation_info(path) == info


def test_the_png_exporter_writes_the_engine_recipe(tmp_path: Path) -> None:
    recipe = {
        "task": "diffusion.txt2img",
        "version": 1,
        "params": {"prompt": "a red fox", "steps": 12, "seed": 7, "width": 24, "height": 16},
        "model": {"name": "tiny", "family": "sd15", "hash": "abcdef0123"},
    }
    path = write_png(tmp_path / "g.png", ImageData(_pixels(), {"recipe": recipe}))
    info = read_generation_info(path)
    assert (info.prompt, info.steps, info.seed, info.model_hash) == (
        "a red fox",
        12,
        7,
        "abcdef0123",
    )
    assert read_text_chunks(path)["parameters"].startswith("a red fox\nSteps: 12,")


def test_write_keeps_the_old_file_when_the_disk_fills_midway(tmp_path, monkeypatch) -> None:
    path = save_png(tmp_path / "keep.png", _pixels(), {"parameters": "old"})
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(engine.file_writing.os, "fsync", disk_full)  # after the temp file got data
    with pytest.raises(ImageWriteError, match="No space left on device") as caught:
        save_png(path, _pixels(alpha=7), {"parameters": "new"})
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]  # no temp file left


def test_bad_pixels_are_refused_before_touching_the_file(tmp_path: Path) -> None:
    path = save_png(tmp_path / "keep.png", _pixels(), {})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="uint8"):
        save_png(path, np.zeros((4, 4, 4), np.float32), {})
    with pytest.raises(ValueError, match="key"):
        save_png(path, _pixels(), {"": "x"})
    assert path.read_bytes() == before


def test_path_under_a_regular_file_is_an_image_write_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("I am a file")
    with pytest.raises(ImageWriteError, match="not a folder") as caught:
        save_png(blocker / "out.png", _pixels(), {})
    assert str(blocker / "out.png") in str(caught.value)
    assert isinstance(caught.value, OSError)


def test_missing_folder_is_an_image_write_error(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="does not exist"):
        save_png(tmp_path / "nope" / "out.png", _pixels(), {})
    assert not (tmp_path / "nope").exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions"
)
def test_read_only_folder_is_an_image_write_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ImageWriteError, match="Permission denied"):
            save_png(folder / "out.png", _pixels(), {})
    finally:
        folder.chmod(0o700)


def test_target_that_is_a_folder_is_an_image_write_error(tmp_path: Path) -> None:
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(ImageWriteError, match="taken.png"):
        save_png(tmp_path / "taken.png", _pixels(), {})


# ---- reading ----------------------------------------------------------------------------------


def _png_with_text(path: Path, text: dict[str, str]) -> Path:
    """A PNG written the way A1111 and ComfyUI write theirs (Pillow + PngInfo)."""
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    Image.fromarray(_pixels()[..., :3]).save(path, pnginfo=info)
    return path


def test_reads_a1111_png(tmp_path: Path) -> None:
    path = _png_with_text(tmp_path / "a1111.png", {"parameters": A1111_TEXT})
    info = read_generation_info(path)
    assert info.source == "a1111"
    assert info.scheduler == "DPM++ 2M Karras"
    assert info.extras["ADetailer model"] == "face_yolov8n.pt"


def test_reads_comfyui_png(tmp_path: Path) -> None:
    path = _png_with_text(
        tmp_path / "ComfyUI_00001_.png",
        {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)},
    )
    info = read_generation_info(path)
    assert (info.source, info.seed, info.height) == ("comfyui", 156680208700286, 512)


def test_reads_comfyui_workflow_only_png(tmp_path: Path) -> None:
    path = _png_with_text(tmp_path / "wf.png", {"workflow": json.dumps(COMFY_WORKFLOW)})
    info = read_generation_info(path)
    assert (info.source, info.width, info.height) == ("comfyui", 512, 640)


def test_atelier_chunk_wins_and_a_corrupt_one_falls_back(tmp_path: Path) -> None:
    chunks = generation_text_chunks(FULL, None)
    both = _png_with_text(tmp_path / "both.png", {**chunks, "parameters": "other\nSteps: 1"})
    assert read_generation_info(both) == FULL
    broken = _png_with_text(tmp_path / "b.png", {"atelier": "{oops", "parameters": "cat\nSteps: 3"})
    assert read_generation_info(broken).steps == 3


def test_corrupt_settings_only_is_a_read_error(tmp_path: Path) -> None:
    path = _png_with_text(tmp_path / "bad.png", {"prompt": "{not json"})
    with pytest.raises(ImageReadError, match="not valid JSON"):
        read_generation_info(path)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("byte_order", ["utf-16-be", "utf-16-le"])
def test_reads_a1111_exif_user_comment(tmp_path: Path, fmt: str, byte_order: str) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + A1111_TEXT.encode(byte_order)
    path = tmp_path / f"a1111.{fmt.lower()}"
    Image.fromarray(_pixels()[..., :3]).save(path, fmt, exif=exif.tobytes())
    info = read_generation_info(path)
    assert (info.source, info.seed, info.width) == ("a1111", 1234567890, 832)


def test_reads_comfyui_webp_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "workflow:" + json.dumps(COMFY_WORKFLOW)
    exif[0x0110] = "prompt:" + json.dumps(COMFY_PROMPT)
    path = tmp_path / "ComfyUI_00001_.webp"
    Image.fromarray(_pixels()[..., :3]).save(path, "WEBP", exif=exif.tobytes())
    info = read_generation_info(path)
    assert (info.source, info.scheduler, info.prompt) == ("comfyui", "Euler a", "glass bottle")


def test_png_without_metadata_gives_none(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(_pixels()).save(path)
    assert read_generation_info(path) is None
    assert read_generation_info(save_png(tmp_path / "s.png", _pixels(), {"Title": "x"})) is None


def test_text_file_renamed_png_is_an_image_read_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("just some notes, not an image\n")
    with pytest.raises(ImageReadError, match="not an image") as caught:
        read_generation_info(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_missing_file_and_folder_are_image_read_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="missing.png"):
        read_generation_info(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="folder"):
        read_generation_info(tmp_path)


def test_truncated_png_still_gives_the_settings_before_the_pixels(tmp_path: Path) -> None:
    path = _png_with_text(tmp_path / "t.png", {"parameters": "cat\nSteps: 5, Seed: 1"})
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"IDAT") + 20])
    assert read_generation_info(path).steps == 5


# ---- describing -------------------------------------------------------------------------------


def test_describe_lists_every_recorded_setting() -> None:
    info = GenerationInfo(
        prompt="a fox\nin snow",
        negative_prompt="blurry",
        steps=30,
        cfg_scale=5.5,
        seed=42,
        width=832,
        height=1216,
        scheduler="DPM++ 2M Karras",
        model="sd_xl_base_1.0",
        model_hash="31e35c80fc",
        source="a1111",
        extras={"Clip skip": "2", "Hires upscaler": "4x-UltraSharp"},
    )
    assert describe(info).splitlines() == [
        "Source:     AUTOMATIC1111 / Forge",
        "Model:      sd_xl_base_1.0 [31e35c80fc]",
        "Prompt:     a fox",
        "            in snow",
        "Negative:   blurry",
        "Steps:      30",
        "CFG scale:  5.5",
        "Seed:       42",
        "Size:       832 x 1216",
        "Scheduler:  DPM++ 2M Karras",
        "Other settings:",
        "  Clip skip: 2",
        "  Hires upscaler: 4x-UltraSharp",
    ]


def test_describe_skips_what_is_missing() -> None:
    assert describe(GenerationInfo(source="comfyui")) == "Source:     ComfyUI\nPrompt:     (empty)"


# ---- the layering rule ------------------------------------------------------------------------


def test_app_model_imports_neither_qt_nor_torch() -> None:
    code = (
        "import sys\n"
        "import app.model.generation_info, app.model.image_files\n"
        "bad = {'PySide6', 'torch', 'diffusers', 'transformers'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


# ---- damaged pixels, in a designer's words (issue 15, defect 11) ------------------------------


@pytest.mark.parametrize("cut", [21, 45, 400])  # in the header ("Truncated File Read"), the data
def test_a_cut_off_png_says_the_file_is_incomplete(tmp_path: Path, cut: int) -> None:
    path = save_png(
        tmp_path / "cut.png", np.random.default_rng(1).integers(0, 255, (64, 64, 4), np.uint8), {}
    )
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"cannot read {path}: the file is incomplete: it ends before")
    assert "Truncated File Read" not in message and "truncated" not in message


def test_garbled_picture_data_says_the_file_is_damaged(tmp_path: Path) -> None:
    path = save_png(
        tmp_path / "bad.png", np.random.default_rng(2).integers(0, 255, (64, 64, 4), np.uint8), {}
    )
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start : start + 60] = b"x" * 60
    path.write_bytes(bytes(data))
    with pytest.raises(
        ImageReadError, match="the file is damaged: its picture data cannot be decoded"
    ):
        read_image(path)
