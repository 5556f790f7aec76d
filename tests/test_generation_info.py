"""Generation settings: A1111 text written and read back, ComfyUI graphs, Atelier recipes."""

from __future__ import annotations

import json

import pytest

from app.model.comfyui_graph import parse_comfyui
from app.model.generation_info import (
    GenerationInfo,
    atelier_scheduler,
    format_atelier,
    format_parameters,
    info_from_recipe,
    parse_atelier,
    parse_parameters,
)
from plugins.diffusion.schedulers import SCHEDULER_NAMES

# ---- A1111 text: format -> parse round trips --------------------------------------------------

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

ROUND_TRIPS = [
    FULL,
    GenerationInfo(),
    GenerationInfo(prompt="only a prompt"),
    GenerationInfo(negative_prompt="only a negative prompt", steps=4),
    GenerationInfo(prompt='a "quoted" cat, sitting: on a mat', negative_prompt='no "dogs", ever'),
    GenerationInfo(prompt="line one\nline two, with comma\n\nline four", negative_prompt="n1\nn2"),
    GenerationInfo(prompt="猫が窓辺で眠る, 水彩画", negative_prompt="ぼやけた", model="アニメ_v2"),
    GenerationInfo(prompt="emoji 🦊 and accents éàü", cfg_scale=6.5, seed=0),
    GenerationInfo(prompt="Steps: 99, Sampler: fake, CFG scale: 1\nstairs", steps=30, seed=7),
    GenerationInfo(prompt="(masterpiece:1.2), <lora:add_detail:0.6>", cfg_scale=12.25),
    GenerationInfo(seed=2**63 + 11, width=1024, height=1024, model="sd_xl_base_1.0"),
    GenerationInfo(prompt="p", extras={"Clip skip": "2", "VAE": "sdxl_vae.safetensors"}),
    GenerationInfo(prompt="p", extras={"Lora hashes": "add_detail: 7c6bad76eb54, x: 1"}),
    GenerationInfo(prompt="p", extras={"Note": 'said "hi", left', "Multi": "a\nb"}),
    GenerationInfo(prompt="p", extras={"Padded": "  spaced  ", "Empty": ""}),
    GenerationInfo(prompt="p", model="name, with: colon"),
    GenerationInfo(prompt="p", scheduler="Euler", extras={"Schedule type": "Karras"}),
    GenerationInfo(prompt="p", extras={"Version": "v1.10.1"}, source="a1111"),
] + [GenerationInfo(prompt="p", steps=25, scheduler=name) for name in SCHEDULER_NAMES]


@pytest.mark.parametrize("info", ROUND_TRIPS, ids=range(len(ROUND_TRIPS)))
def test_format_then_parse_gives_the_same_settings(info: GenerationInfo) -> None:
    assert parse_parameters(format_parameters(info)) == info


def test_format_uses_the_exact_a1111_layout() -> None:
    text = format_parameters(
        GenerationInfo(**{**FULL.__dict__, "scheduler": "DPM++ 2M Karras", "extras": {}})
    )
    assert text == (
        "a watercolor fox in a snowy forest\n"
        "Negative prompt: blurry, lowres\n"
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 123, "
        "Size: 512x768, Model hash: 879db523c3, Model: dreamshaper_8, Version: atelier 0.1.0"
    )


def test_format_omits_an_empty_negative_prompt_and_quotes_like_a1111() -> None:
    info = GenerationInfo(prompt="cat", steps=5, extras={"Lora hashes": "a: 1, b: 2"})
    assert format_parameters(info) == (
        'cat\nSteps: 5, Lora hashes: "a: 1, b: 2", Version: atelier 0.1.0'
    )


def test_atelier_version_marks_the_source_and_is_not_kept_as_an_extra() -> None:
    info = parse_parameters("cat\nSteps: 5, Version: atelier 0.1.0")
    assert info.source == "atelier"
    assert info.extras == {}
    assert parse_parameters("cat\nSteps: 5, Version: v1.10.1").source == "a1111"


def test_to_settings_holds_only_what_was_recorded() -> None:
    assert GenerationInfo(prompt="cat", steps=5).to_settings() == {
        "prompt": "cat",
        "negative_prompt": "",
        "steps": 5,
    }
    assert FULL.to_settings()["scheduler"] == "Euler a"
    assert set(FULL.to_settings()) == {
        "prompt",
        "negative_prompt",
        "steps",
        "cfg_scale",
        "seed",
        "width",
        "height",
        "scheduler",
        "model",
    }


