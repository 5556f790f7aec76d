"""Units on number fields: a Param declares its unit, and every form built from it shows the
number with its unit, says its range in it, and reads the number back without it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.ui.param_form import ParamForm
from plugins.api import param, param_specs
from plugins.diffusion.params import InpaintParams, OutpaintParams


@dataclass(frozen=True)
class Sample:
    blur: int = param(4, "Blur", minimum=0, maximum=64, unit="px", help="How soft.")
    length: float = param(2.5, "Length", minimum=0.5, maximum=30.0, step=0.5, unit="s")
    count: int = param(3, "Count", minimum=1, maximum=9)


def test_a_declared_unit_follows_the_number_and_its_range(qtbot):
    form = ParamForm(Sample)
    qtbot.addWidget(form)
    blur, length, count = (form.widgets[n] for n in ("blur", "length", "count"))
    assert blur.text() == "4 px" and length.text() == "2.5 s" and count.text() == "3"
    assert blur.toolTip() == "How soft. Takes 0 to 64 px."
    assert count.suffix() == ""

    blur.lineEdit().selectAll()
    QTest.keyClicks(blur, "24")
    assert form.value("blur") == 24 and blur.text() == "24 px"
    blur.lineEdit().selectAll()
    QTest.keyClicks(blur, "99")
    assert form.problems() == ["Blur takes 0 to 64 px, not 99 px."]
    QTest.keyClick(blur, Qt.Key.Key_Down)  # the arrows step back into range
    assert form.value("blur") == 64 and form.problems() == []


@pytest.mark.parametrize(
    ("params_type", "name"),
    [
        (InpaintParams, "grow"),
        (InpaintParams, "feather"),
        (InpaintParams, "context"),
        (OutpaintParams, "overlap"),
        (OutpaintParams, "left"),
    ],
)
def test_the_repaint_fields_count_pixels(qtbot, params_type, name):
    spec = dict((f.name, s) for f, s in param_specs(params_type))[name]
    assert spec.unit == "px"
    form = ParamForm(params_type, fields=[name])
    qtbot.addWidget(form)
    assert form.widgets[name].text().endswith(" px")
    assert form.widgets[name].toolTip().endswith(" px.")


def test_native_sizes_read_native_and_pixels_read_px(qtbot):
    from plugins.diffusion.params import Txt2ImgParams

    form = ParamForm(Txt2ImgParams, fields=["width"])
    qtbot.addWidget(form)
    width = form.widgets["width"]
    assert width.text() == "Native"
    form.set_value("width", 512)
    assert width.text() == "512 px" and form.value("width") == 512
