"""Layer > Convert to control layer > Depth with a depth model: a photo layer's depth map,
made by the Depth map task as an engine job, becomes the new Depth control layer.

The job runs on the engine thread through the window's bridge; the message bar shows its
progress with a Cancel button (Esc cancels it too). The layer is added only when the map
is made, in one undo step, so a cancel adds nothing. A layer whose pixels are no photo
(`control_maps.is_photo`: a grey depth map) is copied as it is, as every other kind's
conversion is; with no depth model installed a photo is copied too (a job makes its
depth map at Generate once one is installed) and the message bar says where to put one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.model.control_layers import convert_to_control
from app.model.layers import RasterLayer
from app.model.quoting import quoted
from app.model.tiles import Rect, TiledRaster
from app.ui.doc_session import DocumentSession
from app.ui.engine_bridge import EngineBridge
from app.ui.message_bar import MessageBar
from engine.model_store import ModelStore
from engine.protocol import (
    Event,
    ImageData,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
)
from plugins.diffusion import DEPTH
from plugins.diffusion.control_maps import is_photo
from plugins.diffusion.depth import installed_depth_models, no_depth_model
from plugins.diffusion.params import DepthParams

KIND = "depth"
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


@dataclass
class _Job:
    """A depth map being made: of which layer, where, and the layer's alpha there."""

    layer_id: str
    name: str
    area: Rect
    alpha: np.ndarray  # (h, w) uint8: the source's alpha over `area`
    job_id: int
    shown: str = ""  # the message bar's text while it shows this job


class DepthConversion(QObject):
    """Converts pixel layers to Depth control layers, one depth job at a time."""

    done = Signal(object)  # the Depth control layer added, or None: cancelled or not added

    def __init__(
        self,
        session: DocumentSession,
        bridge: EngineBridge,
        store: ModelStore,
        messages: MessageBar,
        status: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.bridge, self.store = session, bridge, store
        self.messages, self.status = messages, status
        self._job: _Job | None = None
        self._task: asyncio.Future | None = None
        session.document_replaced.connect(self.cancel)  # another document, or resized

    @property
    def running(self) -> bool:
        return self._job is not None

    def convert(self, layer_id: str) -> None:
        """Add the Depth control layer of a pixel layer, just above it: the depth map of its
        photo when a depth model is installed (made by a job; added when it is done), else
        a copy of its pixels."""
        source = self.session.doc.find(layer_id)
        assert isinstance(source, RasterLayer)
        area = source.pixels.bbox()
        if area is None or not is_photo(source.pixels.read(area)):
            self._add(layer_id)
            return
        if self.store.scanned and not installed_depth_models(self.store):
            self._add(
                layer_id,
                "No depth model is installed, so the Depth control layer holds the photo; "
                "its depth map is made when you Generate, once one is installed. "
                + no_depth_model(self.store),
            )
            return
        if self._job is not None:
            self.messages.show_message(
                f"Still making the depth map of {quoted(self._job.name)}: wait for it, or "
                "cancel it first."
            )
            return
        self._start(source, area)

    def cancel(self) -> None:
        """Stop the depth job under way; no layer is added."""
        job, self._job = self._job, None
        if job is None:
            return
        self.bridge.cancel(job.job_id)
        self._hide(job)
        self.status(f"Cancelled the depth map of {quoted(job.name)}: no layer was added")
        self.done.emit(None)

    # -- the job ---------------------------------------------------------------------------

    def _start(self, source: RasterLayer, area: Rect) -> None:
        picture = source.pixels.read(area)
        try:
            job_id, events = self.bridge.start(DEPTH.id, DepthParams(image=picture))
        except Exception as exc:  # e.g. the engine is shut down; never crash the window
            self.messages.show_error(f"Could not make the depth map: {exc}")
            return
        self._job = _Job(source.id, source.name, area, picture[..., 3].copy(), job_id)
        self._show(self._job, "")
        self._task = asyncio.ensure_future(self._follow(self._job, events))

    async def _follow(self, job: _Job, events: AsyncIterator[Event]) -> None:
        """Read the job's events to its end; those of a cancelled job change nothing."""
        try:
            async for event in events:
                if job is self._job:
                    self._on_event(job, event)
        except Exception as exc:  # the engine failed to deliver; never crash the window
            if job is self._job:
                self._failed(job, f"Could not run the job: {exc}")

    def _on_event(self, job: _Job, event: Event) -> None:
        match event:
            case JobQueued(preparing=True):
                self._show(job, "(preparing the engine)")
            case JobQueued(position=position) if position > 0:
                self._show(job, f"(waiting for {position} job(s) ahead)")
            case JobProgress(fraction=fraction):
                self._show(job, f"{fraction:.0%}")
            case JobFinished(outputs=outputs):
                self._finished(job, outputs)
            case JobFailed(message=message):
                self._failed(job, message)
            case JobCancelled():
                self._job = None
                self._hide(job)
                self.status(f"The depth map of {quoted(job.name)} was cancelled")
                self.done.emit(None)

    def _show(self, job: _Job, detail: str) -> None:
        """Progress in the status bar, and in the message bar with Cancel while it shows
        this job (a message that came since stays; one dismissed is not brought back)."""
        text = f"Making the depth map of {quoted(job.name)}{ELLIPSIS} {detail}".rstrip()
        self.status(text)
        if not job.shown or self.messages.text == job.shown:
            self.messages.show_message(text, "info", "Cancel", self.cancel)
            job.shown = text

    def _hide(self, job: _Job) -> None:
        if job.shown and self.messages.text == job.shown:
            self.messages.dismiss()

    def _finished(self, job: _Job, outputs: tuple) -> None:
        self._job = None
        self._hide(job)
        images = [o for o in outputs if isinstance(o, ImageData)]
        depth = images[0].pixels if images else None
        if depth is None or depth.shape[:2] != job.alpha.shape:
            self._failed(job, "The depth model gave no map of the layer's size.")
            return
        if self._source_gone(job):
            return
        rgba = np.dstack([depth[..., :3], job.alpha])
        rgba[job.alpha == 0] = 0  # the map covers what the layer covers
        pixels = TiledRaster(*self.session.doc.size)
        pixels.write(job.area.x, job.area.y, rgba)
        pixels.clear_dirty()
        self._add(job.layer_id, pixels=pixels)

    def _failed(self, job: _Job, message: str) -> None:
        """The map could not be made: the layer is made from the photo, saying why."""
        self._job = None
        self._hide(job)
        if not self._source_gone(job):
            self._add(job.layer_id, f"{message} The Depth control layer holds the photo as it is.")

    def _source_gone(self, job: _Job) -> bool:
        if self.session.doc.get(job.layer_id) is not None:
            return False
        self.messages.show_message(
            f"{quoted(job.name)} was deleted while its depth map was made: no layer was added.",
            "warning",
        )
        self.done.emit(None)
        return True

    def _add(self, layer_id: str, note: str = "", pixels: TiledRaster | None = None) -> None:
        """Push the conversion (one undo step) and make the new layer active."""
        command = convert_to_control(self.session.doc, layer_id, KIND, pixels)
        added = self.session.push(command)
        if added:
            self.session.set_active(command.layer.id)
            self.status(f"Added the layer {quoted(command.layer.name)}")
        if note:
            self.messages.show_message(note, "warning")
        self.done.emit(command.layer if added else None)