def test_infos_are_hashable_and_compare_by_value() -> None:
    twin = GenerationInfo(**FULL.__dict__)
    assert twin == FULL and hash(twin) == hash(FULL)
    assert len({FULL, twin, GenerationInfo(prompt="p", extras={"a": "b"})}) == 2


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source"):
        GenerationInfo(source="midjourney")


# ---- A1111 text written by A1111 / Forge ------------------------------------------------------

A1111_OLD_STYLE = """\
masterpiece, best quality, 1girl, solo, (detailed eyes:1.2), cherry blossoms,
<lora:add_detail:0.6>, looking at viewer
Negative prompt: (worst quality, low quality:1.4), easynegative, ng_deepnegative_v1_75t
Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 2940518839, Size: 512x768, \
Model hash: 7f96a1a9ca, Model: anythingV5_PrtRE, Denoising strength: 0.45, Clip skip: 2, \
ENSD: 31337, Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, \
Lora hashes: "add_detail: 7c6bad76eb54", \
TI hashes: "easynegative: c74b4e810b03, ng_deepnegative_v1_75t: 54e7e4826d53", Version: v1.6.0"""

A1111_NEW_STYLE_ADETAILER = """\
cinematic photo of an old fisherman, weathered face, golden hour, 35mm, film grain
Negative prompt: cartoon, painting, illustration, (worst quality, low quality, normal quality:2)
Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 1234567890, \
Size: 832x1216, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, VAE hash: 235745af8d, \
VAE: sdxl_vae.safetensors, Denoising strength: 0.35, ADetailer model: face_yolov8n.pt, \
ADetailer prompt: "detailed face, sharp eyes", ADetailer confidence: 0.3, \
ADetailer dilate erode: 4, ADetailer mask blur: 4, ADetailer denoising strength: 0.4, \
ADetailer inpaint only masked: True, ADetailer inpaint padding: 32, ADetailer version: 24.1.2, \
Hires upscale: 1.5, Hires steps: 12, Hires upscaler: 4x-UltraSharp, Version: v1.10.1"""

FORGE_MULTILINE_NO_NEGATIVE = """\
a watercolor fox
in a snowy forest,
soft morning light
Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 768x512, \
Model hash: e6bb9ea85b, Model: sdXL_v10VAEFix, Version: f2.0.1v1.10.1-previous-519-g44eb4ea8, \
Module 1: sdxl_vae"""

A1111_CONTROLNET = """\
a modern house, architecture photo
Negative prompt: people
Steps: 25, Sampler: UniPC, CFG scale: 6, Seed: 99, Size: 768x768, Model: realisticVision, \
ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1, \
Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 100, Threshold B: 200, \
Guidance Start: 0, Guidance End: 1, Pixel Perfect: True, Control Mode: Balanced", \
Version: v1.7.0"""


def test_parse_old_style_karras_with_hires_fix_and_quoted_hashes() -> None:
    info = parse_parameters(A1111_OLD_STYLE)
    assert info.prompt == (
        "masterpiece, best quality, 1girl, solo, (detailed eyes:1.2), cherry blossoms,\n"
        "<lora:add_detail:0.6>, looking at viewer"
    )
    assert info.negative_prompt.startswith("(worst quality, low quality:1.4), easynegative")
    assert (info.steps, info.cfg_scale, info.seed) == (28, 7.0, 2940518839)
    assert (info.width, info.height) == (512, 768)
    assert info.scheduler == "DPM++ 2M Karras"
    assert (info.model, info.model_hash) == ("anythingV5_PrtRE", "7f96a1a9ca")
    assert info.source == "a1111"
    assert info.extras["Hires upscaler"] == "R-ESRGAN 4x+ Anime6B"
    assert info.extras["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert info.extras["TI hashes"] == (
        "easynegative: c74b4e810b03, ng_deepnegative_v1_75t: 54e7e4826d53"
    )
    assert info.extras["Clip skip"] == "2"
    assert info.extras["Version"] == "v1.6.0"
    assert "Sampler" not in info.extras


