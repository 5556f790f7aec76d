"""Autocompletion of `<lora:` in a prompt box: typing it offers the LoRAs' names it is given
(the LoRA picker's: the installed ones that fit the checkpoint, or a server's while jobs run
there), and choosing one completes the tag as `<lora:name:1>`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit

from plugins.diffusion.lora_tags import format_tag

OPEN_TAG = re.compile(r"<lora:([^:>\s]*)$")  # a tag being typed, up to the cursor
ACCEPT_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab)


class LoraCompleter(QObject):
    """Offers LoRA names while the text before the cursor is an unfinished `<lora:...`."""

    def __init__(self, edit: QPlainTextEdit) -> None:
        super().__init__(edit)
        self.edit = edit
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setWidget(edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self.complete_with)
        # QCompleter hands Return to the prompt box first, which takes it as a new line;
        # a filter installed after the completer's sees the key first and completes
        self.completer.popup().installEventFilter(self)
        edit.textChanged.connect(self._offer)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress and event.key() in ACCEPT_KEYS:
            index = self.completer.popup().currentIndex()
            if index.isValid():
                self.complete_with(str(index.data()))
                return True
        return super().eventFilter(watched, event)

    def set_names(self, names: Sequence[str]) -> None:
        """The LoRA names to offer from now on."""
        self.model.setStringList(list(names))

    def typed(self) -> str | None:
        """The part of the LoRA name typed so far, or None when the cursor is not in an
        unfinished tag."""
        cursor = self.edit.textCursor()
        before = self.edit.toPlainText()[: cursor.position()]
        match = OPEN_TAG.search(before[-200:])
        return match[1] if match else None

    def _offer(self) -> None:
        typed = self.typed()
        popup = self.completer.popup()
        if typed is None or not self.model.rowCount():
            popup.hide()
            return
        self.completer.setCompletionPrefix(typed)
        if self.completer.completionCount() == 0:
            popup.hide()
            return
        rect = self.edit.cursorRect()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width())
        self.completer.complete(rect)
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))

    def complete_with(self, name: str) -> None:
        """Replace the unfinished tag before the cursor with the whole tag of `name`."""
        typed = self.typed()
        if typed is None:
            return
        cursor = self.edit.textCursor()
        start = cursor.position() - len("<lora:") - len(typed)
        cursor.setPosition(start, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(format_tag(name, 1.0))
        self.edit.setTextCursor(cursor)
        self.completer.popup().hide()
