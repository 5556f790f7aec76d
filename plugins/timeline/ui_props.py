"""The Timeline panel's row of the selected clip's settings: a picture's still duration,
a visual clip's opacity, fades, and a sound clip's gain. Each change is one undo step:
the steps of one field's changes (arrows held, a wheel turned) share a merge key.

A UI module; the edits are app/model/timeline_edits.py commands given to `push`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction

from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from app.model.timeline import VISUAL, Clip, Timeline, TimelineError, quantize
from app.model.timeline_edits import (
    MAX_GAIN_DB,
    MIN_GAIN_DB,
    SetFades,
    SetGain,
    SetOpacity,
    SetStillDuration,
    TimelineEdit,
)

MAX_STILL_S = 3600.0


def seconds(value: float) -> Fraction:
    """A spin box's seconds as an exact time, to the millisecond."""
    return Fraction(round(value * 1000), 1000)


class ClipProperties(QWidget):
    """The selected clip's settings; hidden fields for what its kind lacks."""

    def __init__(self, push: Callable[[TimelineEdit], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.push = push
        self.timeline = Timeline()
        self.clip: Clip | None = None
        self._sessions = itertools.count()
        self._session = next(self._sessions)
        self.name = QLabel("No clip selected")
        self.name.setObjectName("muted")
        self.still = self._seconds_box("still", 1 / 24, MAX_STILL_S, " s")
        self.opacity = QSpinBox(objectName="clip_opacity", suffix=" %", maximum=100)
        self.fade_in = self._seconds_box("fade_in", 0.0, MAX_STILL_S, " s")
        self.fade_out = self._seconds_box("fade_out", 0.0, MAX_STILL_S, " s")
        self.gain = QDoubleSpinBox(objectName="clip_gain", suffix=" dB", decimals=1)
        self.gain.setRange(MIN_GAIN_DB, MAX_GAIN_DB)
        self.gain.setSingleStep(0.5)
        self.labels: dict[QWidget, QLabel] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.name, 1)
        for label, box in (
            ("Still", self.still),
            ("Opacity", self.opacity),
            ("Fade in", self.fade_in),
            ("Fade out", self.fade_out),
            ("Gain", self.gain),
        ):
            self.labels[box] = QLabel(label)
            box.setKeyboardTracking(False)  # typing changes it once, on Enter
            row.addWidget(self.labels[box])
            row.addWidget(box)
        self.still.valueChanged.connect(self._still_changed)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.fade_in.valueChanged.connect(self._fades_changed)
        self.fade_out.valueChanged.connect(self._fades_changed)
        self.gain.valueChanged.connect(self._gain_changed)
        self.show_clip(Timeline(), None)

    def _seconds_box(self, name: str, low: float, high: float, suffix: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(objectName=f"clip_{name}", suffix=suffix, decimals=2)
        box.setRange(low, high)
        box.setSingleStep(0.25)
        return box

    def show_clip(self, timeline: Timeline, clip_id: str | None) -> None:
        """Show the settings of the clip `clip_id` of `timeline` (None: no clip)."""
        previous = self.clip.id if self.clip else None
        self.timeline = timeline
        try:
            self.clip = timeline.find(clip_id)[1] if clip_id else None
        except TimelineError:
            self.clip = None
        if (self.clip.id if self.clip else None) != previous:
            self._session = next(self._sessions)  # another clip: edits no longer merge
        kind = timeline.item(self.clip.media_id).kind if self.clip else None
        shown = {
            self.still: kind == "image",
            self.opacity: kind in VISUAL,
            self.fade_in: kind is not None,
            self.fade_out: kind is not None,
            self.gain: kind == "audio",
        }
        for box, visible in shown.items():
            box.setVisible(visible)
            self.labels[box].setVisible(visible)
        if self.clip is None:
            self.name.setText("No clip selected: click one")
            return
        self.name.setText(timeline.item(self.clip.media_id).name)
        self._fill(self.clip)

    def _fill(self, clip: Clip) -> None:
        boxes = (self.still, self.opacity, self.fade_in, self.fade_out, self.gain)
        for box in boxes:
            box.blockSignals(True)
        self.still.setValue(float(clip.duration))
        self.opacity.setValue(round(clip.opacity * 100))
        self.fade_in.setMaximum(float(clip.duration))
        self.fade_out.setMaximum(float(clip.duration))
        self.fade_in.setValue(float(clip.fade_in))
        self.fade_out.setValue(float(clip.fade_out))
        self.gain.setValue(clip.gain_db)
        for box in boxes:
            box.blockSignals(False)

    def _key(self, field: str) -> tuple:
        assert self.clip is not None
        return ("clip-setting", self.clip.id, field, self._session)

    def _still_changed(self, value: float) -> None:
        if self.clip is not None:
            duration = max(1 / self.timeline.fps, quantize(seconds(value), self.timeline.fps))
            self.push(SetStillDuration(self.clip.id, duration, self._key("still")))

    def _opacity_changed(self, value: int) -> None:
        if self.clip is not None:
            self.push(SetOpacity(self.clip.id, value / 100, self._key("opacity")))

    def _fades_changed(self) -> None:
        if self.clip is None:
            return
        fade_in = min(seconds(self.fade_in.value()), self.clip.duration)
        fade_out = min(seconds(self.fade_out.value()), self.clip.duration - fade_in)
        self.push(SetFades(self.clip.id, fade_in, fade_out, self._key("fades")))

    def _gain_changed(self, value: float) -> None:
        if self.clip is not None:
            self.push(SetGain(self.clip.id, value, self._key("gain")))