def test_parse_new_style_schedule_type_with_adetailer() -> None:
    info = parse_parameters(A1111_NEW_STYLE_ADETAILER)
    assert info.scheduler == "DPM++ 2M Karras"
    assert "Schedule type" not in info.extras  # folded into the scheduler name
    assert (info.width, info.height, info.cfg_scale) == (832, 1216, 5.5)
    assert info.extras["ADetailer prompt"] == "detailed face, sharp eyes"
    assert info.extras["ADetailer inpaint only masked"] == "True"
    assert info.extras["VAE"] == "sdxl_vae.safetensors"
    assert info.negative_prompt.endswith("(worst quality, low quality, normal quality:2)")


def test_parse_multiline_prompt_without_negative() -> None:
    info = parse_parameters(FORGE_MULTILINE_NO_NEGATIVE)
    assert info.prompt == "a watercolor fox\nin a snowy forest,\nsoft morning light"
    assert info.negative_prompt == ""
    assert info.scheduler == "Euler a"
    assert info.extras["Schedule type"] == "Automatic"  # kept: it is not part of the name
    assert info.extras["Module 1"] == "sdxl_vae"


def test_parse_quoted_value_full_of_commas_and_colons() -> None:
    info = parse_parameters(A1111_CONTROLNET)
    assert info.scheduler == "UniPC"
    assert info.extras["ControlNet 0"].startswith("Module: canny, Model: control_v11p_sd15")
    assert info.extras["ControlNet 0"].endswith("Control Mode: Balanced")
    assert info.extras["Version"] == "v1.7.0"


def test_a1111_output_survives_format_then_parse() -> None:
    for text in (A1111_OLD_STYLE, A1111_NEW_STYLE_ADETAILER, A1111_CONTROLNET):
        info = parse_parameters(text)
        assert parse_parameters(format_parameters(info)) == info


def test_prompt_containing_settings_text_on_an_earlier_line() -> None:
    text = (
        "Steps: 3, Sampler: Euler, CFG scale: 1, Seed: 5 -- a poster\n"
        "Negative prompt: Seed: 9, Size: 1x1\n"
        "Steps: 40, Sampler: DDIM, CFG scale: 9, Seed: 77, Size: 640x448"
    )
    info = parse_parameters(text)
    assert info.prompt == "Steps: 3, Sampler: Euler, CFG scale: 1, Seed: 5 -- a poster"
    assert info.negative_prompt == "Seed: 9, Size: 1x1"
    assert (info.steps, info.seed, info.scheduler) == (40, 77, "DDIM")


def test_text_without_a_settings_line_is_all_prompt() -> None:
    info = parse_parameters("masterpiece, (style: 1.2), (cat: 1.1), (dog:0.9)")
    assert info.prompt == "masterpiece, (style: 1.2), (cat: 1.1), (dog:0.9)"
    assert info.steps is None and info.extras == {}


def test_missing_and_malformed_fields() -> None:
    info = parse_parameters("cat\nSteps: many, Seed: 12, Size: huge, CFG scale: 4")
    assert (info.steps, info.seed, info.cfg_scale) == (None, 12, 4.0)
    assert info.width is None
    assert info.extras == {"Steps": "many", "Size": "huge"}
    assert parse_parameters("cat\nSteps: 5, CFG scale: nan").extras == {"CFG scale": "nan"}
    assert parse_parameters("") == GenerationInfo(source="a1111")


def test_windows_line_endings() -> None:
    info = parse_parameters("cat\r\nNegative prompt: dog\r\nSteps: 5, Seed: 1, Size: 64x64")
    assert (info.prompt, info.negative_prompt, info.steps) == ("cat", "dog", 5)


