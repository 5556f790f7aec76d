"""Edit > Preferences: the settings a designer would otherwise edit in settings.json.

The dialog shows the current values, writes them all at once when Save is pressed (the
file is replaced atomically, other settings kept) and the window then applies what it
can at once: the theme, the autosave interval and the model folders; the device settings
take effect after a restart, the safety levels with the next job. Each backend with a
settings page (Servers) has a tab of its own, which saves its changes as they are made. A
settings file that cannot be read is reported at the top of the dialog; saving over it
keeps a copy of it (engine.home.save_settings).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.preference_pages import DevicePage, GeneralPage, ModelFoldersPage, SafetyPage
from app.ui.preference_values import Preferences, read_preferences, save_preferences
from app.ui.theme import apply_theme
from engine.devices import DevicePolicy
from engine.home import models_dir, read_settings
from plugins.api import Backend, resolve

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class PreferencesDialog(QDialog):
    """Shows the preferences of the settings file in `home`; Save writes them
    (`saved` holds what was written), Cancel leaves the file alone."""

    def __init__(
        self,
        home: Path | None,
        in_use: DevicePolicy | None,
        parent: QWidget | None = None,
        backends: Sequence[Backend] = (),
    ) -> None:
        """`backends`: each one with a settings page gets a tab of it, under its title."""
        super().__init__(parent)
        self.setObjectName("preferences")
        self.setWindowTitle("Preferences")
        self.home = home
        self.before = read_preferences(home)
        self.saved: Preferences | None = None
        column = QVBoxLayout(self)
        problem = read_settings(home).problem
        if problem:
            column.addWidget(_damaged_file_note(problem))
        self.general = GeneralPage(self.before)
        self.folders = ModelFoldersPage(self.before, models_dir("checkpoints", home).parent)
        self.device = DevicePage(self.before, in_use)
        self.safety = SafetyPage(self.before)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.general, "General")
        self.tabs.addTab(self.folders, "Model folders")
        self.tabs.addTab(self.device, "Device and memory")
        self.tabs.addTab(self.safety, "Safety")
        for backend in backends:
            if backend.settings_page:
                self.tabs.addTab(_backend_page(backend), backend.title)
        column.addWidget(self.tabs, 1)
        self.error = QLabel(objectName="error", wordWrap=True)
        self.error.hide()
        column.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.resize(600, 380)

    def preferences(self) -> Preferences:
        """The values as the fields show them now."""
        prefs = self.before
        for page in (self.general, self.folders, self.device, self.safety):
            prefs = page.values(prefs)
        return prefs

    def accept(self) -> None:
        """Save and close; when the file cannot be written, say why and stay open."""
        prefs = self.preferences()
        try:
            save_preferences(prefs, self.home)
        except ValueError as exc:  # SettingsError included
            self.error.setText(f"The preferences were not saved: {exc}.")
            self.error.show()
            return
        self.saved = prefs
        super().accept()


def _backend_page(backend: Backend) -> QWidget:
    """The backend's own page (it saves its own changes), or why it cannot show."""
    try:
        return resolve(backend.settings_page)()
    except Exception as exc:  # a plugin's page must not keep the dialog from opening
        log.exception("the %s settings page failed", backend.id)
        return QLabel(f"This page could not open: {exc}", objectName="error", wordWrap=True)


def _damaged_file_note(problem: str) -> QLabel:
    label = QLabel(
        f"{problem} Saving here writes a new settings file; the old one is kept beside "
        "it as settings.damaged.json."
    )
    label.setObjectName("error")
    label.setWordWrap(True)
    return label


def open_preferences(window: MainWindow) -> Preferences | None:
    """Show the dialog for the window's settings; apply what was saved."""
    in_use = window.engine.known_device_policy  # None until the engine has chosen one
    dialog = PreferencesDialog(window.store.home, in_use, window, window.registry.backends)
    accepted = dialog.exec()
    window.run_on.refresh()  # a backend's page saves its changes itself, even on Cancel
    if not accepted or dialog.saved is None:
        return None
    notes = apply_preferences(window, dialog.before, dialog.saved)
    window.status(" ".join(["Preferences saved.", *notes]))
    return dialog.saved


def apply_preferences(window: MainWindow, before: Preferences, after: Preferences) -> list[str]:
    """Put the saved preferences into effect where that can be done while the app runs;
    returns what waits for a restart, in a sentence."""
    app = QApplication.instance()
    if after.theme != before.theme and isinstance(app, QApplication):
        apply_theme(app, after.theme)
    window.autosave.set_minutes(after.autosave_minutes)
    if after.model_folders != before.model_folders:
        window.store.set_extra_folders([Path(f) for f in after.model_folders])
        window.refresh_models()
    if dict(after.device) != dict(before.device):
        return ["The device and memory settings take effect when Atelier restarts."]
    return []
