"""ComfyUI graphs beyond core nodes (issue 21): custom prompt, switch and primitive nodes,
subgraphs, resolution selectors, SamplerCustomAdvanced, two-pass (hires) graphs, LoRAs;
and hostile graphs (cycles, diamonds, deep nesting) that must end in settings or a
ValueError."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.comfyui_graph import parse_comfyui
from app.model.image_files import read_generation_info, read_text_chunks
from tests.fixtures.metadata.comfyui import build

FIXTURES = Path(build.__file__).parent
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/metadata/parsers/ComfyUI"


def _read(name: str):
    info = read_generation_info(FIXTURES / name)
    assert info is not None and info.source == "comfyui"
    return info


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_reads_its_expected_settings(name: str) -> None:
    info = _read(name)
    assert {field: getattr(info, field) for field in EXPECTED[name]} == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(build.GRAPHS))
def test_fixture_pictures_hold_the_builders_graphs(name: str) -> None:
    chunks = build.GRAPHS[name]()
    stored = read_text_chunks(FIXTURES / name)
    assert {k: json.loads(stored[k]) for k in chunks} == {
        k: json.loads(v) for k, v in chunks.items()
    }
    assert name in EXPECTED


def test_hires_pass_behind_a_latent_upscale_with_the_lower_id() -> None:
    info = _read("hires_latent_two_pass.png")
    assert info.extras["Hires upscale"] == "1.5"
    assert info.extras["Hires steps"] == "12"
    assert info.extras["Denoising strength"] == "0.45"
    assert info.extras["Hires upscaler"] == "Latent (bislerp)"
    assert "Hires resize" not in info.extras


def test_hires_pass_through_an_upscale_model_in_pixel_space() -> None:
    info = _read("hires_model_upscale.png")
    assert info.extras["Hires upscaler"] == "4x-UltraSharp"
    assert info.extras["Hires upscale"] == "2"  # 4x model, then scaled by 0.5
    assert (info.extras["Hires steps"], info.extras["Denoising strength"]) == ("10", "0.3")
    assert info.extras["Hires sampler"] == "DPM++ 2M Karras"


def test_flux_guidance_and_loras() -> None:
    flux = _read("flux_sampler_custom_advanced.png")
    assert flux.extras["Distilled CFG Scale"] == "3.5"
    assert flux.extras["Loras"] == "film_grain (0.7)"
    assert flux.extras["Schedule type"] == "simple"
    assert _read("lora_chain.png").extras["Loras"] == "ink (0.8), detail (0.25), rim (0.5)"
    assert _read("efficiency_nodes.png").extras["Loras"] == "add_detail (0.6)"


def test_refiner_pass_is_named_with_its_switch_point() -> None:
    from tests.test_generation_info import COMFY_SDXL

    info = parse_comfyui(json.dumps(COMFY_SDXL))
    assert info.extras["Refiner"] == "sd_xl_refiner_1.0"
    assert info.extras["Refiner switch at"] == "0.8"
    assert not any(key.startswith("Hires") for key in info.extras)


def _graph(**nodes) -> str:
    return json.dumps(
        {k.removeprefix("n"): {"class_type": c, "inputs": i} for k, (c, i) in nodes.items()}
    )


def _sampler(**over) -> tuple[str, dict]:
    inputs = {"seed": 1, "steps": 9, "cfg": 3, "sampler_name": "euler", "scheduler": "normal"}
    inputs |= {"positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0]}
    return "KSampler", inputs | over


def test_img2img_reports_its_denoise_and_no_size() -> None:
    info = parse_comfyui(
        _graph(
            n1=_sampler(denoise=0.6, latent_image=["5", 0]),
            n2=("CLIPTextEncode", {"text": "a boat"}),
            n5=("VAEEncode", {"pixels": ["6", 0]}),
            n6=("LoadImage", {"image": "boat.png"}),
        )
    )
    assert info.extras["Denoising strength"] == "0.6"
    assert (info.width, info.height, info.prompt) == (None, None, "a boat")


def test_cycles_in_links_end() -> None:
    info = parse_comfyui(
        _graph(
            n1=_sampler(seed=["7", 0], latent_image=["8", 0], model=["9", 0]),
            n2=("ConditioningCombine", {"conditioning_1": ["2", 0], "conditioning_2": ["6", 0]}),
            n3=("CLIPTextEncode", {"text": ["10", 0]}),
            n6=("CLIPTextEncode", {"text": ["11", 0]}),
            n7=("ImpactSwitch", {"select": ["7", 0], "input1": ["7", 0]}),
            n8=("LatentUpscale", {"width": ["8", 0], "height": 64, "samples": ["8", 0]}),
            n9=("LoraLoader", {"lora_name": "a.safetensors", "model": ["9", 0]}),
            n10=("Text Concatenate", {"text_a": ["10", 0], "text_b": "tail"}),
            n11=("ShowText|pysssss", {"text": ["11", 0]}),
        )
    )
    assert info.steps == 9
    assert (info.seed, info.width, info.prompt) == (None, None, "")
    assert info.negative_prompt == "tail"
    samplers_in_a_loop = _graph(
        n1=_sampler(latent_image=["2", 0]), n2=_sampler(latent_image=["1", 0], steps=4)
    )
    assert parse_comfyui(samplers_in_a_loop).steps == 9


def test_diamonds_and_deep_nesting_stay_bounded() -> None:
    nodes = {"n2": ("CLIPTextEncode", {"text": ["100", 0]})}
    for i in range(100, 400):  # each joins the next one twice: 2**300 paths unbounded
        nodes[f"n{i}"] = (
            "StringConcatenate",
            {"string_a": [str(i + 1), 0], "string_b": [str(i + 1), 0]},
        )
    nodes["n400"] = ("String Literal", {"string": "x"})
    for i in range(500, 3000):  # switches whose selectors are switches
        nodes[f"n{i}"] = ("ImpactSwitch", {"select": [str(i + 1), 0], "input1": [str(i + 1), 0]})
    nodes["n1"] = _sampler(seed=["500", 0])
    info = parse_comfyui(_graph(**nodes))
    assert info.steps == 9 and info.seed is None
    assert len(info.prompt) <= 100_000


def _subgraph_workflow(inner_type: str, inner_links: list, outer_links: list) -> str:
    """An instance (5) of subgraph "sg" holding one node (1) of `inner_type`."""
    inner = {
        "id": 1,
        "type": inner_type,
        "inputs": [{"name": "latent_image", "link": 1}],
        "widgets_values": [3, "fixed", 9, 7, "euler", "normal", 1],
    }
    definition = {"id": "sg", "nodes": [inner], "links": inner_links}
    link = outer_links[0][0] if outer_links else None
    outer = [{"id": 5, "type": "sg", "inputs": [{"name": "x", "link": link}]}]
    return json.dumps(
        {"nodes": outer, "links": outer_links, "definitions": {"subgraphs": [definition]}}
    )


def test_subgraphs_nested_in_themselves_and_looping_links_end() -> None:
    with pytest.raises(ValueError, match="no KSampler"):
        parse_comfyui(None, _subgraph_workflow("sg", [], []))  # instances of itself, depth-bounded
    inner_links = [
        {"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 1, "target_slot": 0},
        {"id": 2, "origin_id": -10, "origin_slot": 0, "target_id": -20, "target_slot": 0},
    ]
    # the instance's output goes back into its own input, which is its output...
    info = parse_comfyui(None, _subgraph_workflow("KSampler", inner_links, [[7, 5, 0, 5, 0]]))
    assert (info.steps, info.seed, info.width) == (9, 3, None)


def test_promoted_subgraph_widgets_reach_the_inner_node() -> None:
    data = json.loads(build.subgraph_workflow()["workflow"])
    instance = next(n for n in data["nodes"] if n["type"] == build.SUBGRAPH_ID)
    instance["properties"] = {"proxyWidgets": [["1", "steps"], ["4", "width"]]}
    instance["widgets_values"] = [40, 896]
    info = parse_comfyui(None, json.dumps(data))
    assert (info.steps, info.width, info.height) == (40, 896, 1344)


def _corpus(name: str):
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared metadata corpus is not on this machine")
    info = read_generation_info(path)
    assert info is not None
    return info


def test_real_two_pass_graph_reads_the_base_pass_and_its_hires_step() -> None:
    info = _corpus("night_evening_day_morning_cropped.png")
    assert (info.seed, info.steps, info.cfg_scale) == (335608130539327, 13, 8.5)
    assert (info.width, info.height, info.model) == (704, 1280, "Anything-V3.0")
    assert info.extras["Hires resize"] == "1088x1920"
    assert (info.extras["Hires steps"], info.extras["Denoising strength"]) == ("14", "0.5")
    assert info.extras["Hires checkpoint"] == "AbyssOrangeMix2_hard"


def test_real_unclip_two_pass_graph() -> None:
    info = _corpus("unclip_2pass_cropped.png")
    assert (info.steps, info.width, info.height) == (26, 1280, 704)
    assert (info.extras["Hires steps"], info.extras["Denoising strength"]) == ("8", "0.52")


def test_real_three_subject_graph_starts_from_the_empty_canvas() -> None:
    info = _corpus("noisy_latents_3_subjects_cropped.png")
    assert (info.seed, info.width, info.height) == (512136241112371, 1280, 704)
    assert info.extras["Hires resize"] == "1920x1088"
    assert info.extras["Hires steps"] == "9"


def test_real_img2img_graph() -> None:
    info = _corpus("img2img_cropped.png")
    assert info.extras["Denoising strength"] == "0.87"
    assert (info.steps, info.width) == (20, None)


_KINDS = [
    "KSampler",
    "SamplerCustomAdvanced",
    "CLIPTextEncode",
    "StringConcatenate",
    "ImpactSwitch",
    "CR Text Input Switch",
    "LatentUpscale",
    "EmptyLatentImage",
    "LoraLoader",
    "BasicGuider",
    "RandomNoise",
    "BasicScheduler",
    "Power Lora Loader (rgthree)",
]
_KEYS = ["text", "string_a", "string_b", "select", "input1", "Input", "text1", "model"]
_KEYS += ["positive", "negative", "latent_image", "samples", "width", "height", "seed"]
_KEYS += ["noise", "guider", "sigmas", "conditioning", "steps", "lora_1", "dimensions"]


@st.composite
def _linked_graphs(draw):
    """Graphs of the node kinds read here whose inputs link anywhere, cycles included."""
    count = draw(st.integers(1, 12))
    ids = [str(i) for i in range(count)]
    values = st.sampled_from(ids).map(lambda nid: [nid, 0]) | st.one_of(
        st.integers(-5, 2000), st.text(max_size=12), st.none(), st.booleans()
    )
    return {
        nid: {
            "class_type": draw(st.sampled_from(_KINDS)),
            "inputs": draw(st.dictionaries(st.sampled_from(_KEYS), values, max_size=8)),
        }
        for nid in ids
    }


@settings(max_examples=200, database=None, deadline=None)
@given(_linked_graphs())
def test_any_linked_graph_gives_settings_or_a_value_error(graph) -> None:
    with contextlib.suppress(ValueError):
        parse_comfyui(json.dumps(graph))
    nodes = [
        {
            "id": int(nid),
            "type": node["class_type"],
            "widgets_values": list(node["inputs"].values()),
        }
        for nid, node in graph.items()
    ]
    with contextlib.suppress(ValueError):
        parse_comfyui(None, json.dumps({"nodes": nodes, "definitions": {"subgraphs": []}}))


def test_styler_outputs_text_string_and_dict_file_names() -> None:
    styler = ("SDXLPromptStyler", {"text_positive": "a cat", "text_negative": "dog"})
    loader = ("CheckpointLoader|pysssss", {"ckpt_name": {"content": "base.safetensors"}})
    lora = {"lora_name": {"content": "x/ink.safetensors"}, "strength_model": 1, "model": ["10", 0]}
    graph = {
        "n1": _sampler(model=["9", 0]),
        "n2": ("CLIPTextEncode", {"text": ["5", 0]}),
        "n3": ("CLIPTextEncode", {"text": ["5", 1]}),
        "n5": styler,
        "n9": ("LoraLoader|pysssss", lora),
        "n10": loader,
    }
    info = parse_comfyui(_graph(**graph))
    assert (info.prompt, info.negative_prompt) == ("a cat", "dog")
    assert (info.model, info.extras["Loras"]) == ("base", "ink (1)")
    # WAS' Text String has text_b, text_c... as outputs of their own: not joined
    graph["n3"] = ("CLIPTextEncode", {"text": ["6", 0]})
    graph["n6"] = ("Text String", {"text": "a red door", "text_b": "x", "text_c": "y"})
    assert parse_comfyui(_graph(**graph)).negative_prompt == "a red door"