@pytest.mark.parametrize(
    ("sampler", "schedule", "expected"),
    [
        ("Euler a", "", ("Euler a", None)),
        ("Euler", "", ("Euler", None)),
        ("DPM++ 2M", "", ("DPM++ 2M", None)),
        ("DPM++ 2M", "Karras", ("DPM++ 2M Karras", None)),
        ("DPM++ 2M Karras", "", ("DPM++ 2M Karras", None)),
        ("k_dpmpp_2m_ka", "", ("DPM++ 2M Karras", None)),
        ("DDIM", "", ("DDIM", None)),
        ("UniPC", "", ("UniPC", None)),
        ("LCM", "", ("LCM", None)),
        ("Euler", "Karras", ("Euler", "Karras")),
        ("DPM++ SDE Karras", "", ("DPM++ SDE Karras", None)),
        ("Restart", "Exponential", ("Restart", "Exponential")),
        ("euler_ancestral", "normal", ("Euler a", "normal")),
        ("dpmpp_2m", "karras", ("DPM++ 2M Karras", None)),
        ("uni_pc", "", ("UniPC", None)),
        ("lcm", "sgm_uniform", ("LCM", "sgm_uniform")),
    ],
)
def test_sampler_names_map_to_atelier_names(sampler, schedule, expected) -> None:
    assert atelier_scheduler(sampler, schedule) == expected


def test_unknown_sampler_is_kept_verbatim_and_written_back() -> None:
    info = parse_parameters("cat\nSteps: 5, Sampler: DPM++ 2M SDE Heun, Seed: 1")
    assert info.scheduler == "DPM++ 2M SDE Heun"
    assert "Sampler: DPM++ 2M SDE Heun," in format_parameters(info)


# ---- ComfyUI ----------------------------------------------------------------------------------

COMFY_DEFAULT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"batch_size": 1, "height": 512, "width": 512},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {
            "clip": ["4", 1],
            "text": "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,",
        },
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "text, watermark"}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def _sdxl_text(text_g: str, text_l: str) -> dict:
    return {
        "class_type": "CLIPTextEncodeSDXL",
        "inputs": {
            "width": 4096,
            "height": 4096,
            "crop_w": 0,
            "crop_h": 0,
            "target_width": 4096,
            "target_height": 4096,
            "text_g": text_g,
            "text_l": text_l,
            "clip": ["12", 1],
        },
    }


def _advanced(seed, add_noise, model, positive, negative, latent, start, end) -> dict:
    return {
        "class_type": "KSamplerAdvanced",
        "inputs": {
            "add_noise": add_noise,
            "noise_seed": seed,
            "steps": 25,
            "cfg": 6.5,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "start_at_step": start,
            "end_at_step": end,
            "return_with_leftover_noise": "enable" if add_noise == "enable" else "disable",
            "model": model,
            "positive": positive,
            "negative": negative,
            "latent_image": latent,
        },
    }


# SDXL base + refiner: the refiner sampler comes first by id and starts from the base's latent;
# the seed comes from a primitive node, the base model goes through a LoRA.
COMFY_SDXL = {
    "10": _advanced(0, "disable", ["11", 0], ["15", 0], ["16", 0], ["13", 0], 20, 10000),
    "12": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "SDXL\\sd_xl_base_1.0.safetensors"},
    },
    "11": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "sd_xl_refiner_1.0.safetensors"},
    },
    "13": _advanced(["30", 0], "enable", ["20", 0], ["14", 0], ["17", 0], ["5", 0], 0, 20),
    "14": _sdxl_text("an astronaut riding a horse on mars, detailed", "photo, sharp"),
    "17": _sdxl_text("blurry, text", "blurry, text"),
    "15": {"class_type": "CLIPTextEncodeSDXLRefiner", "inputs": {"ascore": 6, "text": "x"}},
    "16": {"class_type": "CLIPTextEncodeSDXLRefiner", "inputs": {"ascore": 2.5, "text": "y"}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 1024, "height": 1152, "batch_size": 1},
    },
    "20": {
        "class_type": "LoraLoader",
        "inputs": {
            "lora_name": "styles/pixel-art-xl.safetensors",
            "strength_model": 0.8,
            "strength_clip": 1,
            "model": ["12", 0],
            "clip": ["12", 1],
        },
    },
    "30": {"class_type": "PrimitiveNode", "inputs": {"value": 987654321}},
    "40": {
        "class_type": "CLIPSetLastLayer",
        "inputs": {"stop_at_clip_layer": -2, "clip": ["12", 1]},
    },
    "41": {"class_type": "VAELoader", "inputs": {"vae_name": "sdxl_vae.safetensors"}},
}

