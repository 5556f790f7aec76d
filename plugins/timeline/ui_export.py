"""Exporting the timeline from its panel: a small dialog (the file, whose format the
video exporters' suffixes name, the size, frame rate and quality), then the export on a
worker thread with progress and Cancel. The file appears only when it is complete
(write_video writes a temp and renames it).

A UI module: the export itself is plugins/timeline/export.py, Qt-free.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.model.timeline import MediaStore, Timeline
from app.model.timeline_media import frame_rate
from plugins.api import Exporter
from plugins.timeline.export import ExportSettings, export_timeline
from plugins.video_export import plugin as video_export
from plugins.video_export.encoding import QUALITIES, ExportCancelledError

FORMATS: tuple[Exporter, ...] = tuple(video_export.exporters)


class ExportDialog(QDialog):
    """Where and how to write the timeline; `settings()` once accepted."""

    def __init__(self, timeline: Timeline, folder: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export the timeline")
        self.setObjectName("timelineExportDialog")
        self.format = QComboBox(objectName="export_format")
        for exporter in FORMATS:
            self.format.addItem(f"{exporter.title} ({exporter.suffixes[0]})", exporter)
        self.path = QLineEdit(str(folder / f"film{FORMATS[0].suffixes[0]}"))
        self.path.setObjectName("export_path")
        browse = QPushButton("Choose\N{HORIZONTAL ELLIPSIS}")
        browse.clicked.connect(self._browse)
        width, height = timeline.frame_size
        self.width_box = QSpinBox(objectName="export_width", minimum=2, maximum=8192)
        self.width_box.setValue(width)
        self.height_box = QSpinBox(objectName="export_height", minimum=2, maximum=8192)
        self.height_box.setValue(height)
        self.fps = QDoubleSpinBox(objectName="export_fps", decimals=3, minimum=1, maximum=240)
        self.fps.setValue(float(timeline.fps))
        self.quality = QComboBox(objectName="export_quality")
        self.quality.addItems(QUALITIES)
        self.quality.setCurrentText("medium")
        self.format.currentIndexChanged.connect(self._format_changed)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_box)
        size_row.addWidget(self.height_box)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("File", path_row)
        form.addRow("Size (px)", size_row)
        form.addRow("Frame rate", self.fps)
        form.addRow("Quality", self.quality)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def settings(self) -> ExportSettings:
        """What the dialog says to write (the suffix follows the format chosen)."""
        exporter: Exporter = self.format.currentData()
        path = Path(self.path.text().strip()).expanduser()
        if path.suffix.lower() not in exporter.suffixes:
            path = path.with_suffix(exporter.suffixes[0])
        size = (self.width_box.value(), self.height_box.value())
        return ExportSettings(path, frame_rate(self.fps.value()), size, self.quality.currentText())

    def _format_changed(self) -> None:
        exporter: Exporter = self.format.currentData()
        text = self.path.text().strip()
        if text:
            self.path.setText(str(Path(text).with_suffix(exporter.suffixes[0])))

    def _browse(self) -> None:
        exporter: Exporter = self.format.currentData()
        filters = f"{exporter.title} (*{' *'.join(exporter.suffixes)})"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), filters)
        if chosen:
            self.path.setText(chosen)


class ExportRun(QObject):
    """One export on a worker thread; its signals arrive on the GUI thread."""

    progress = Signal(int)  # frames written
    done = Signal(str)  # the path written
    failed = Signal(str)  # one sentence
    cancelled = Signal()

    def __init__(
        self, timeline: Timeline, media: MediaStore, settings: ExportSettings, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.timeline, self.media, self.settings = timeline, media, settings
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="timeline-export", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self) -> None:
        try:
            path = export_timeline(
                self.timeline,
                self.media,
                self.settings,
                on_progress=self.progress.emit,
                is_cancelled=self._cancel.is_set,
            )
        except ExportCancelledError:
            self.cancelled.emit()
        except (OSError, ValueError) as exc:
            self.failed.emit(str(exc))
        else:
            self.done.emit(str(path))
