"""The controls a file records, made again as empty control layers by Reuse settings: read
from an Atelier recipe and from A1111 text (several units, old and new layouts, preprocessor
names), with a missing model named, an unknown preprocessor skipped, the document's own
controls not duplicated, and all the layers added in one undo step."""

from __future__ import annotations

import pytest

from app.model.document import Document
from app.model.generation_info import (
    GenerationInfo,
    format_parameters,
    info_from_recipe,
    parse_parameters,
    unused_settings,
)
from app.model.history import History
from app.model.layers import ControlLayer, ControlSettings, RasterLayer
from app.model.recipe_controls import (
    ControlsPlan,
    RecordedControl,
    control_kind,
    plan_controls,
    plan_message,
    recorded_controls,
    recreate_controls,
)

RECIPE = {
    "task": "diffusion.txt2img",
    "version": 1,
    "params": {
        "prompt": "a red circle",
        "seed": 3,
        # as plugins.diffusion.controls records them
        "controls": [
            {
                "kind": "scribble",
                "model": "tiny-scribble",
                "strength": 0.8,
                "start": 0.0,
                "end": 0.5,
            },
            {"kind": "depth", "model": "tiny-depth", "strength": 1.2, "start": 0.1, "end": 1.0},
        ],
        "extras": {
            "ControlNet 0": "Module: scribble, Model: tiny-scribble [aaaa], Weight: 0.8, "
            "Guidance Start: 0, Guidance End: 0.5",
            "ControlNet 1": "Module: depth, Model: tiny-depth [bbbb], Weight: 1.2, "
            "Guidance Start: 0.1, Guidance End: 1",
        },
    },
}
SCRIBBLE = ControlSettings("scribble", "tiny-scribble", 0.8, 0.0, 0.5)
DEPTH = ControlSettings("depth", "tiny-depth", 1.2, 0.1, 1.0)

A1111 = (
    "a house\nNegative prompt: people\n"
    "Steps: 25, Sampler: UniPC, CFG scale: 6, Seed: 99, Size: 512x512, Model: rv, "
    'ControlNet 1: "Module: none, Model: control_v11p_sd15_scribble [d4e3a1f2], Weight: 0.5, '
    'Resize Mode: Crop and Resize, Guidance Start: 0.2, Guidance End: 0.9", '
    'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1, '
    "Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 100, Threshold B: 200, "
    'Guidance Start: 0, Guidance End: 1, Pixel Perfect: True, Control Mode: Balanced", '
    'ControlNet 2: "Module: tile_resample, Model: control_v11f1e_sd15_tile [a371b31b], '
    'Weight: 1, Guidance Start: 0, Guidance End: 1", '
    'ControlNet 3: "Module: mlsd, Model: control_v11p_sd15_mlsd [aca30ff0], Weight: 0.7, '
    'Guidance Start: 0, Guidance End: 1", '
    "Version: v1.7.0"
)


def settings_of(recorded: list[RecordedControl]) -> list[ControlSettings | None]:
    return [control.settings for control in recorded]


def test_an_atelier_recipe_gives_each_control_with_its_settings():
    assert settings_of(recorded_controls(RECIPE)) == [SCRIBBLE, DEPTH]


def test_a_recipe_with_only_the_text_fields_gives_the_same_controls():
    params = {k: v for k, v in RECIPE["params"].items() if k != "controls"}
    recorded = recorded_controls({**RECIPE, "params": params})
    assert settings_of(recorded) == [SCRIBBLE, DEPTH]


def test_atelier_text_written_then_read_back_gives_the_recipe_controls():
    text = format_parameters(info_from_recipe(RECIPE))
    info = parse_parameters(text)
    assert settings_of(recorded_controls(extras=info.extras)) == [SCRIBBLE, DEPTH]


def test_a1111_units_come_in_order_kinds_from_module_or_model_and_unknown_ones_skipped():
    info = parse_parameters(A1111)
    recorded = recorded_controls(extras=info.extras)
    assert [c.recorded for c in recorded] == ["canny", "none", "tile_resample", "mlsd"]
    canny, scribble, tile, mlsd = recorded
    assert canny.settings == ControlSettings("canny", "control_v11p_sd15_canny", 1.0, 0.0, 1.0)
    # module "none": the model's name says the kind
    assert scribble.settings == ControlSettings(
        "scribble", "control_v11p_sd15_scribble", 0.5, 0.2, 0.9
    )
    assert tile.settings is None
    assert mlsd.settings.kind == "lineart" and mlsd.closest and not canny.closest


