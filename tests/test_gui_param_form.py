"""The params form: widgets built from Param metadata, values read back and loaded from dicts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
)

from app.ui.param_form import CheckedSpin, ParamForm, UnitSlider
from app.ui.seed_field import SeedField
from plugins.api import param
from plugins.diffusion.params import Txt2ImgParams


@dataclass(frozen=True)
class SampleParams:
    text: str = param("hello", "Text", multiline=True, help="Some text.")
    title: str = param("", "Title")
    count: int = param(3, "Count", minimum=1, maximum=9, step=2)
    strength: float = param(0.5, "Strength", minimum=0.0, maximum=1.0, step=0.05)
    mode: str = param("b", "Mode", choices=("a", "b", "c"))
    sharp: bool = param(False, "Sharp")
    seed: int = param(-1, "Seed", minimum=-1, maximum=2**32 - 1)
    hidden: str = field(default="not shown")


@pytest.fixture
def form(qtbot):
    widget = ParamForm(SampleParams)
    qtbot.addWidget(widget)
    return widget


def test_builds_one_widget_per_param_in_order(form):
    kinds = {name: type(widget) for name, widget in form.widgets.items()}
    assert kinds == {
        "text": QPlainTextEdit,
        "title": QLineEdit,
        "count": CheckedSpin,  # a QSpinBox that shows a number typed beyond its range
        "strength": UnitSlider,  # a 0..1 float: a slider with its spin box
        "mode": QComboBox,
        "sharp": QCheckBox,
        "seed": SeedField,
    }
    assert "hidden" not in form.widgets
    assert form.layout_.labelForField(form.widgets["count"]).text() == "Count"


def test_ranges_steps_choices_and_help(form):
    count, strength = form.widgets["count"], form.widgets["strength"].spin
    assert (count.valid.low, count.valid.high, count.singleStep()) == (1, 9, 2)
    assert (strength.valid.low, strength.valid.high, strength.singleStep()) == (0.0, 1.0, 0.05)
    assert strength.decimals() == 2
    mode = form.widgets["mode"]
    assert [mode.itemText(i) for i in range(mode.count())] == ["a", "b", "c"]
    assert form.widgets["text"].toolTip() == "Some text."


def test_defaults_read_back_as_a_params_instance(form):
    assert form.params() == SampleParams()
    assert form.params(hidden="extra").hidden == "extra"


def test_edits_round_trip(form, qtbot):
    qtbot.keyClicks(form.widgets["title"], "Poster")
    form.widgets["count"].setValue(7)
    form.widgets["mode"].setCurrentText("c")
    form.widgets["sharp"].setChecked(True)
    form.widgets["text"].setPlainText("two\nlines")
    expected = SampleParams(text="two\nlines", title="Poster", count=7, mode="c", sharp=True)
    assert form.params() == expected
    other = ParamForm(SampleParams)
    qtbot.addWidget(other)
    other.set_values(form.values())
    assert other.params() == expected


def test_set_values_from_a_dict_of_strings_skips_what_does_not_fit(form):
    applied = form.set_values(
        {"count": "5", "strength": "0.25", "mode": "zzz", "sharp": "true", "unknown": 1}
    )
    assert sorted(applied) == ["count", "sharp", "strength"]
    assert form.params() == SampleParams(count=5, strength=0.25, sharp=True)


def test_set_values_keeps_the_current_value_for_numbers_out_of_range(form):
    """Another tool's file may say 'Steps: 99999999999999999999' or a NaN CFG; a spin box
    overflowed on the first and showed the second."""
    before = form.params()
    applied = form.set_values(
        {"count": 10**30, "strength": float("nan"), "seed": 2**70, "sharp": True}
    )
    assert applied == ["sharp"]
    assert form.params() == SampleParams(**{**before.__dict__, "sharp": True})


def test_changed_is_emitted_on_edits(form, qtbot):
    with qtbot.waitSignal(form.changed, timeout=1000):
        form.widgets["count"].setValue(5)


def test_seed_random_toggle(form, qtbot):
    seed = form.widgets["seed"]
    assert seed.random and form.value("seed") == -1 and not seed.edit.isEnabled()
    seed.dice.click()
    assert not seed.random and seed.edit.isEnabled()
    qtbot.keyClicks(seed.edit, "4294967295")
    assert form.params().seed == 2**32 - 1
    form.set_value("seed", 42)
    assert form.value("seed") == 42 and not seed.random
    seed.dice.click()
    assert form.value("seed") == -1


def test_txt2img_form(qtbot):
    form = ParamForm(Txt2ImgParams)
    qtbot.addWidget(form)
    assert isinstance(form.widgets["prompt"], QPlainTextEdit)
    assert isinstance(form.widgets["scheduler"], QComboBox)
    assert form.widgets["width"].specialValueText() == "Native"
    assert form.widgets["width"].singleStep() == 8
    form.set_values({"prompt": "a fox", "steps": 4, "width": 64, "height": 64, "seed": 3})
    params = form.params(model="tiny")
    assert (params.prompt, params.steps, params.width, params.height) == ("a fox", 4, 64, 64)
    assert (params.seed, params.model) == (3, "tiny")


# ---- ranges said and checked as you type (issue 15, defect 11) ---------------------------------


def test_number_fields_say_their_range(form, qtbot):
    assert form.widgets["count"].toolTip() == "Takes 1 to 9."
    sizes = ParamForm(Txt2ImgParams)
    qtbot.addWidget(sizes)
    assert "Takes 0 (Native) or 64 to 4096 px." in sizes.widgets["width"].toolTip()
    assert sizes.widgets["steps"].toolTip() == "Denoising steps. Takes 1 to 150."


def test_a_number_typed_beyond_the_range_is_kept_and_shown_as_invalid(qtbot):
    form = ParamForm(Txt2ImgParams)
    qtbot.addWidget(form)
    form.show()
    width = form.widgets["width"]
    width.lineEdit().selectAll()
    qtbot.keyClicks(width, "99999")
    assert form.value("width") == 99999  # not silently cut to 999 or 4096
    assert form.problems() == ["Width takes 0 (Native) or 64 to 4096 px, not 99999 px."]
    assert form.problem_label.isVisible() and "Width takes" in form.problem_label.text()
    assert width.styleSheet()  # shown red

    width.lineEdit().selectAll()
    qtbot.keyClicks(width, "512")
    assert form.problems() == [] and not form.problem_label.isVisible()
    assert not width.styleSheet()


def test_height_one_is_flagged_as_typed_and_zero_is_native(qtbot):
    form = ParamForm(Txt2ImgParams)
    qtbot.addWidget(form)
    height = form.widgets["height"]
    height.lineEdit().selectAll()
    qtbot.keyClicks(height, "1")
    assert form.problems() == ["Height takes 0 (Native) or 64 to 4096 px, not 1 px."]
    form.set_value("height", 0)
    assert form.problems() == []
    form.set_value("height", 64)
    assert form.problems() == []


def test_arrows_step_within_the_range_and_over_the_gap_before_the_least_size(qtbot):
    form = ParamForm(Txt2ImgParams)
    qtbot.addWidget(form)
    width = form.widgets["width"]
    width.stepBy(1)
    assert form.value("width") == 64  # from Native (0) to the least size, not 8
    width.stepBy(-1)
    assert form.value("width") == 0
    width.setValue(4096)
    width.stepBy(1)
    assert form.value("width") == 4096
    form.set_value("steps", 150)
    form.widgets["steps"].stepBy(3)
    assert form.value("steps") == 150


def test_hidden_rows_are_not_checked(qtbot):
    form = ParamForm(Txt2ImgParams)
    qtbot.addWidget(form)
    form.set_value("width", 3)
    assert len(form.problems()) == 1
    form.set_row_visible("width", False)
    assert form.problems() == []
    assert form.problems(["width"]) == ["Width takes 0 (Native) or 64 to 4096 px, not 3 px."]
