"""Crash safety in the window: autosave off the GUI thread (every minute unless the
settings' "autosave_minutes" say otherwise), and on start an offer to recover the work a
crash left behind ("Recover" / "Discard").

The autosave takes a snapshot of the document on the GUI thread (cheap: the tiles are
shared) and writes the recovery file on a worker thread, so painting never stutters while
a big document is encoded. A clean close or a save removes the recovery file.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.model.autosave import (
    RecoveryFile,
    discard_recovery,
    find_recovery_files,
    set_aside,
    set_aside_damaged,
    write_recovery,
)
from app.model.document import Document
from app.model.project_file import ProjectFileError
from app.ui.doc_session import DocumentSession
from app.ui.message_bar import MessageBar
from engine.home import load_settings

AUTOSAVE_SETTING = "autosave_minutes"
AUTOSAVE_MINUTES = 1
MIN_AUTOSAVE_MINUTES, MAX_AUTOSAVE_MINUTES = 1, 60
WRITE_WAIT_S = 60.0


class BackgroundAutosave(QObject):
    """Writes the session's document to its recovery file when it changed (every
    `autosave_minutes`)."""

    written = Signal(object)  # Path (emitted from the worker thread: queued to listeners)
    failed = Signal(str)

    def __init__(
        self, session: DocumentSession, home: Path | None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.session, self.home = session, home
        self.timer = QTimer(self, interval=autosave_minutes(load_settings(home)) * 60_000)
        self.timer.timeout.connect(self.tick)
        self.running: Future | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atelier-autosave")
        self._written = (session.doc.id, session.doc.revision)

    def start(self) -> None:
        self.timer.start()

    def set_minutes(self, minutes: int) -> None:
        """Autosave every `minutes` from now on (a running timer restarts its count)."""
        self.timer.setInterval(minutes * 60_000)

    def stop(self) -> None:
        self.timer.stop()

    @property
    def pending(self) -> bool:
        """Unsaved changes that the recovery file does not hold yet."""
        doc = self.session.doc
        return self.session.dirty and (doc.id, doc.revision) != self._written

    def tick(self) -> Future | None:
        """Start writing the recovery file if needed; returns the write's future."""
        if not self.pending or (self.running is not None and not self.running.done()):
            return None
        doc = self.session.doc
        snapshot, state = doc.snapshot(), (doc.id, doc.revision)
        self.running = self._pool.submit(self._write, snapshot, state, self.session.path)
        return self.running

    def _write(self, snapshot: Document, state: tuple[str, int], source: Path | None) -> None:
        """On the worker thread: write, then remember what the file holds."""
        try:
            path = write_recovery(snapshot, self.home, source)
        except (ProjectFileError, OSError, ValueError) as exc:
            self.failed.emit(f"Autosave failed: {exc}")
            return
        self._written = state
        self.written.emit(path)

    def forget(self, doc: Document) -> None:
        """The work in `doc` was saved or deliberately discarded: drop its recovery file
        (after a write in progress, so it cannot come back)."""
        if self.running is not None:
            with contextlib.suppress(Exception):  # _write reports its own failures
                self.running.result(timeout=WRITE_WAIT_S)
        self._written = (doc.id, doc.revision)
        try:
            discard_recovery(doc.id, self.home)
        except (OSError, ValueError) as exc:
            self.failed.emit(f"Could not remove the recovery file: {exc}")


def autosave_minutes(settings: Mapping[str, Any]) -> int:
    """The minutes between autosaves the settings ask for; AUTOSAVE_MINUTES when they ask
    for none, or for a number outside MIN_AUTOSAVE_MINUTES..MAX_AUTOSAVE_MINUTES."""
    value = settings.get(AUTOSAVE_SETTING)
    usable = isinstance(value, int) and not isinstance(value, bool)
    if usable and MIN_AUTOSAVE_MINUTES <= value <= MAX_AUTOSAVE_MINUTES:
        return value
    return AUTOSAVE_MINUTES


def recovery_files(home: Path | None, exclude: str | None = None) -> list[RecoveryFile]:
    return [f for f in find_recovery_files(home) if f.document_id != exclude]


def offer_recovery(
    messages: MessageBar,
    home: Path | None,
    recover: Callable[[Document, RecoveryFile], None],
    exclude: str | None = None,
    also: str = "",
) -> RecoveryFile | None:
    """Show "Recover" / "Discard" for the newest recovery file; None when there is none.
    Damaged recovery files are first moved aside, and said so (once: they are gone from
    the recovery folder afterwards); `also` is another startup problem to mention."""
    notes = [moved.sentence() for moved in set_aside_damaged(home)]
    note = " ".join([*notes, also] if also else notes)
    found = recovery_files(home, exclude)
    if not found:
        if note:
            messages.show_error(note)
        return None
    newest = found[0]
    when = time.strftime("%d %b, %H:%M", time.localtime(newest.saved_at))
    name = Path(newest.source).name if newest.source else "an unsaved picture"
    more = f" ({len(found) - 1} more after this)" if len(found) > 1 else ""
    messages.show_message(
        f"Atelier closed without saving {name}; the work from {when} can be recovered{more}."
        + (f" {note}" if note else ""),
        "info",
        "Recover",
        lambda: _recover(messages, newest, recover, home),
        "Discard",
        lambda: _discard(messages, newest),
    )
    return newest


def _recover(
    messages: MessageBar,
    found: RecoveryFile,
    recover: Callable[[Document, RecoveryFile], None],
    home: Path | None,
) -> None:
    try:
        doc = found.load()
    except ProjectFileError as exc:
        moved = set_aside(found.path, str(exc), home)
        where = (
            f"it was moved to {moved.moved_to}" if moved.moved_to else f"it stays at {found.path}"
        )
        messages.show_error(f"Could not recover the work: {exc}; {where}.")
        return
    recover(doc, found)


def _discard(messages: MessageBar, found: RecoveryFile) -> None:
    try:
        found.discard()
    except OSError as exc:
        messages.show_error(
            f"Could not delete the recovery file {found.path}: {exc.strerror or exc}."
        )
