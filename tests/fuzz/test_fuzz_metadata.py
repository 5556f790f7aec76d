"""Property tests: any text or JSON in an image's metadata gives settings or a ValueError,
never another exception (issue 13)."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.model.comfyui_graph import parse_comfyui
from app.model.generation_info import parse_atelier, parse_parameters
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


@FAST
@given(st.text(), st.sampled_from(["<x:xmpmeta", "<rdf:RDF", "<!DOCTYPE x>", ""]))
def test_xmp_gives_claims_or_value_error(text, prefix):
    only_value_errors(parse_xmp, f"{prefix}{text}</x:xmpmeta></rdf:RDF>")


def test_deeply_nested_xmp_is_handled():
    deep = '<x:xmpmeta xmlns:x="adobe:ns:meta/">' + "<a>" * 50_000 + "</a>" * 50_000
    only_value_errors(parse_xmp, deep + "</x:xmpmeta>")
