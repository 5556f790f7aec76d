"""The Audio panel's row of the chosen sound's settings: trim start and end, fades, gain,
and Normalise to a loudness target. Each change is one undo step: the steps of one
field's changes (arrows held, a wheel turned) share a merge key.

A UI module; the edits are app/model/audio_edits.py commands given to `push`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QWidget

from app.model.audio_clips import MAX_GAIN_DB, MIN_GAIN_DB, AudioClip
from app.model.audio_edits import AudioEdit, SetSoundFades, SetSoundGain, TrimSound
from app.model.audio_loudness import DEFAULT_TARGET_LUFS
from plugins.timeline.ui_props import seconds

TARGET_RANGE = (-40.0, -5.0)  # LUFS the Normalise target may be set to


class SoundSettings(QWidget):
    """The chosen sound's trim, fades, gain and loudness target; disabled without one.
    Normalise calls `normalise(target)`."""

    def __init__(
        self,
        push: Callable[[AudioEdit], None],
        normalise: Callable[[float], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.push, self.normalise = push, normalise
        self.clip: AudioClip | None = None
        self._sessions = itertools.count()
        self._session = next(self._sessions)
        self.start = self._box("start", " s", 3)
        self.end = self._box("end", " s", 3)
        self.fade_in = self._box("fade_in", " s", 2)
        self.fade_out = self._box("fade_out", " s", 2)
        self.gain = self._box("gain", " dB", 1)
        self.gain.setRange(MIN_GAIN_DB, MAX_GAIN_DB)
        self.gain.setSingleStep(0.5)
        self.target = self._box("target", " LUFS", 1)
        self.target.setRange(*TARGET_RANGE)
        self.target.setValue(DEFAULT_TARGET_LUFS)
        self.target.setToolTip("The loudness Normalise brings the sound to (ITU-R BS.1770)")
        self.normalise_button = QPushButton("Normalise", objectName="audioNormalise")
        self.normalise_button.setToolTip("Set the gain so the sound plays at the target loudness")
        self.normalise_button.clicked.connect(lambda: self.normalise(self.target.value()))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for label, box in (
            ("Start", self.start),
            ("End", self.end),
            ("Fade in", self.fade_in),
            ("Fade out", self.fade_out),
            ("Gain", self.gain),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(box)
            row.addSpacing(4)
        row.addStretch(1)
        row.addWidget(QLabel("Target"))
        row.addWidget(self.target)
        row.addWidget(self.normalise_button)
        self.start.valueChanged.connect(self._trim_changed)
        self.end.valueChanged.connect(self._trim_changed)
        self.fade_in.valueChanged.connect(self._fades_changed)
        self.fade_out.valueChanged.connect(self._fades_changed)
        self.gain.valueChanged.connect(self._gain_changed)
        self.show_clip(None)

    def _box(self, name: str, suffix: str, decimals: int) -> QDoubleSpinBox:
        box = QDoubleSpinBox(objectName=f"sound_{name}", suffix=suffix, decimals=decimals)
        box.setSingleStep(0.1)
        box.setKeyboardTracking(False)  # typing changes it once, on Enter
        return box

    @property
    def boxes(self) -> tuple[QDoubleSpinBox, ...]:
        return (self.start, self.end, self.fade_in, self.fade_out, self.gain)

    def show_clip(self, clip: AudioClip | None) -> None:
        """Show `clip`'s settings (None: nothing chosen, or a preview: disabled)."""
        if (clip.id if clip else None) != (self.clip.id if self.clip else None):
            self._session = next(self._sessions)  # another sound: edits no longer merge
        self.clip = clip
        self.setEnabled(clip is not None)
        if clip is None:
            return
        for box in self.boxes:
            box.blockSignals(True)
        source = float(clip.source_duration)
        self.start.setRange(0.0, source)
        self.end.setRange(0.0, source)
        self.fade_in.setRange(0.0, float(clip.duration))
        self.fade_out.setRange(0.0, float(clip.duration))
        for box, value in zip(
            self.boxes,
            (clip.start, clip.end, clip.fade_in, clip.fade_out, clip.gain_db),
            strict=True,
        ):
            box.setValue(float(value))
        if clip.loudness_target is not None:
            self.target.setValue(clip.loudness_target)
        for box in self.boxes:
            box.blockSignals(False)

    def _key(self, field: str) -> tuple:
        assert self.clip is not None
        return ("sound-setting", self.clip.id, field, self._session)

    def _trim_changed(self) -> None:
        if self.clip is not None:
            start, end = seconds(self.start.value()), seconds(self.end.value())
            self.push(TrimSound(self.clip.id, start, end, self._key("trim")))

    def _fades_changed(self) -> None:
        if self.clip is None:
            return
        fade_in = min(seconds(self.fade_in.value()), self.clip.duration)
        fade_out = min(seconds(self.fade_out.value()), self.clip.duration - fade_in)
        self.push(SetSoundFades(self.clip.id, fade_in, fade_out, self._key("fades")))

    def _gain_changed(self, value: float) -> None:
        if self.clip is not None:
            self.push(SetSoundGain(self.clip.id, value, self._key("gain")))
