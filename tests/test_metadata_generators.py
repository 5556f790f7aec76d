"""Settings written by other generators (SwarmUI, Fooocus, RuinedFooocus, InvokeAI, NovelAI,
Civitai, Stability Matrix, Hugging Face Spaces, ComfyUI save nodes, A1111 stealth) are read
from the fixtures under tests/fixtures/metadata/ and from the shared corpus of real files."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.model.generation_info import GenerationInfo, parse_parameters, unused_settings
from app.model.image_files import (
    ImageReadError,
    describe,
    read_generation_info,
    settings_from_texts,
)
from app.model.invokeai_metadata import parse_dream
from app.model.metadata_json import parse_settings_json
from app.model.sampler_names import atelier_scheduler
from app.model.stealth_metadata import read_stealth_text
from tests.fixtures.metadata import build_fixtures

FIXTURES = Path(build_fixtures.__file__).parent
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "metadata" / "parsers"
CASES = [
    (folder, name, fields)
    for folder in build_fixtures.BUILDERS
    for name, fields in json.loads((FIXTURES / folder / "expected.json").read_text()).items()
]


@pytest.mark.parametrize(("folder", "name", "expected"), CASES, ids=[c[1] for c in CASES])
def test_each_generators_file_gives_its_settings(folder, name, expected) -> None:
    info = read_generation_info(FIXTURES / folder / name)
    assert info is not None
    assert {key: getattr(info, key) for key in expected} == expected


@pytest.mark.parametrize("folder", build_fixtures.BUILDERS)
def test_expected_json_names_every_picture_of_its_folder(folder) -> None:
    pictures = {p.name for p in (FIXTURES / folder).iterdir() if p.suffix != ".json"}
    assert set(json.loads((FIXTURES / folder / "expected.json").read_text())) == pictures


def test_hires_pass_denoise_and_loras_are_read_and_shown() -> None:
    forge = read_generation_info(FIXTURES / "a1111" / "forge.png")
    assert forge.extras["Hires upscale"] == "1.5"
    assert forge.extras["Denoising strength"] == "0.45"
    swarm = read_generation_info(FIXTURES / "swarmui" / "swarmui.png")
    assert swarm.extras["Hires upscale"] == "1.5"
    assert swarm.model_hash == "0x1b8ed6a8"
    invoke = read_generation_info(FIXTURES / "invokeai" / "invokeai_metadata.png")
    assert (invoke.extras["Hires method"], invoke.extras["Hires denoise"]) == ("ESRGAN", "0.45")
    assert invoke.model_hash == "blake3:5d2c"
    space = read_generation_info(FIXTURES / "huggingface_space" / "animagine_space.png")
    assert space.extras["Hires upscale"] == "1.5"
    assert space.model_hash == "e3c47aedb0"
    text = describe(invoke)
    assert text.startswith("Source:     InvokeAI 4.2.9\nModel:      juggernautXL_v9 [blake3:5d2c]")
    assert "  Hires method: ESRGAN" in text


def test_fields_atelier_has_no_setting_for_are_kept_as_extras() -> None:
    info = read_generation_info(FIXTURES / "fooocus" / "fooocus_scheme.png")
    assert info.source == "other"
    assert info.extras["sharpness"] == "2"
    assert info.extras["styles"] == "['Fooocus V2', 'Fooocus Sharp']"
    assert "adm_guidance: (1.5, 0.8, 0.3)" in describe(info)


def test_json_in_parameters_is_never_taken_for_a_prompt() -> None:
    with pytest.raises(ValueError, match="no generation settings Atelier knows"):
        parse_settings_json('{"colour": "red", "size": 3}')
    with pytest.raises(ValueError, match="no generation settings"):
        settings_from_texts({"parameters": '{"colour": "red"}'})
    with pytest.raises(ValueError, match="not valid JSON"):
        settings_from_texts({"parameters": '{"prompt": "a cat", '})
    dynamic = settings_from_texts({"parameters": "{red|blue} car\nSteps: 5"})
    assert (dynamic.prompt, dynamic.steps) == ("{red|blue} car", 5)


def test_swarmui_json_is_kept_when_its_graph_tells_no_more() -> None:
    texts = {
        "parameters": json.dumps(
            {"sui_image_params": {"prompt": "json prompt", "negativeprompt": "n", "seed": 5,
                                  "steps": 9, "cfgscale": 3, "width": 64, "height": 64,
                                  "sampler": "euler", "model": "m", "swarm_version": "1"}}
        ),
        "prompt": json.dumps(build_fixtures.GRAPH),
    }  # fmt: skip
    info = settings_from_texts(texts)
    assert (info.prompt, info.steps, info.generator) == ("json prompt", 9, "SwarmUI 1")


def test_another_programs_comment_chunk_is_not_settings() -> None:
    assert settings_from_texts({"Comment": "Created with GIMP", "Software": "GIMP"}) is None


def test_capitalised_cfg_scale_and_whole_civitai_resources() -> None:
    resources = '[{"type":"checkpoint","modelName":"A, B","modelVersionName":"v2"},{"type":"lora"}]'
    info = parse_parameters(
        f"cat\nSteps: 5, CFG Scale: 4.5, Civitai resources: {resources}, Seed: 3"
    )
    assert (info.cfg_scale, info.seed, info.model) == (4.5, 3, "A, B v2")
    assert info.extras["Civitai resources"] == resources
    assert info.generator == "Civitai"


def test_an_unclosed_json_value_is_left_to_the_usual_reading() -> None:
    info = parse_parameters("cat\nSteps: 5, Civitai resources: [{, Seed: 3")
    assert (info.steps, info.seed) == (5, 3)


@pytest.mark.parametrize(
    ("raw", "prompt"),
    [("#テスト cat".encode(), "#テスト cat"), ("café".encode("latin-1"), "café")],
    ids=["utf-8", "latin-1"],
)
def test_text_chunks_are_utf8_when_valid_else_latin1(tmp_path, raw, prompt) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(build_fixtures.png({"parameters": raw + b"\nSteps: 5"}))
    assert read_generation_info(path).prompt == prompt


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Euler Ancestral Karras", ("Euler a", "Karras")),
        ("euler_ancestral_karras", ("Euler a", "Karras")),
        ("sample_dpmpp_2m", ("DPM++ 2M", None)),
        ("k_dpmpp_2m", ("DPM++ 2M", None)),
        ("dpmpp_2m_k", ("DPM++ 2M Karras", None)),
        ("DPM++ 2M Karras", ("DPM++ 2M Karras", None)),
        ("k_euler_a", ("Euler a", None)),
        ("k_lms", ("k_lms", None)),
        ("dpmpp_2m_sde_gpu", ("dpmpp_2m_sde_gpu", None)),
    ],
)
def test_other_tools_sampler_names_map_to_atelier_names(name, expected) -> None:
    assert atelier_scheduler(name) == expected


def test_dream_lines_that_are_not_ones_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse_dream('"unclosed -s 5')
    with pytest.raises(ValueError):
        parse_dream("")


def _stealth_pixels(header: bytes, side: int = 24) -> np.ndarray:
    pixels = np.full((side, side, 4), 255, np.uint8)
    bits = np.unpackbits(np.frombuffer(header, np.uint8))
    alpha = pixels[..., 3].T.copy().reshape(-1)
    alpha[: len(bits)] &= 0xFE | bits
    pixels[..., 3] = alpha.reshape(side, side).T
    return pixels


def test_stealth_text_is_read_and_damage_is_a_sentence() -> None:
    text = b"a cat\nSteps: 3"
    good = _stealth_pixels(b"stealth_pnginfo" + struct.pack(">I", len(text) * 8) + text)
    assert read_stealth_text(good) == "a cat\nSteps: 3"
    too_long = _stealth_pixels(b"stealth_pnginfo" + struct.pack(">I", 10**9))
    with pytest.raises(ValueError, match="damaged"):
        read_stealth_text(too_long)
    bad_gzip = _stealth_pixels(b"stealth_pngcomp" + struct.pack(">I", 16) + b"xx")
    with pytest.raises(ValueError, match="damaged"):
        read_stealth_text(bad_gzip)
    assert read_stealth_text(np.full((24, 24, 4), 255, np.uint8)) is None
    zipped = gzip.compress(text)
    rgb = np.zeros((32, 32, 3), np.uint8)
    data = b"stealth_rgbcomp" + struct.pack(">I", len(zipped) * 8) + zipped
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    flat = rgb.transpose(1, 0, 2).copy().reshape(-1)
    flat[: len(bits)] = bits
    assert read_stealth_text(flat.reshape(32, 32, 3).transpose(1, 0, 2)) == text.decode()


def test_damaged_stealth_text_in_a_file_names_the_file(tmp_path) -> None:
    path = tmp_path / "s.png"
    pixels = _stealth_pixels(b"stealth_pnginfo" + struct.pack(">I", 10**9))
    Image.fromarray(pixels).save(path)
    with pytest.raises(ImageReadError, match=r"s\.png.*damaged"):
        read_generation_info(path)


def test_describe_names_the_generator() -> None:
    info = GenerationInfo(prompt="p", source="other", generator="Fooocus 2.1")
    assert describe(info).startswith("Source:     Fooocus 2.1\n")
    assert describe(GenerationInfo(prompt="p", source="other")).startswith(
        "Source:     another generator"
    )


# ---- real files from other projects (../shared/corpus/metadata) --------------------------------

CORPUS_CASES = {
    "AUTOMATIC1111/automatic1111_cropped.jpg": ("photo of a duck", 235284042, "UniPC", ""),
    "AUTOMATIC1111/automatic1111_stealth.png": (
        "a circle", 2015833630, "Euler", "AUTOMATIC1111 v1.9.4-169-ga30b19dd"),
    "Fooocus/fooocus1_cropped.png": (
        "a smiling goldfish", 6952411511246973023, "dpmpp_2m_sde_gpu", "Fooocus v2.4.3"),
    "InvokeAI/invokeai_dream1.png": (None, 2980747362, "k_lms", "InvokeAI"),
    "InvokeAI/invokeai_sdmeta1.png": (None, 2980747362, "k_lms", "InvokeAI 2.3.0"),
    "InvokeAI/invokeai_imeta1.png": (
        "digital artwork, oil painting. painterly brushstrokes, holidays,", 3293022630, "Euler",
        "InvokeAI"),
    "NovelAI/novelai1_cropped.png": (
        "masterpiece, best quality,  cat, space, icon", 2253955223, "Euler a", "NovelAI"),
}  # fmt: skip


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not here ({CORPUS})")
@pytest.mark.parametrize("name", CORPUS_CASES)
def test_real_files_of_other_generators(name) -> None:
    prompt, seed, scheduler, generator = CORPUS_CASES[name]
    info = read_generation_info(CORPUS / name)
    assert (info.seed, info.scheduler, info.generator) == (seed, scheduler, generator)
    if prompt is not None:
        assert info.prompt == prompt
    assert not info.prompt.lstrip().startswith("{")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not here ({CORPUS})")
def test_real_invokeai_2_files_split_the_negative_prompt() -> None:
    info = read_generation_info(CORPUS / "InvokeAI" / "invokeai_sdmeta1.png")
    assert info.negative_prompt == "rendering, glowing eyes, skinny"
    assert info.prompt.endswith("film grain, low contrast")
    assert (info.width, info.height, info.model) == (512, 768, "deliberateForInvoke_v08")


def test_unused_settings_are_listed_short_and_counted() -> None:
    extras = {f"Key {n}": "v" * (50 if n == 0 else 1) for n in range(10)}
    info = GenerationInfo(source="other", extras={"Version": "x 1", "date": "2024", **extras})
    listed = unused_settings(info)
    assert listed[0] == f"Key 0 ({'v' * 39}…)"
    assert listed[1:8] == [f"Key {n} (v)" for n in range(1, 8)]
    assert listed[8] == "2 more"
    assert unused_settings(GenerationInfo(extras={"Lora hashes": "a: 1"})) == []


def test_a_stealth_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (17 * 1024 * 1024))
    pixels = _stealth_pixels(b"stealth_pngcomp" + struct.pack(">I", len(bomb) * 8) + bomb, 400)
    with pytest.raises(ValueError, match="too large"):
        read_stealth_text(pixels)


def test_novelai_4_prompts_come_from_its_captions() -> None:
    comment = {
        "v4_prompt": {"caption": {"base_caption": "a fox", "char_captions": []}},
        "v4_negative_prompt": {"caption": {"base_caption": "blurry"}},
        "steps": 23, "scale": 5, "uc": "", "sampler": "k_euler", "seed": 1,
    }  # fmt: skip
    info = parse_settings_json(json.dumps({"Software": "NovelAI", "Comment": json.dumps(comment)}))
    assert (info.prompt, info.negative_prompt, info.steps) == ("a fox", "blurry", 23)
    assert info.scheduler == "Euler" and "v4_prompt" not in info.extras


def test_a_user_comment_without_its_charset_prefix_is_read_whole(tmp_path) -> None:
    record = {"Software": "NovelAI", "Comment": json.dumps({"prompt": "owl", "steps": 9})}
    path = tmp_path / "bare.webp"
    path.write_bytes(build_fixtures.with_exif("WEBP", {}, {0x9286: json.dumps(record).encode()}))
    info = read_generation_info(path)
    assert (info.prompt, info.steps, info.generator) == ("owl", 9, "NovelAI")


def test_atelier_info_names_the_generator_and_shows_every_field(capsys) -> None:
    assert main(["info", str(FIXTURES / "stability_matrix" / "stability_matrix.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Source:     Stability Matrix\n")
    assert "Prompt:     #テスト, a glass teapot, 日本" in out and "Negative:   ぼやけ" in out
    assert main(["info", str(FIXTURES / "ruinedfooocus" / "ruinedfooocus.png")]) == 0
    out = capsys.readouterr().out
    assert "Source:     RuinedFooocus" in out and "Denoising strength: 1.0" in out
