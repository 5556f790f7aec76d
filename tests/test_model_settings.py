"""A model folder's atelier.json: read when present and well formed, ignored otherwise."""

from __future__ import annotations

import json

import pytest

from engine.model_settings import LatentRgb, ModelSettings, read_model_settings
from engine.model_store import BUILTIN_MODELS, ModelStore
from plugins.diffusion.params import model_defaults, native_size
from tests.fixtures.tiny_models import copy_with_settings

DEMO = {
    "native_size": 128,
    "defaults": {"steps": 20, "cfg_scale": 4.0, "scheduler": "DDIM"},
    "example_prompt": "  a red circle on a blue background \n",
    "about": " Draws shapes. ",
    "latent_rgb": {"factors": [[0.5, 0, -0.25], [1, 2, 3], [0, 0, 0], [-1, 0.125, 0]]},
    "licence_note": "an unknown key",
}
FIELDS = ("native_size", "defaults", "example_prompt", "about", "latent_rgb")


def write(folder, text: str | bytes):
    folder.mkdir(exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    (folder / "atelier.json").write_bytes(data)
    return folder


def test_a_well_formed_file_is_read(tmp_path):
    settings = read_model_settings(write(tmp_path / "m", json.dumps(DEMO)))
    assert settings.native_size == 128
    assert settings.defaults == {"steps": 20, "cfg_scale": 4.0, "scheduler": "DDIM"}
    assert settings.example_prompt == "a red circle on a blue background"
    assert settings.about == "Draws shapes."
    assert settings.latent_rgb == LatentRgb(
        factors=((0.5, 0.0, -0.25), (1.0, 2.0, 3.0), (0.0, 0.0, 0.0), (-1.0, 0.125, 0.0)),
        bias=(0.0, 0.0, 0.0),  # left out: none
    )


def test_a_latent_rgb_map_is_read_with_its_bias(tmp_path):
    latent_rgb = {"factors": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "bias": [0.1, -0.2, 3]}
    settings = read_model_settings(write(tmp_path / "m", json.dumps({"latent_rgb": latent_rgb})))
    assert settings.latent_rgb is not None
    assert settings.latent_rgb.factors == ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    assert settings.latent_rgb.bias == (0.1, -0.2, 3.0)
    assert all(isinstance(v, float) for row in settings.latent_rgb.factors for v in row)


@pytest.mark.parametrize(
    "latent_rgb",
    [
        [[1, 0, 0]],
        {"bias": [0, 0, 0]},
        {"factors": []},
        {"factors": "[[1, 0, 0]]"},
        {"factors": [[1, 0]]},
        {"factors": [[1, 0, 0, 0]]},
        {"factors": [[1, 0, 0], [0, 1]]},
        {"factors": [[1, 0, "0"]]},
        {"factors": [[1, 0, True]]},
        {"factors": [[1, 0, None]]},
        {"factors": [[1, 0, float("nan")]]},
        {"factors": [[1, 0, float("inf")]]},
        {"factors": [[1, 0, 10**400]]},
        {"factors": [1, 0, 0]},
        {"factors": [[1, 0, 0]], "bias": [0, 0]},
        {"factors": [[1, 0, 0]], "bias": None},
        {"factors": [[1, 0, 0]], "bias": {"r": 0, "g": 0, "b": 0}},
    ],
)
def test_a_malformed_latent_rgb_map_is_no_map(tmp_path, latent_rgb):
    text = json.dumps({**DEMO, "latent_rgb": latent_rgb})  # NaN, Infinity: as Python writes them
    settings = read_model_settings(write(tmp_path / "m", text))
    assert settings.latent_rgb is None
    assert settings.native_size == 128 and settings.example_prompt


def test_a_missing_file_means_no_settings(tmp_path):
    assert read_model_settings(tmp_path) == ModelSettings()
    assert read_model_settings(tmp_path / "no-such-folder") == ModelSettings()


@pytest.mark.parametrize(
    "text",
    ["{not json", "[1, 2]", '"a string"', "", b"\xff\xfe{}", "null"],
)
def test_a_malformed_file_means_no_settings(tmp_path, text):
    assert read_model_settings(write(tmp_path / "m", text)) == ModelSettings()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("native_size", "128"),
        ("native_size", True),
        ("native_size", 16),
        ("native_size", 100000),
        ("native_size", 128.0),
        ("defaults", ["steps", 20]),
        ("example_prompt", 5),
        ("about", ["Draws shapes."]),
        ("latent_rgb", {"factors": [[1, 2]]}),
    ],
)
def test_a_value_of_the_wrong_kind_is_ignored_alone(tmp_path, field, value):
    settings = read_model_settings(write(tmp_path / "m", json.dumps({**DEMO, field: value})))
    good = read_model_settings(write(tmp_path / "good", json.dumps(DEMO)))
    assert getattr(settings, field) == getattr(ModelSettings(), field)
    others = [name for name in FIELDS if name != field]
    assert all(getattr(settings, name) == getattr(good, name) for name in others)


