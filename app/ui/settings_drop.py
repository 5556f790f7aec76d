"""Drop a picture onto the Generate panel to reuse its settings: an event filter on the
panel and its text boxes that takes drags of one PNG, JPEG or WebP file (other drops,
text into the prompt, go on as before)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def dropped_image(mime: QMimeData) -> Path | None:
    """The picture file a drag carries, when it carries exactly one local one."""
    urls = mime.urls() if mime.hasUrls() else []
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    path = Path(urls[0].toLocalFile())
    return path if path.suffix.lower() in IMAGE_SUFFIXES else None


class SettingsDrop(QObject):
    """Calls `use(path)` when a picture file is dropped on `panel` or one of its text
    boxes (their viewports get the drops)."""

    def __init__(self, panel: QWidget, use: Callable[[Path], None]) -> None:
        super().__init__(panel)
        self.use = use
        panel.setAcceptDrops(True)
        targets = [panel] + [area.viewport() for area in panel.findChildren(QAbstractScrollArea)]
        for target in targets:
            target.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if isinstance(event, QDropEvent):  # drag enter and move events are drop events too
            path = dropped_image(event.mimeData())
            if path is None:
                return False
            event.acceptProposedAction()
            if event.type() == QEvent.Type.Drop:
                self.use(path)
            return True
        return False
