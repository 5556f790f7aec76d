"""Crash recovery: autosave changed documents to <home>/recovery/<document-id>.atelier.

A clean close deletes the document's recovery file, so any recovery file found when
Atelier starts was left by a crash and can be offered to the user. The GUI calls
`Autosaver.tick()` from a timer (every minute); it writes only when the document changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.model.document import Document
from app.model.project_file import SUFFIX, ProjectFileError, load_project, read_project_manifest
from app.model.project_file import save_project as _save
from engine.file_writing import free_name, write_failure
from engine.home import atelier_home
from engine.untrusted import display_path

RECOVERY = "recovery"
DAMAGED = "damaged"


@dataclass(frozen=True)
class RecoveryFile:
    """A recovery file left behind: which document, when, and its original project file."""

    path: Path
    document_id: str
    saved_at: float  # seconds since the epoch
    source: str | None  # the .atelier file the document was saved to, None if never saved

    def load(self) -> Document:
        return load_project(self.path)

    def discard(self) -> None:
        """Delete this recovery file (the user chose to drop the work)."""
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SetAside:
    """A recovery file that could not be read, moved out of the way (never deleted)."""

    path: Path  # where it was
    moved_to: Path | None  # where it is now; None when it could not be moved
    reason: str  # why it could not be read

    def sentence(self) -> str:
        """What happened, for the window's message bar."""
        if self.moved_to is None:
            return (
                f"The recovery file {display_path(self.path)} is damaged ({self.reason}) "
                "and could not be moved aside; move or delete it yourself."
            )
        return (
            f"The recovery file {self.path.name} could not be opened ({self.reason}); "
            f"it was moved to {display_path(self.moved_to)}."
        )


def recovery_dir(home: Path | None = None) -> Path:
    return (home or atelier_home()) / RECOVERY


def recovery_path(document_id: str, home: Path | None = None) -> Path:
    if not document_id or any(c in document_id for c in "/\\:") or document_id.startswith("."):
        raise ValueError(f"not a usable document id: {document_id!r}")
    return recovery_dir(home) / f"{document_id}{SUFFIX}"


def write_recovery(
    doc: Document, home: Path | None = None, source: str | os.PathLike[str] | None = None
) -> Path:
    """Save a recovery copy of `doc` (atomically; raises ProjectFileError on failure)."""
    extra = {"recovery_of": str(source) if source else None}
    return _save(doc, recovery_path(doc.id, home), extra)


def find_recovery_files(home: Path | None = None) -> list[RecoveryFile]:
    """Recovery files left by a crash, newest first; unreadable ones are left out (and on
    disk: see `set_aside_damaged` for moving them out of the way)."""
    return _scan(home)[0]


def set_aside_damaged(home: Path | None = None) -> list[SetAside]:
    """Move the recovery files that cannot be read to <recovery>/damaged/, so that they
    stop being offered (and stop failing) on every start, yet nothing is lost."""
    return [set_aside(path, reason, home) for path, reason in _scan(home)[1]]


def set_aside(path: Path, reason: str, home: Path | None = None) -> SetAside:
    """Move one unreadable recovery file to <recovery>/damaged/ (under a free name)."""
    folder = recovery_dir(home) / DAMAGED
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = free_name(folder / path.name)
        path.rename(target)
    except OSError as exc:
        return SetAside(path, None, f"{reason}; moving it failed: {write_failure(exc)}")
    return SetAside(path, target, reason)


def _scan(home: Path | None) -> tuple[list[RecoveryFile], list[tuple[Path, str]]]:
    """The readable recovery files (newest first) and the unreadable ones with why."""
    found, damaged = [], []
    folder = recovery_dir(home)
    try:
        paths = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    except OSError:
        paths = []
    for path in paths:
        try:
            manifest = read_project_manifest(path)
            saved_at = path.stat().st_mtime
        except (ProjectFileError, OSError) as exc:
            damaged.append((path, _reason(exc, path)))
            continue
        source = manifest.extra.recovery_of
        found.append(RecoveryFile(path, manifest.document.id, saved_at, source))
    return sorted(found, key=lambda f: f.saved_at, reverse=True), damaged


def _reason(exc: Exception, path: Path) -> str:
    """The error without the "cannot open <path>:" prefix the project reader adds."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).removeprefix(f"cannot open {display_path(path)}: ")


def discard_recovery(document_id: str, home: Path | None = None) -> None:
    recovery_path(document_id, home).unlink(missing_ok=True)


class Autosaver:
    """Keeps one document's recovery file up to date."""

    def __init__(
        self, doc: Document, home: Path | None = None, source: str | os.PathLike[str] | None = None
    ) -> None:
        self.doc, self.home, self.source = doc, home, source
        self._saved_revision = doc.revision

    @property
    def path(self) -> Path:
        return recovery_path(self.doc.id, self.home)

    @property
    def pending(self) -> bool:
        """The document changed since it was last saved or autosaved."""
        return self.doc.revision != self._saved_revision

    def tick(self) -> Path | None:
        """Write the recovery file if the document changed; returns its path if written."""
        if not self.pending:
            return None
        revision = self.doc.revision
        path = write_recovery(self.doc.snapshot(), self.home, self.source)
        self._saved_revision = revision
        return path

    def saved(self, source: str | os.PathLike[str] | None = None) -> None:
        """The user saved the document (to `source`): the recovery copy is no longer needed."""
        self.source = source or self.source
        self._saved_revision = self.doc.revision
        discard_recovery(self.doc.id, self.home)

    def close(self) -> None:
        """A clean close: remove the recovery file."""
        discard_recovery(self.doc.id, self.home)
