"""The sample panel: the canvas's size, and a button that paints stripes over the canvas as
a new layer (one undo step), all through the window's AppContext; the size follows the
document's changes (`on_document_changed`).
"""

import asyncio

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.model.commands import AddLayer
from app.model.layers import RasterLayer
from atelier_sample_plugin import STRIPES
from atelier_sample_plugin.params import StripesParams
from engine.protocol import JobFailed, JobFinished
from plugins.api import AppContext

MAX_SIDE = 1024  # the largest stripes the task makes


class StripesPanel(QWidget):
    def __init__(self, context: AppContext) -> None:
        super().__init__()
        self.context = context
        self.size_label = QLabel()
        self.button = QPushButton("Add stripes")
        self.button.clicked.connect(self.add_stripes)
        column = QVBoxLayout(self)
        column.addWidget(self.size_label)
        column.addWidget(self.button)
        column.addStretch(1)
        self.job: asyncio.Future | None = None  # asyncio keeps only a weak reference
        self.show_size()
        context.on_document_changed(self.show_size)

    def show_size(self) -> None:
        doc = self.context.document
        self.size_label.setText(f"Canvas: {doc.width} \N{MULTIPLICATION SIGN} {doc.height}")

    def add_stripes(self) -> None:
        doc = self.context.document
        params = StripesParams(width=min(doc.width, MAX_SIDE), height=min(doc.height, MAX_SIDE))
        self.button.setEnabled(False)
        self.job = asyncio.ensure_future(self._run(params))

    async def _run(self, params: StripesParams) -> None:
        try:
            async for event in self.context.run(STRIPES.id, params):
                if isinstance(event, JobFinished):
                    self._add_layer(event.outputs[0].pixels)
                elif isinstance(event, JobFailed):
                    self.context.show_message(f"No stripes: {event.message}", "error")
        finally:
            self.button.setEnabled(True)

    def _add_layer(self, pixels) -> None:
        layer = RasterLayer.from_array(pixels, self.context.document.size, name="Stripes")
        self.context.push(AddLayer(layer, label="Add stripes"))


def make_panel(context: AppContext) -> QWidget:
    return StripesPanel(context)
