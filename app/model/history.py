"""Undo history: a list of commands with undo/redo, merging and a memory budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.model.commands import Command
from app.model.document import Document
from app.model.tiles import Rect, union_rects

DEFAULT_BUDGET = 1 << 30  # 1 GiB of tile deltas and removed layers
Listener = Callable[[Rect | None], None]


@dataclass(frozen=True)
class HistoryEntry:
    """One row of the history panel."""

    label: str
    nbytes: int
    done: bool  # False: undone, can be redone


class History:
    """The commands done on one document, oldest first; `position` of them are done.

    Pushing a command does it, drops the redo steps, may merge it into the previous one
    (same merge_key) and drops the oldest steps while the memory kept for undo exceeds
    `budget` bytes (the newest step always stays). Listeners get the rectangle to redraw.
    """

    def __init__(self, doc: Document, budget: int = DEFAULT_BUDGET) -> None:
        self.doc, self.budget = doc, budget
        self._commands: list[Command] = []
        self.position = 0
        self._clean: int | None = 0
        self._listeners: list[Listener] = []

    # ---- editing ---------------------------------------------------------------------------

    def push(self, command: Command) -> Rect | None:
        """Do `command` and record it. A command that raises changes nothing and is dropped."""
        rect = command.do(self.doc)
        del self._commands[self.position :]
        if self._clean is not None and self._clean > self.position:
            self._clean = None  # the saved state was in the dropped redo steps
        if not self._merge(command):
            self._commands.append(command)
            self.position += 1
        self._evict()
        return self._changed(rect)

    def _merge(self, command: Command) -> bool:
        if command.merge_key is None or not self._commands or self._clean == self.position:
            return False
        last = self._commands[-1]
        return last.merge_key == command.merge_key and last.merge(command)

    def _evict(self) -> None:
        while len(self._commands) > 1 and self.nbytes > self.budget:
            self._commands.pop(0)
            self.position -= 1
            if self._clean is not None:
                self._clean = self._clean - 1 if self._clean > 0 else None

    def undo(self) -> Rect | None:
        if not self.can_undo:
            return None
        self.position -= 1
        return self._changed(self._commands[self.position].undo(self.doc))

    def redo(self) -> Rect | None:
        if not self.can_redo:
            return None
        self.position += 1
        return self._changed(self._commands[self.position - 1].do(self.doc))

    def go_to(self, position: int) -> Rect | None:
        """Undo or redo until `position` steps are done (a click in the history panel)."""
        if not 0 <= position <= len(self._commands):
            raise IndexError(f"history position {position} out of 0..{len(self._commands)}")
        rects = []
        while self.position > position:
            rects.append(self.undo())
        while self.position < position:
            rects.append(self.redo())
        return union_rects(rects)

    def clear(self) -> None:
        self._commands.clear()
        self.position, self._clean = 0, 0

    # ---- state -----------------------------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        return self.position > 0

    @property
    def can_redo(self) -> bool:
        return self.position < len(self._commands)

    @property
    def undo_label(self) -> str | None:
        return self._commands[self.position - 1].label if self.can_undo else None

    @property
    def redo_label(self) -> str | None:
        return self._commands[self.position].label if self.can_redo else None

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._commands)

    def entries(self) -> list[HistoryEntry]:
        """The steps for a history panel, oldest first."""
        return [
            HistoryEntry(c.label, c.nbytes, i < self.position) for i, c in enumerate(self._commands)
        ]

    def mark_clean(self) -> None:
        """The document was saved in its current state."""
        self._clean = self.position

    @property
    def is_clean(self) -> bool:
        """True when the document is as last saved (or as opened)."""
        return self._clean == self.position

    # ---- listeners -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _changed(self, rect: Rect | None) -> Rect | None:
        self.doc.revision += 1
        for listener in list(self._listeners):
            listener(rect)
        return rect
