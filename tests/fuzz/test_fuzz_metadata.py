"""Property tests: any text or JSON in an image's metadata gives settings or a ValueError,
never another exception (issue 13)."""

from __future__ import annotations

import contextlib
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.model.comfyui_graph import parse_comfyui
from app.model.generation_info import parse_atelier, parse_parameters
from app.model.invokeai_metadata import (
    parse_dream,
    parse_invokeai_metadata,
    parse_sd_metadata,
)
from app.model.metadata_json import parse_settings_json
from app.model.stealth_metadata import SIGNATURES, read_stealth_text
from plugins.provenance.xmp import parse_xmp

FAST = settings(
    max_examples=150, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars | st.integers(min_value=10**300, max_value=10**310),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=40,
)
NODE_KEYS = ["class_type", "inputs", "type", "widgets_values", "nodes", "links", "id", "mode"]
node_like = st.dictionaries(
    st.sampled_from(NODE_KEYS + ["steps", "seed", "model", "text"]), json_values
)
graphs = st.dictionaries(st.text(max_size=3), node_like, max_size=6) | st.fixed_dictionaries(
    {"nodes": st.lists(node_like, max_size=6), "links": json_values}
)


def dumps(value) -> str:
    return json.dumps(value, allow_nan=True)


def only_value_errors(parse, *args) -> None:
    """Call the parser: a result or a ValueError is fine, anything else fails the test."""
    with contextlib.suppress(ValueError):
        parse(*args)


@FAST
@given(st.text())
def test_parameters_text_never_raises(text):
    parse_parameters(text)


@FAST
@given(json_values | graphs)
def test_atelier_chunk_gives_settings_or_value_error(value):
    only_value_errors(parse_atelier, dumps(value))
    only_value_errors(parse_atelier, dumps({"generation": value, "recipe": value}))


@FAST
@given(graphs, graphs)
def test_comfyui_graphs_give_settings_or_value_error(prompt, workflow):
    only_value_errors(parse_comfyui, dumps(prompt), dumps(workflow))
    only_value_errors(parse_comfyui, None, dumps(workflow))


@FAST
@given(st.text())
def test_comfyui_text_gives_settings_or_value_error(text):
    only_value_errors(parse_comfyui, text, text)


def test_deep_nesting_and_infinities_are_value_errors():
    for text in ("[" * 100_000, '{"a":' * 50_000, "[1e999]", '{"1": {"class_type": "KSampler"}}'):
        only_value_errors(parse_comfyui, text, text)
        only_value_errors(parse_atelier, text)
    huge = f'{{"3": {{"class_type": "KSampler", "inputs": {{"steps": 1e999, "cfg": {10**400}}}}}}}'
    info = parse_comfyui(huge)
    assert info.cfg_scale is None and info.steps is None


# The keys other generators' JSON is told apart by, so that each reader gets hostile values.
GENERATOR_KEYS = [
    "sui_image_params",
    "sui_models",
    "Comment",
    "Description",
    "software",
    "metadata_scheme",
    "loras",
    "resources",
    "civitaiResources",
    "PositivePrompt",
    "Model",
    "use_upscaler",
    "resolution",
    "prompt",
    "image",
    "model",
    "uc",
]
generator_records = st.dictionaries(st.sampled_from(GENERATOR_KEYS), json_values | node_like)
generator_records |= st.fixed_dictionaries(
    {"metadata_scheme": st.just("fooocus"), "Software": st.just("NovelAI")},
    optional={key: json_values for key in GENERATOR_KEYS if key != "metadata_scheme"},
)


@FAST
@given(generator_records | json_values)
def test_other_generators_json_gives_settings_or_value_error(value):
    for parse in (parse_settings_json, parse_invokeai_metadata, parse_sd_metadata):
        only_value_errors(parse, dumps(value))
        only_value_errors(parse, dumps(dumps(value)))


@FAST
@given(st.text())
def test_other_generators_text_gives_settings_or_value_error(text):
    for parse in (parse_settings_json, parse_invokeai_metadata, parse_dream):
        only_value_errors(parse, text)


@FAST
@given(
    st.sampled_from(sorted(SIGNATURES)),
    st.binary(max_size=300),
    st.integers(1, 40),
    st.integers(1, 40),
    st.sampled_from([3, 4]),
)
def test_stealth_bits_give_text_none_or_value_error(signature, rest, height, width, channels):
    """Any pixels, with a stealth signature in their lowest bits or not, give the hidden
    text, None or a ValueError."""
    bits = np.unpackbits(np.frombuffer(signature + rest, np.uint8))
    pixels = np.full((height, width, channels), 254, np.uint8)
    flat = pixels.transpose(1, 0, 2).copy().reshape(-1) if channels == 3 else None
    if flat is not None:
        flat[: len(bits)] |= bits[: len(flat)]
        pixels = flat.reshape(width, height, 3).transpose(1, 0, 2)
    else:
        alpha = pixels[..., 3].T.copy().reshape(-1)
        alpha[: len(bits)] |= bits[: len(alpha)]
        pixels[..., 3] = alpha.reshape(width, height).T
    only_value_errors(read_stealth_text, pixels)


@FAST
@given(st.text(), st.sampled_from(["<x:xmpmeta", "<rdf:RDF", "<!DOCTYPE x>", ""]))
def test_xmp_gives_claims_or_value_error(text, prefix):
    only_value_errors(parse_xmp, f"{prefix}{text}</x:xmpmeta></rdf:RDF>")


def test_deeply_nested_xmp_is_handled():
    deep = '<x:xmpmeta xmlns:x="adobe:ns:meta/">' + "<a>" * 50_000 + "</a>" * 50_000
    only_value_errors(parse_xmp, deep + "</x:xmpmeta>")