@pytest.mark.parametrize(
    ("field", "text", "settings"),
    [
        (  # the extension's older layout: one unit, "preprocessor", "starting/ending"
            "ControlNet",
            "preprocessor: openpose_full, model: control_sd15_openpose [fef5e48e], "
            "weight: 0.9, starting/ending: (0.25, 0.75), resize mode: Crop and Resize",
            ControlSettings("pose", "control_sd15_openpose", 0.9, 0.25, 0.75),
        ),
        (  # numbers out of range are brought within the settings' limits
            "ControlNet 0",
            "Module: canny, Model: None, Weight: 5, Guidance Start: 0.9, Guidance End: 0.3",
            ControlSettings("canny", "", 2.0, 0.9, 0.9),
        ),
    ],
)
def test_a_unit_field_gives_its_settings(field, text, settings):
    (control,) = recorded_controls(extras={field: text})
    assert control.settings == settings


@pytest.mark.parametrize(
    ("module", "kind"),
    [
        ("scribble_pidinet", "scribble"),
        ("scribble_xdog", "scribble"),
        ("t2ia_sketch_pidi", "scribble"),
        ("canny", "canny"),
        ("lineart_anime_denoise", "lineart"),
        ("softedge_hedsafe", "softedge"),
        ("hed", "softedge"),
        ("depth_leres++", "depth"),
        ("depth_anything_v2", "depth"),
        ("dw_openpose_full", "pose"),
        ("openpose_faceonly", "pose"),
        ("softedge", "softedge"),
    ],
)
def test_a1111_preprocessors_map_to_atelier_kinds(module, kind):
    assert control_kind(module) == (kind, False)


def test_preprocessors_with_no_kind_are_the_closest_or_none():
    assert control_kind("invert") == ("scribble", True)
    assert control_kind("invert", "control_v11p_sd15_lineart") == ("lineart", False)
    for module in ("reference_only", "ip-adapter_clip_sd15", "normal_bae", "shuffle"):
        assert control_kind(module) is None


def small_doc(*controls: ControlSettings) -> Document:
    layers = [RasterLayer.blank((32, 32), name="Background")]
    layers += [ControlLayer.blank((32, 32), name="Mine", control=c) for c in controls]
    return Document((32, 32), layers)


def test_a_missing_model_is_kept_by_name_and_listed_an_installed_one_takes_its_spelling():
    recorded = recorded_controls(extras=parse_parameters(A1111).extras)
    plan = plan_controls(small_doc(), recorded, installed=["Control_V11P_SD15_Canny"])
    assert [s.model for s in plan.new] == [
        "Control_V11P_SD15_Canny",
        "control_v11p_sd15_scribble",
        "control_v11p_sd15_mlsd",
    ]
    assert plan.missing == ("control_v11p_sd15_scribble", "control_v11p_sd15_mlsd")
    assert plan.skipped == ("tile_resample",) and plan.closest == ("mlsd (as Line art)",)
    assert plan.warns
    text = plan_message(plan)
    assert "Added 3 control layers (Canny, Scribble, Line art), empty" in text
    assert "draw or fill" in text and "not their maps" in text
    missing = "Control models not installed: control_v11p_sd15_scribble, control_v11p_sd15_mlsd"
    assert missing in text
    assert "Skipped (no control kind in Atelier fits): tile_resample." in text


def test_models_are_not_called_missing_before_the_scan_has_listed_them():
    plan = plan_controls(small_doc(), recorded_controls(RECIPE), installed=None)
    assert plan.new == (SCRIBBLE, DEPTH) and plan.missing == () and not plan.warns


def test_controls_the_document_has_already_are_not_added_again():
    doc = small_doc(SCRIBBLE)
    plan = plan_controls(doc, recorded_controls(RECIPE), ["tiny-scribble", "tiny-depth"])
    assert plan.new == (DEPTH,) and plan.present == 1
    assert "1 recorded control is in the document already" in plan_message(plan)
    twice = recorded_controls(RECIPE)[:1] * 2  # two alike recorded, one in the document
    assert plan_controls(doc, twice, None).new == (SCRIBBLE,)


def test_the_layers_are_added_empty_in_one_undo_step():
    doc = small_doc()
    history = History(doc)
    command = recreate_controls(doc, plan_controls(doc, recorded_controls(RECIPE), None))
    history.push(command)
    added = [lay for lay in doc.walk() if isinstance(lay, ControlLayer)]
    assert [lay.name for lay in added] == [
        "Scribble control (from settings)",
        "Depth control (from settings)",
    ]
    assert [lay.control for lay in added] == [SCRIBBLE, DEPTH]
    assert all(not lay.pixels.tiles for lay in added)
    assert history.undo_label == "Add control layers from settings"
    history.undo()
    assert not any(isinstance(lay, ControlLayer) for lay in doc.walk())
    assert recreate_controls(doc, ControlsPlan(())) is None


def test_the_controlnet_fields_are_not_listed_as_left_out():
    info = parse_parameters(A1111)
    assert not any(entry.startswith("ControlNet") for entry in unused_settings(info))
    other = GenerationInfo(source="a1111", extras={"ADetailer model": "face_yolov8n.pt"})
    assert unused_settings(other) == ["ADetailer model (face_yolov8n.pt)"]
