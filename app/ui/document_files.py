"""The File menu's work: new, open (PNG/JPEG/WebP or .atelier), save, save as, export, and
the "save changes?" question before unsaved work would be lost.

Saving writes the project atomically: when it fails (disk full, no permission) the error
is shown and the previous file is untouched. Every method can be given a path (tests, the
command line) instead of asking with a file dialog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.model.document import Document
from app.model.image_files import ImageReadError, ImageWriteError
from app.model.image_import import export_document, open_image
from app.model.project_file import SUFFIX, ProjectFileError, load_project, save_project
from app.ui.dialog_folders import remember_folder, start_folder
from app.ui.doc_session import DocumentSession
from app.ui.message_bar import MessageBar
from app.ui.size_dialogs import NewDocumentDialog
from plugins.api import Exporter
from plugins.exporters import exporters_of

OPEN_FILTER = (
    "Projects and images (*.atelier *.png *.jpg *.jpeg *.webp);;"
    "Atelier projects (*.atelier);;Images (*.png *.jpg *.jpeg *.webp);;All files (*)"
)
PROJECT_FILTER = "Atelier project (*.atelier)"


def export_filters(exporters: Iterable[Exporter]) -> dict[str, str]:
    """The export dialog's filters, e.g. "JPEG image (*.jpg *.jpeg)", each with the suffix
    its exporter writes by default: one per registered exporter of images."""
    return {
        f"{e.title} ({' '.join('*' + suffix for suffix in e.suffixes)})": e.suffixes[0]
        for e in exporters_of(exporters, "images")
    }


class DocumentFiles(QObject):
    """Opens and saves the session's document; reports problems in the message bar."""

    opened = Signal(object)  # Path of an opened project or picture
    image_opened = Signal(object)  # Path of an opened picture (it may carry settings)
    saved = Signal(object)  # Path
    replacing = Signal(object)  # the Document about to be replaced (its changes are settled)

    def __init__(
        self,
        window: QWidget,
        session: DocumentSession,
        messages: MessageBar,
        status: Callable[[str], None],
        exporters: Sequence[Exporter],
    ) -> None:
        super().__init__(window)
        self.window, self.session, self.messages, self.status = window, session, messages, status
        self.exporters = exporters  # the registered ones; Export offers those of images
        self.picture_folder: Path | None = None  # where the document's picture was opened from

    # -- unsaved changes -------------------------------------------------------------------

    def ask_to_save(self) -> bool:
        """True when it is fine to drop the document (saved, discarded or unchanged)."""
        if not self.session.dirty:
            return True
        box = QMessageBox(self.window)
        box.setObjectName("save_changes")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"Save the changes to {self.session.title}?")
        box.setInformativeText("If you don't save, your changes since the last save are lost.")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def replace(
        self, doc: Document, path: Path | None = None, dirty: bool = False, name: str | None = None
    ) -> None:
        """Make `doc` the session's document (the old one's changes are settled)."""
        self.replacing.emit(self.session.doc)
        self.session.set_document(doc, path, dirty, name)
        self.picture_folder = None

    # -- new and open ----------------------------------------------------------------------

    def new(self, doc: Document | None = None) -> bool:
        if not self.ask_to_save():
            return False
        if doc is None:
            dialog = NewDocumentDialog(self.session.doc.size, self.window)
            if not dialog.exec():
                return False
            doc = dialog.document()
        self.replace(doc)
        return True

    def open(self, path: Path | None = None) -> bool:
        """Open a project, or a picture as a new document."""
        if path is None:
            start = str(self._start_folder("open"))
            chosen, _ = QFileDialog.getOpenFileName(self.window, "Open", start, OPEN_FILTER)
            if not chosen:
                return False
            path = Path(chosen)
            remember_folder("open", path)
        try:
            is_project = path.suffix.lower() == SUFFIX
            doc = load_project(path) if is_project else open_image(path)
        except (ProjectFileError, ImageReadError) as exc:
            self.messages.show_error(f"Could not open {path.name}: {_reason(exc, path)}")
            return False
        if not self.ask_to_save():
            return False
        self.replace(doc, path if is_project else None, name=None if is_project else path.name)
        self.picture_folder = None if is_project else path.parent
        self.opened.emit(path)
        if not is_project:
            self.image_opened.emit(path)
        self.status(f"Opened {path.name}")
        return True

    # -- saving ----------------------------------------------------------------------------

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._write(self.session.path)

    def save_as(self, path: Path | None = None) -> bool:
        if path is None:
            name = Path(self.session.title).with_suffix(SUFFIX).name
            suggested = self._start_folder("save") / name
            chosen, _ = QFileDialog.getSaveFileName(
                self.window, "Save project", str(suggested), PROJECT_FILTER
            )
            if not chosen:
                return False
            path = Path(chosen)
            remember_folder("save", path)
        if path.suffix.lower() != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        return self._write(path)

    def _write(self, path: Path) -> bool:
        """Save to `path`; on failure the document stays as it was (still unsaved), the
        previous file is untouched, and the message bar says why."""
        existed = path.exists()
        try:
            save_project(self.session.doc, path)
        except ProjectFileError as exc:
            kept = "the previous file is unchanged" if existed else "nothing was written"
            self.messages.show_error(f"Could not save: {exc}; {kept}.")
            return False
        self.session.mark_saved(path)
        self.saved.emit(path)
        self.status(f"Saved {path}")
        return True

    def export(self, path: Path | None = None, layer_id: str | None = None) -> Path | None:
        """Write the flattened picture (or one layer) with the exporter its suffix names."""
        if path is None:
            path = self._ask_export_path(layer_id)
            if path is None:
                return None
        try:
            written = export_document(self.session.doc, path, self.exporters, layer_id)
        except (ImageWriteError, ValueError, OSError) as exc:
            self.messages.show_error(f"Could not export. {exc}")
            return None
        self.status(f"Exported {written}")
        return written

    def _start_folder(self, action: str) -> Path:
        """The document's folder (its project's, or the picture's it was opened from), else
        the last folder of `action`, else Pictures."""
        project = self.session.path
        return start_folder(action, project.parent if project else self.picture_folder)

    def _ask_export_path(self, layer_id: str | None) -> Path | None:
        stem = Path(self.session.title).stem
        if layer_id is not None:
            stem = f"{stem}-{self.session.doc.find(layer_id).name}"
        filters = export_filters(self.exporters)
        default = next(iter(filters.values()), "")
        suggested = self._start_folder("export") / f"{stem}{default}"
        chosen, chosen_filter = QFileDialog.getSaveFileName(
            self.window, "Export", str(suggested), ";;".join(filters)
        )
        if not chosen:
            return None
        path = Path(chosen)
        remember_folder("export", path)
        known = {s for e in exporters_of(self.exporters, "images") for s in e.suffixes}
        if path.suffix.lower() not in known:
            path = path.with_name(path.name + filters.get(chosen_filter, default))
        return path


def _reason(exc: Exception, path: Path) -> str:
    """The error without the "cannot open <path>:" prefix the model adds."""
    text = str(exc)
    for prefix in (f"cannot open {path}: ", f"cannot read {path}: "):
        text = text.removeprefix(prefix)
    return text
