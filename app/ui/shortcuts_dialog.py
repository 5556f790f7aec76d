"""Help > Keyboard shortcuts: every shortcut the window answers to, read from its actions
(the menus', in menu order, then the tools' and panels'), so the list is never out of date."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

OTHER = "Tools and panels"


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(group, action, keys) for each action of `window` that has a shortcut: grouped by
    menu ("Edit", "Edit / Select"), the rest by the toolbar holding them, else OTHER."""
    rows: list[tuple[str, str, str]] = []
    listed: set[QAction] = set()
    for action in window.menuBar().actions():
        if action.menu() is not None:
            _menu_rows(action.menu(), _plain(action.text()), rows, listed)
    for action in window.findChildren(QAction):
        if action not in listed and action.shortcuts():
            parent = action.parent()
            group = parent.windowTitle() if isinstance(parent, QWidget) else ""
            rows.append((group or OTHER, _plain(action.text()), keys_text(action)))
            listed.add(action)
    return rows


def _menu_rows(
    menu: QMenu, group: str, rows: list[tuple[str, str, str]], listed: set[QAction]
) -> None:
    for action in menu.actions():
        if action.menu() is not None:
            _menu_rows(action.menu(), f"{group} / {_plain(action.text())}", rows, listed)
        elif action.shortcuts() and action not in listed:
            rows.append((group, _plain(action.text()), keys_text(action)))
            listed.add(action)


def keys_text(action: QAction) -> str:
    """The action's shortcuts as the platform writes them ("Ctrl+S"), comma separated."""
    native = QKeySequence.SequenceFormat.NativeText
    return ", ".join(key.toString(native) for key in action.shortcuts())


def _plain(text: str) -> str:
    """A menu text without its mnemonic marks and trailing ellipsis."""
    return (
        text.replace("&&", "\0")
        .replace("&", "")
        .replace("\0", "&")
        .rstrip("\N{HORIZONTAL ELLIPSIS}")
    )


class ShortcutsDialog(QDialog):
    """The shortcuts of `window`, grouped as its menus are."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("shortcuts")
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        groups: dict[str, QTreeWidgetItem] = {}
        for group, text, keys in shortcut_rows(window):
            if group not in groups:
                groups[group] = QTreeWidgetItem(self.tree, [group])
                font = groups[group].font(0)
                font.setBold(True)
                groups[group].setFont(0, font)
            QTreeWidgetItem(groups[group], [text, keys])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        column = QVBoxLayout(self)
        column.addWidget(self.tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.resize(520, 640)