def test_model_defaults_keep_only_usable_sampling_values():
    raw = {
        "steps": 12,
        "cfg_scale": 5,  # an int is a fine float
        "scheduler": "DDIM",
        "negative_prompt": "blurry",
        "batch_count": 99,  # out of range
        "prompt": "not a model's business",
        "seed": 3,
        "width": 256,  # not a sampling field
        "strength": 0.3,
        "unknown": 1,
    }
    assert model_defaults(raw) == {
        "steps": 12,
        "cfg_scale": 5.0,
        "scheduler": "DDIM",
        "negative_prompt": "blurry",
    }
    assert isinstance(model_defaults(raw)["cfg_scale"], float)
    bad = {"steps": "20", "cfg_scale": True, "scheduler": "Nonesuch", "negative_prompt": 1}
    assert model_defaults(bad) == {}
    assert model_defaults({"steps": 2.5}) == {}


def test_the_store_gives_each_folder_its_settings(atelier_home, tiny_models):
    checkpoints = atelier_home / "models" / "checkpoints"
    copy_with_settings(tiny_models / "tiny-sd15", checkpoints / "tuned", DEMO)
    copy_with_settings(tiny_models / "tiny-sd15", checkpoints / "broken", "{oops")
    entries = {e.name: e for e in ModelStore(home=atelier_home, extra_folders=[]).scan()}
    assert entries["tuned"].settings.native_size == 128
    assert entries["tuned"].settings.example_prompt.startswith("a red circle")
    assert entries["tuned"].settings.latent_rgb.factors[1] == (1.0, 2.0, 3.0)
    assert native_size(entries["tuned"]) == 128
    assert entries["broken"].settings == ModelSettings()
    assert native_size(entries["broken"]) == 512  # its family's
    assert entries["tiny-sd15-single"].settings == ModelSettings()
    assert native_size(entries["tiny-sdxl"]) == 1024
    assert {entries["tuned"]: 1}[entries["tuned"]] == 1  # entries stay hashable


def test_the_shipped_model_declares_usable_settings(tmp_path):
    """Whatever demo model is shipped, its atelier.json must be one Atelier can use whole."""
    store = ModelStore(
        home=tmp_path, extra_folders=[], hf_cache=tmp_path, builtin_dir=BUILTIN_MODELS
    )
    demo = store.default_checkpoint()
    assert demo is not None and demo.source == "builtin"
    raw = json.loads((demo.path / "atelier.json").read_text(encoding="utf-8"))
    assert demo.settings.native_size == raw["native_size"]
    assert demo.settings.example_prompt and demo.settings.about
    assert model_defaults(demo.settings.defaults) == raw["defaults"]
    if "latent_rgb" in raw:  # written by export since previews use it
        assert demo.settings.latent_rgb is not None
        assert len(demo.settings.latent_rgb.factors) == 4  # the demo VAE's latent channels