COMFY_DEFAULT_WORKFLOW = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [
        {
            "id": 3,
            "type": "KSampler",
            "mode": 0,
            "inputs": [
                {"name": "model", "type": "MODEL", "link": 1},
                {"name": "positive", "type": "CONDITIONING", "link": 4},
                {"name": "negative", "type": "CONDITIONING", "link": 6},
                {"name": "latent_image", "type": "LATENT", "link": 2},
            ],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
        },
        {
            "id": 4,
            "type": "CheckpointLoaderSimple",
            "inputs": [],
            "widgets_values": ["v1-5-pruned-emaonly.safetensors"],
        },
        {"id": 5, "type": "EmptyLatentImage", "inputs": [], "widgets_values": [512, 640, 1]},
        {
            "id": 6,
            "type": "CLIPTextEncode",
            "inputs": [{"name": "clip", "type": "CLIP", "link": 3}],
            "widgets_values": ["beautiful scenery nature glass bottle landscape"],
        },
        {
            "id": 7,
            "type": "CLIPTextEncode",
            "inputs": [{"name": "clip", "type": "CLIP", "link": 5}],
            "widgets_values": ["text, watermark"],
        },
        {"id": 10, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 10}]},
        {
            "id": 8,
            "type": "VAEDecode",
            "inputs": [{"name": "samples", "link": 7}, {"name": "vae", "link": 8}],
        },
        {"id": 9, "type": "SaveImage", "inputs": [{"name": "images", "link": 9}]},
    ],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"],
        [2, 5, 0, 3, 3, "LATENT"],
        [3, 4, 1, 6, 0, "CLIP"],
        [4, 10, 0, 3, 1, "CONDITIONING"],
        [10, 6, 0, 10, 0, "CONDITIONING"],
        [5, 4, 1, 7, 0, "CLIP"],
        [6, 7, 0, 3, 2, "CONDITIONING"],
        [7, 3, 0, 8, 0, "LATENT"],
        [8, 4, 2, 8, 1, "VAE"],
        [9, 8, 0, 9, 0, "IMAGE"],
    ],
    "version": 0.4,
}


def test_comfyui_default_txt2img_graph() -> None:
    info = parse_comfyui(json.dumps(COMFY_DEFAULT), None)
    assert info.source == "comfyui"
    assert info.prompt == "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,"
    assert info.negative_prompt == "text, watermark"
    assert (info.steps, info.cfg_scale, info.seed) == (20, 8.0, 156680208700286)
    assert (info.width, info.height) == (512, 512)
    assert info.scheduler == "Euler"
    assert info.model == "v1-5-pruned-emaonly"
    assert info.extras == {"Schedule type": "normal"}


def test_comfyui_sdxl_base_and_refiner_graph() -> None:
    info = parse_comfyui(json.dumps(COMFY_SDXL), None)
    assert info.prompt == "an astronaut riding a horse on mars, detailed"
    assert info.extras["Prompt (text_l)"] == "photo, sharp"
    assert info.negative_prompt == "blurry, text"
    assert "Negative prompt (text_l)" not in info.extras  # same as text_g
    assert info.seed == 987654321  # followed to the primitive node
    assert (info.steps, info.cfg_scale, info.scheduler) == (25, 6.5, "DPM++ 2M Karras")
    assert (info.width, info.height) == (1024, 1152)
    assert info.model == "sd_xl_base_1.0"  # the base pass, through the LoRA
    assert info.extras["Loras"] == "pixel-art-xl (0.8)"
    assert info.extras["Clip skip"] == "2"
    assert info.extras["VAE"] == "sdxl_vae.safetensors"
    assert info.extras["Sampler nodes"] == "2"


def test_comfyui_conditioning_through_combine_and_controlnet_nodes() -> None:
    graph = json.loads(json.dumps(COMFY_DEFAULT))
    graph["3"]["inputs"]["positive"] = ["21", 0]
    graph["3"]["inputs"]["negative"] = ["21", 1]
    graph["3"]["inputs"]["denoise"] = 0.6
    graph["20"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["22", 0]},
    }
    graph["21"] = {
        "class_type": "ControlNetApplyAdvanced",
        "inputs": {"positive": ["20", 0], "negative": ["7", 0], "strength": 1, "image": ["9", 0]},
    }
    graph["22"] = {"class_type": "CLIPTextEncode", "inputs": {"text": ["23", 0], "clip": ["4", 1]}}
    graph["23"] = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "red sky"}}
    info = parse_comfyui(json.dumps(graph))
    assert info.prompt == (
        "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,\nred sky"
    )
    assert info.negative_prompt == "text, watermark"
    assert info.extras["Denoising strength"] == "0.6"


