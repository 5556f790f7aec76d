"""The Verify panel: drop or choose files, read whether they carry Atelier's watermark,
what their metadata claims and their safety record (the same report as `atelier verify`),
each file's as a card: the verdict with an icon in its colour, then label / value rows and
the marks its record lists (ui_report_card.py).

A UI module (imports PySide6); the checks run on a worker thread, so the window stays
responsive while a video is decoded.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from plugins.api import AppContext
from plugins.provenance.report_card import Card
from plugins.provenance.ui_report_card import ReportCard

FILE_FILTER = (
    "Images, video and audio (*.png *.jpg *.jpeg *.webp *.mp4 *.mov *.webm *.mkv "
    "*.wav *.flac *.mp3 *.m4a *.ogg);;All files (*)"
)


class VerifyPanel(QWidget):
    """Reports, newest last, for the files dropped on it or chosen with its button."""

    reported = Signal(object, str, bool, bool)  # card, report text, readable, marked

    def __init__(self, context: AppContext | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context  # where its file dialog opens; None: the current folder
        self.setObjectName("verifyPanel")
        self.setAcceptDrops(True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="atelier-verify")
        self.pending = 0
        hint = QLabel("Drop images, videos or audio files here to check them for Atelier's mark.")
        hint.setWordWrap(True)
        self.choose_button = QPushButton("Choose files…")
        self.choose_button.clicked.connect(self.choose_files)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.placeholder = QLabel("No files checked yet.")
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.cards: list[ReportCard] = []
        self._column = QVBoxLayout()
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.addWidget(self.placeholder)
        self._column.addStretch(1)
        inner = QWidget()
        inner.setLayout(self._column)
        self.scroll = QScrollArea()
        self.scroll.setWidget(inner)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.scroll, 1)
        self.reported.connect(self._show)
        self.destroyed.connect(lambda: self._pool.shutdown(wait=False, cancel_futures=True))

    def text(self) -> str:
        """Every shown report as plain text, oldest first (as `atelier verify` prints them)."""
        return "\n\n".join(card.text for card in self.cards)

    def clear(self) -> None:
        for card in self.cards:
            card.deleteLater()
        self.cards.clear()
        self.placeholder.show()
        self.status.setText("")

    def choose_files(self) -> None:
        start = str(self.context.dialog_folder("verify")) if self.context else ""
        paths, _ = QFileDialog.getOpenFileNames(self, "Verify files", start, FILE_FILTER)
        if paths and self.context:
            self.context.remember_dialog_folder("verify", Path(paths[0]))
        self.verify([Path(p) for p in paths])

    def verify(self, paths: list[Path]) -> None:
        """Check the files on the worker thread; each report appears when it is ready."""
        for path in paths:
            self.pending += 1
            self.status.setText(f"Checking {path.name}…")
            self._pool.submit(self._check, path)

    def _check(self, path: Path) -> None:  # on the worker thread
        from plugins.provenance.report_card import report_card
        from plugins.provenance.report_text import format_report
        from plugins.provenance.verify import Report, verify_file

        try:
            report = verify_file(path)
            card, text = report_card(report), format_report(report)
        except Exception as exc:  # a bug must not kill the worker silently
            report = Report(path, error=f"could not be checked: {exc}")
            card, text = report_card(report), format_report(report)
        self.reported.emit(card, text, report.readable, report.readable and report.marked)

    def _show(self, card: Card, text: str, readable: bool, marked: bool) -> None:
        self.pending -= 1
        self.placeholder.hide()
        shown = ReportCard(card, text)
        self.cards.append(shown)
        self._column.insertWidget(self._column.count() - 1, shown)  # above the stretch
        QTimer.singleShot(0, lambda: self._reveal(shown))
        if not readable:
            self.status.setText("Could not read the last file.")
        else:
            self.status.setText(
                "The last file carries Atelier's watermark."
                if marked
                else "The last file does NOT carry Atelier's watermark."
            )

    def _reveal(self, card: ReportCard) -> None:
        """Scroll down to the newest card, once it is laid out (unless Clear took it away)."""
        if card in self.cards:
            self.scroll.verticalScrollBar().setValue(card.y())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.verify(paths)


def make_panel(context: AppContext) -> QWidget:
    """The panel factory the main window calls (plugins.api.Panel); the panel reads files
    only, and takes from the window's context only where its file dialog opens."""
    return VerifyPanel(context)
