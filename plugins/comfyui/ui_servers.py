"""Settings > Servers: the ComfyUI servers jobs may run on, added, edited, removed and tested.

Each server is its address, an optional bearer token and a name. The address is checked as
it is typed (servers.normalise_url); a server is kept in settings.json as soon as it is
saved here (a file that cannot be written is reported and nothing typed is lost). "Test
connection" asks the server for its device, memory and queue on a thread of its own, so the
window never waits for a server that does not answer.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.background_call import BackgroundCall
from app.ui.preference_pages import note
from plugins.comfyui.client import ComfyUIClient
from plugins.comfyui.server_info import status
from plugins.comfyui.servers import ServerConfig, load_servers, normalise_url, save_servers

LOCAL_NOTE = "Local engine stays the default and is always there."
NOT_TESTED = "Not tested yet"
TESTING = "Testing the connection\N{HORIZONTAL ELLIPSIS}"


def servers_page() -> QWidget:
    """The Backend's settings page (Edit > Preferences > Servers)."""
    return ServersPage()


def describe_server(server: ServerConfig) -> str:
    """The server's device, memory and queue in one line (ServerUnreachable, an OSError,
    when it does not answer). Blocks: run it off the GUI thread."""
    return status(ComfyUIClient(server)).describe()


class ServersPage(QWidget):
    """The list of servers, the form that adds or edits one, and each one's last test."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.servers = load_servers()
        self.tested: dict[str, str] = {}  # url -> what its last test said
        self.editing: int | None = None  # the row the form edits; None: a new server
        self.calls = BackgroundCall(self)
        self.calls.answered.connect(self._tested)
        column = QVBoxLayout(self)
        column.addWidget(
            note(
                "Run jobs on ComfyUI servers (a GPU in the studio's rack, a rented cloud GPU): "
                f"choose one under Run on in the Generate panel. {LOCAL_NOTE}"
            )
        )
        self.list = QListWidget(objectName="servers")
        column.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add\N{HORIZONTAL ELLIPSIS}")
        self.edit_button = QPushButton("Edit\N{HORIZONTAL ELLIPSIS}")
        self.remove_button = QPushButton("Remove")
        self.test_button = QPushButton("Test connection")
        for button in (self.add_button, self.edit_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addWidget(self._build_form())
        self.problem = QLabel(objectName="error", wordWrap=True)
        self.problem.hide()
        column.addWidget(self.problem)
        column.addWidget(note("Changes here are saved at once."))
        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.remove_button.clicked.connect(self.remove)
        self.test_button.clicked.connect(self.test)
        self.list.currentRowChanged.connect(self._update_buttons)
        self.list.itemDoubleClicked.connect(lambda _item: self.edit())
        self._fill()

    def _build_form(self) -> QGroupBox:
        self.form = QGroupBox("Server")
        self.url = QLineEdit(objectName="server_url")
        self.url.setPlaceholderText("http://192.168.1.20:8188")
        self.url_error = QLabel(objectName="error", wordWrap=True)
        self.url_error.hide()
        self.token = QLineEdit(objectName="server_token")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("none")
        self.token.setToolTip("Sent as a bearer token, for servers behind a login")
        self.name = QLineEdit(objectName="server_name")
        self.name.setPlaceholderText("its address")
        self.save_button = QPushButton("Save server")
        self.save_button.setObjectName("primary")
        self.cancel_button = QPushButton("Cancel")
        address = QVBoxLayout()
        address.setSpacing(2)
        address.addWidget(self.url)
        address.addWidget(self.url_error)
        form = QFormLayout(self.form)
        form.addRow("Address:", address)
        form.addRow("Token:", self.token)
        form.addRow("Name:", self.name)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.save_button)
        form.addRow(row)
        self.url.textEdited.connect(self._check_url)
        self.url.returnPressed.connect(self.save_server)
        self.save_button.clicked.connect(self.save_server)
        self.cancel_button.clicked.connect(self.close_form)
        self.form.hide()
        return self.form

    # -- the list --------------------------------------------------------------------------

    def _fill(self) -> None:
        row = self.list.currentRow()
        self.list.clear()
        for server in self.servers:
            item = QListWidgetItem(self._line(server))
            item.setData(Qt.ItemDataRole.UserRole, server.url)
            self.list.addItem(item)
        self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        self._update_buttons()

    def _line(self, server: ServerConfig) -> str:
        shown = f"{server.label}   {server.url}" if server.name else server.url
        token = "   (with a token)" if server.token else ""
        return f"{shown}{token}\n    {self.tested.get(server.url, NOT_TESTED)}"

    def _update_buttons(self, *_: object) -> None:
        chosen = self.list.currentRow() >= 0
        for button in (self.edit_button, self.remove_button, self.test_button):
            button.setEnabled(chosen)

    def line(self, row: int) -> str:
        """What the list shows for the server in `row`."""
        return self.list.item(row).text()

    # -- adding and editing ----------------------------------------------------------------

    def add(self) -> None:
        """Open the form for a new server."""
        self._open_form(None, ServerConfig(""))

    def edit(self) -> None:
        """Open the form on the chosen server."""
        row = self.list.currentRow()
        if row >= 0:
            self._open_form(row, self.servers[row])

    def _open_form(self, row: int | None, server: ServerConfig) -> None:
        self.editing = row
        self.form.setTitle("New server" if row is None else f"Server {server.label}")
        self.url.setText(server.url)
        self.token.setText(server.token)
        self.name.setText(server.name)
        self.url_error.hide()
        self.form.show()
        self.url.setFocus()

    def close_form(self) -> None:
        self.form.hide()
        self.editing = None

    def _check_url(self, text: str) -> str | None:
        """The address as it would be kept, or None with the reason shown under the field."""
        try:
            url = normalise_url(text)
        except ValueError as exc:
            self.url_error.setText(str(exc))
            self.url_error.show()
            return None
        others = [s.url for i, s in enumerate(self.servers) if i != self.editing]
        if url in others:
            self.url_error.setText(f"{url} is in the list already.")
            self.url_error.show()
            return None
        self.url_error.hide()
        return url

    def save_server(self) -> bool:
        """Keep the form's server in the list and in settings.json, then test it; False,
        with the reason shown, when the address is not one or the file cannot be written."""
        url = self._check_url(self.url.text())
        if url is None:
            return False
        server = ServerConfig(url, self.token.text().strip(), self.name.text().strip())
        servers = list(self.servers)
        if self.editing is None:
            servers.append(server)
        else:
            servers[self.editing] = server
        if not self._save(servers):
            return False  # the form keeps what was typed
        row = servers.index(server)
        self.close_form()
        self.tested.pop(url, None)
        self._fill()
        self.list.setCurrentRow(row)
        self.test()
        return True

    def remove(self) -> None:
        """Remove the chosen server (from settings.json too)."""
        row = self.list.currentRow()
        if row >= 0 and self._save([s for i, s in enumerate(self.servers) if i != row]):
            self.close_form()
            self._fill()

    def _save(self, servers: list[ServerConfig]) -> bool:
        try:
            save_servers(servers)
        except ValueError as exc:  # SettingsError: the file cannot be written
            self.problem.setText(f"The servers were not saved: {exc}")
            self.problem.show()
            return False
        self.problem.hide()
        self.servers = servers
        return True

    # -- testing ---------------------------------------------------------------------------

    def test(self) -> None:
        """Ask the chosen server for its device, memory and queue, off the GUI thread; the
        answer (or why there is none) shows in its line of the list."""
        row = self.list.currentRow()
        if row < 0:
            return
        server = self.servers[row]
        self.tested[server.url] = TESTING
        self._fill()
        self.calls.start(server, describe_server, server)

    def _tested(self, server: ServerConfig, described: str | None, error: str) -> None:
        if server not in self.servers:  # removed or changed meanwhile
            return
        self.tested[server.url] = described or f"{error[:1].upper()}{error[1:]}"
        self._fill()