def test_comfyui_workflow_only() -> None:
    info = parse_comfyui(None, json.dumps(COMFY_DEFAULT_WORKFLOW))
    assert info.prompt == "beautiful scenery nature glass bottle landscape"  # through a Reroute
    assert info.negative_prompt == "text, watermark"
    assert (info.seed, info.steps, info.cfg_scale) == (156680208700286, 20, 8.0)
    assert (info.width, info.height, info.scheduler) == (512, 640, "Euler")
    assert info.model == "v1-5-pruned-emaonly"


def test_comfyui_prompt_without_sampler_falls_back_to_workflow() -> None:
    upscale_only = {"1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}}}
    info = parse_comfyui(json.dumps(upscale_only), json.dumps(COMFY_DEFAULT_WORKFLOW))
    assert info.steps == 20


@pytest.mark.parametrize(
    ("prompt", "workflow", "message"),
    [
        ("{not json", None, "ComfyUI prompt is not valid JSON"),
        ("[1, 2, 3]", None, "not a graph"),
        ('{"1": {"class_type": "LoadImage", "inputs": {}}}', None, "no KSampler"),
        (None, "{}", "no list of nodes"),
        (None, '{"nodes": "x"', "ComfyUI workflow is not valid JSON"),
        ('{"3": {"class_type": "KSampler", "inputs": {"steps": 5, "positive": [1]}}}', None, ""),
    ],
)
def test_comfyui_bad_input_gives_a_clear_value_error(prompt, workflow, message) -> None:
    if not message:  # odd but harmless graphs still give what they can
        assert parse_comfyui(prompt, workflow).steps == 5
        return
    with pytest.raises(ValueError, match=message):
        parse_comfyui(prompt, workflow)


def test_comfyui_garbage_node_inputs_do_not_crash() -> None:
    graph = {
        "1": {"class_type": "KSampler", "inputs": {"steps": "x", "model": ["2", 0], "seed": [9]}},
        "2": {"class_type": "Weird", "inputs": [1, 2]},
        "3": "not a node",
        "4": {"class_type": "CLIPSetLastLayer", "inputs": {"stop_at_clip_layer": "deep"}},
    }
    info = parse_comfyui(json.dumps(graph))
    assert (info.steps, info.seed, info.model) == (None, None, None)


# ---- Atelier's JSON chunk ---------------------------------------------------------------------


def test_atelier_chunk_round_trip_keeps_everything() -> None:
    info = GenerationInfo(**{**FULL.__dict__, "extras": {"Clip skip": "2"}})
    recipe = {"task": "diffusion.txt2img", "version": 1, "params": {"seed": 123}}
    text = format_atelier(info, recipe)
    assert parse_atelier(text) == info
    assert json.loads(text)["recipe"] == recipe
    assert parse_atelier(text).recipe == recipe  # its task and own params, for Reuse settings
    assert "recipe" not in json.loads(text)["generation"]  # written once
    assert parse_atelier(format_atelier(info)).recipe is None


def test_atelier_chunk_from_a_recipe_only() -> None:
    recipe = {
        "task": "diffusion.txt2img",
        "version": 1,
        "params": {
            "prompt": "a red fox",
            "negative_prompt": "",
            "steps": 25,
            "cfg_scale": 7.0,
            "width": 512,
            "height": 512,
            "seed": 42,
            "batch_count": 1,
            "scheduler": "Euler a",
            "model": "tiny-sd",
        },
        "model": {"name": "tiny-sd", "family": "sd15", "hash": "0123456789"},
    }
    expected = info_from_recipe(recipe)
    assert expected.model_hash == "0123456789"
    assert (expected.prompt, expected.seed, expected.scheduler) == ("a red fox", 42, "Euler a")
    assert parse_atelier(json.dumps({"recipe": recipe})) == expected
    assert parse_atelier(json.dumps({"recipe": recipe})).recipe == recipe


@pytest.mark.parametrize(("text", "message"), [("{", "not valid JSON"), ("[]", "no generation")])
def test_atelier_chunk_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_atelier(text)
