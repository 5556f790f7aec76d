"""The History panel: every undo step, oldest first; click one to go back (or forward) to it.

The first row is the document as it was opened; undone steps are greyed until redone or
replaced by a new edit.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.model import history_names as names
from app.ui.doc_session import DocumentSession

UNDONE = QColor("#6f757c")


def _size_text(nbytes: int) -> str:
    if nbytes >= 1 << 20:
        return f"{nbytes / (1 << 20):.1f} MB"
    return f"{nbytes / 1024:.0f} KB" if nbytes >= 1024 else ""


class HistoryPanel(QWidget):
    """Shows the session's history; a click calls `session.go_to`."""

    def __init__(self, session: DocumentSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.list = QListWidget()
        self.list.setObjectName("history")
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self.list)
        self.list.currentRowChanged.connect(self._on_row)
        session.history_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        history = self.session.history
        with QSignalBlocker(self.list):
            self.list.clear()
            opened = self.session.path or self.session.name
            self.list.addItem(
                QListWidgetItem(names.OPEN_DOCUMENT if opened else names.CREATE_DOCUMENT)
            )
            for entry in history.entries():
                item = QListWidgetItem(entry.label)
                item.setToolTip(
                    f"Keeps {_size_text(entry.nbytes)} for undo" if entry.nbytes else ""
                )
                if not entry.done:
                    item.setForeground(QBrush(UNDONE))
                self.list.addItem(item)
            self.list.setCurrentRow(history.position)
        self.list.scrollToItem(self.list.currentItem())

    def _on_row(self, row: int) -> None:
        if row >= 0 and row != self.session.history.position:
            self.session.go_to(row)

    def labels(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]
