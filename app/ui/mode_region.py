"""Keeps the Generate panel's line on what the current mode works on (the whole canvas, the
selection, the painted mask, a new border) true as the document and the mode change.

The words come from the mode's task (its `region` function, see plugins.api.Task), so a
plugin's mode says its own; nothing here names a task.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from app.model.requests import describe_region
from app.ui.doc_session import DocumentSession
from app.ui.prompt_panel import PromptPanel

log = logging.getLogger(__name__)


class ModeRegion(QObject):
    """Updates `panel`'s region line after every edit (a selection is one), a new document,
    a change of mode or of the mode's own settings."""

    def __init__(self, panel: PromptPanel, session: DocumentSession) -> None:
        super().__init__(panel)
        self.panel, self.session = panel, session
        session.history_changed.connect(self.update)  # also fires for a new document
        panel.mode_changed.connect(self.update)
        panel.mode_forms.changed.connect(self.update)
        self.update()

    def update(self, *_: object) -> None:
        task = self.panel.tasks.get(self.panel.mode)
        if task is None:  # no modes at all
            return
        try:
            text = describe_region(task, self.panel.region_values(), self.session.doc)
        except Exception:  # a plugin's region function must not break the panel
            log.exception("the region line of %s failed", task.id)
            text = ""
        self.panel.show_region(text)
