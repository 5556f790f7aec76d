"""What the training panel shows of a running job: a progress bar, the stage, the step, loss
and time left, the loss curve and the latest sample picture with its step.

A UI module (imports PySide6).
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from app.ui.images import pixmap_from_rgba
from engine.job_cost import duration_text
from engine.protocol import ImageData, JobProgress
from plugins.lora_training.panel_chart import LossChart

SAMPLE_SIDE = 192  # the sample picture is shown at most this big
DOT = " \N{MIDDLE DOT} "


def metrics_text(metrics: Mapping[str, float]) -> str:
    """E.g. "step 120 / 800 · loss 0.052 · about 3 minutes left" (what the job reported)."""
    parts = []
    if "step" in metrics:
        total = f" / {int(metrics['steps'])}" if "steps" in metrics else ""
        parts.append(f"step {int(metrics['step'])}{total}")
    if "loss" in metrics:
        parts.append(f"loss {metrics['loss']:.3g}")
    if metrics.get("eta_s", 0) > 0:
        parts.append(f"about {duration_text(metrics['eta_s'])} left")
    return DOT.join(parts)


class TrainingView(QWidget):
    """The progress of one training job; `step` is the last step it reported (0: none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = 0
        self.metrics: dict[str, float] = {}  # the latest of each number reported
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.stage = QLabel("")
        self.stage.setWordWrap(True)
        self.numbers = QLabel("")
        self.numbers.setObjectName("lora_metrics")
        self.chart = LossChart()
        self.sample = QLabel()
        self.sample.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample_caption = QLabel("")
        self.sample_caption.setObjectName("muted")
        self.sample_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.bar, self.stage, self.numbers, self.chart):
            column.addWidget(widget)
        column.addWidget(self.sample)
        column.addWidget(self.sample_caption)
        self.sample.hide()

    def start(self) -> None:
        """A new job: nothing reported yet."""
        self.step = 0
        self.metrics = {}
        self.bar.setValue(0)
        self.stage.setText("Starting\N{HORIZONTAL ELLIPSIS}")
        self.numbers.setText("")
        self.chart.clear()
        self.sample.clear()
        self.sample.hide()
        self.sample_caption.setText("")

    def show_stage(self, text: str) -> None:
        self.stage.setText(text)

    def show_progress(self, event: JobProgress) -> None:
        self.bar.setValue(round(event.fraction * self.bar.maximum()))
        self.stage.setText(event.stage)
        metrics = event.metrics
        if "step" in metrics:
            self.step = int(metrics["step"])
        if "loss" in metrics and "step" in metrics:
            self.chart.add(self.step, float(metrics["loss"]))
        if metrics:
            self.metrics.update(metrics)  # a sample's progress carries no loss: keep the last
            self.numbers.setText(metrics_text(self.metrics))
        if event.preview is not None:
            self._show_sample(event.preview)

    def _show_sample(self, image: ImageData) -> None:
        pixmap = pixmap_from_rgba(image.pixels)
        if max(pixmap.width(), pixmap.height()) > SAMPLE_SIDE:
            pixmap = pixmap.scaled(
                SAMPLE_SIDE,
                SAMPLE_SIDE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.sample.setPixmap(pixmap)
        self.sample.show()
        self.sample_caption.setText(f"Sample at step {self.step}")
