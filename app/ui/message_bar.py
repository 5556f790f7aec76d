"""A non-modal message strip over the top of the canvas: errors and offers, with up to two
actions.

It floats over the canvas (`float_over`) instead of taking a row above it: a row would
shrink the canvas view each time a message comes or goes, and the view would re-fit or
shift the picture under the designer's hands.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

MARGIN = 8  # px between a floating bar and its host's edges
MAX_WIDTH = 860  # px: a long line wraps rather than spanning a wide screen


class MessageBar(QFrame):
    """Shows one message at a time; never blocks, closes with its x button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.second_button = QPushButton()
        self.close_button = QToolButton()
        self.close_button.setText("\N{MULTIPLICATION SIGN}")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.second_button)
        layout.addWidget(self.close_button)
        self.close_button.clicked.connect(self.dismiss)
        self.action_button.clicked.connect(lambda: self._run(self._action))
        self.second_button.clicked.connect(lambda: self._run(self._second))
        self._action: Callable[[], None] | None = None
        self._second: Callable[[], None] | None = None
        self.kind = ""
        self._host: QWidget | None = None
        self.hide()

    def float_over(self, host: QWidget) -> None:
        """Show messages over the top of `host`, centred, without changing its size."""
        self._host = host
        self.setParent(host)
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self._host and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        """Centre the bar at the top of its host, as tall as its wrapped text needs."""
        if self._host is None:
            return
        width = max(0, min(self._host.width() - 2 * MARGIN, MAX_WIDTH))
        height = self.heightForWidth(width) if self.hasHeightForWidth() else -1
        height = min(height if height > 0 else self.sizeHint().height(), self._host.height())
        x = (self._host.width() - width) // 2
        self.setGeometry(QRect(x, MARGIN, width, height))
        self.raise_()

    def show_message(
        self,
        text: str,
        kind: str = "info",
        action_text: str = "",
        action: Callable[[], None] | None = None,
        second_text: str = "",
        second: Callable[[], None] | None = None,
    ) -> None:
        """kind: "info", "warning" or "error". An action button closes the bar, then runs
        its action."""
        self.kind = kind
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.label.setText(text)
        self._action = action
        self.action_button.setText(action_text)
        self.action_button.setVisible(bool(action_text and action))
        self._second = second
        self.second_button.setText(second_text)
        self.second_button.setVisible(bool(second_text and second))
        self.show()
        self._place()

    def show_error(self, text: str) -> None:
        self.show_message(text, "error")

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def dismiss(self) -> None:
        self._action = self._second = None
        self.kind = ""
        self.hide()

    def _run(self, action: Callable[[], None] | None) -> None:
        self.dismiss()
        if action is not None:
            action()
