"""The LoRA picker under the prompt: add installed LoRAs (several at once), a weight slider
per LoRA, remove, and each LoRA's trigger words to insert in one click. While jobs run on a
server it offers that server's LoRAs instead (`show_server_loras`), without trigger words.

It offers the installed LoRAs that fit the Generate panel's checkpoint (`set_checkpoint`):
those made for its family, and those whose file does not say (plugins.diffusion.lora_files,
read from the header once per file). A LoRA of the prompt that does not fit keeps its row,
marked with the family it was made for, so nothing disappears. A server's LoRAs say no
family: all of them are offered.

The prompt is the single truth: the picker shows the `<lora:name:weight>` tags of the
prompt text and edits them there (plugins.diffusion.lora_tags), so what the window and the
CLI send is the same prompt.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.model_entry import ModelEntry
from engine.model_families import family_label
from engine.protocol import JobError
from plugins.diffusion.families import BY_ID
from plugins.diffusion.lora_files import lora_file_family, lora_file_triggers, lora_fits
from plugins.diffusion.lora_tags import (
    find_tags_lenient,
    format_weight,
    remove_tag,
    set_tag,
)

WEIGHT_STEP = 0.05  # the slider moves in these steps
MIN_WEIGHT, MAX_WEIGHT = -1.0, 2.0  # the slider's range (a typed tag may go further)
NOT_FITTING = "made for {family}: does not fit the model"  # a row's mark


def lora_entries(entries: Iterable[ModelEntry]) -> list[ModelEntry]:
    """The LoRAs among the store's entries, one per name (the first found)."""
    found: dict[str, ModelEntry] = {}
    for entry in entries:
        if entry.kind == "loras":
            found.setdefault(entry.name.casefold(), entry)
    return sorted(found.values(), key=lambda e: e.name.casefold())


class LoraRow(QWidget):
    """One LoRA of the prompt: its name, a weight slider, its trigger words, remove."""

    weight_changed = Signal(str, float)
    remove_requested = Signal(str)
    trigger_requested = Signal(str)

    def __init__(self, name: str, weight: float, triggers: Sequence[str], missing: str) -> None:
        """`missing`: why the LoRA cannot be used ("not installed"), "" when it can."""
        super().__init__()
        self.name = name
        self.label = QLabel(f"{name} ({missing})" if missing else name)
        self.label.setToolTip(f"<lora:{name}:weight> in the prompt")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setWordWrap(True)  # a long name or mark takes lines, never the panel's width
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(f"lora_weight_{name}")
        self.slider.setRange(round(MIN_WEIGHT / WEIGHT_STEP), round(MAX_WEIGHT / WEIGHT_STEP))
        self.value = QLabel()
        self.value.setMinimumWidth(32)
        self.remove = QToolButton()
        self.remove.setText("\N{MULTIPLICATION SIGN}")
        self.remove.setToolTip(f"Remove {name}")
        self.trigger_words = tuple(triggers)
        self.triggers_label = self._triggers_label()
        self._build()
        self.set_weight(weight)
        self.slider.valueChanged.connect(self._on_slider)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.name))

    def _build(self) -> None:
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.label, 1)
        top.addWidget(self.value)
        top.addWidget(self.remove)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 4)
        column.setSpacing(1)
        column.addLayout(top)
        column.addWidget(self.slider)
        column.addWidget(self.triggers_label)
        self.triggers_label.setVisible(bool(self.trigger_words))

    def _triggers_label(self) -> QLabel:
        """The trigger words as links (wrapped to the panel's width); a click inserts one."""
        links = ", ".join(
            f'<a href="{index}">{html.escape(word)}</a>'
            for index, word in enumerate(self.trigger_words)
        )
        label = QLabel(f"Trigger words: {links}")
        label.setObjectName("muted")
        label.setWordWrap(True)
        label.setToolTip("Click a word to add it to the prompt")
        label.linkActivated.connect(self._on_trigger_link)
        return label

    def _on_trigger_link(self, index: str) -> None:
        self.trigger_requested.emit(self.trigger_words[int(index)])

    def weight(self) -> float:
        return round(self.slider.value() * WEIGHT_STEP, 2)

    def set_weight(self, weight: float) -> None:
        """Show `weight` (the slider stops at its ends; the label says the real value)."""
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(weight / WEIGHT_STEP))
        self.value.setText(format_weight(weight))

    def _on_slider(self, _: int) -> None:
        self.value.setText(format_weight(self.weight()))
        self.weight_changed.emit(self.name, self.weight())


class LoraChooser(QDialog):
    """Pick LoRAs to add: every one offered, a click selects or unselects it."""

    def __init__(self, names: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add LoRAs")
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.list.addItems(list(names))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(QLabel("Click the LoRAs to add to the prompt (several at once):"))
        column.addWidget(self.list)
        column.addWidget(buttons)

    def chosen(self) -> list[str]:
        """The selected LoRAs, in the list's order."""
        items = (self.list.item(i) for i in range(self.list.count()))
        return [item.text() for item in items if item.isSelected()]


class LoraPicker(QWidget):
    """The LoRAs of the prompt in `prompt_edit`, edited there."""

    def __init__(self, prompt_edit: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt_edit = prompt_edit
        self.entries: dict[str, ModelEntry] = {}  # casefolded name -> entry
        self.server_names: dict[str, str] | None = None  # see show_server_loras
        self.server_missing = ""
        self.family = ""  # the checkpoint's family; "" while none is chosen
        self._triggers: dict[Path, tuple[str, ...]] = {}
        self._made_for: dict[Path, str] = {}
        self.rows: list[LoraRow] = []
        self.add_button = QPushButton("Add LoRA\N{HORIZONTAL ELLIPSIS}")
        self.add_button.setObjectName("add_lora")
        self.rows_box = QVBoxLayout()
        self.rows_box.setContentsMargins(0, 0, 0, 0)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self.rows_box)
        column.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.add_button.clicked.connect(self.choose)
        # the document's signal: the form sets values with the widget's signals blocked
        prompt_edit.document().contentsChanged.connect(self.sync)
        self.set_entries([])

    # -- the installed LoRAs

    def set_entries(self, entries: Iterable[ModelEntry]) -> None:
        """The installed LoRAs (the store's entries of kind "loras")."""
        self.entries = {e.name.casefold(): e for e in lora_entries(entries)}
        self._rebuild()

    def show_server_loras(self, names: Sequence[str] | None, missing: str) -> None:
        """While jobs run on a server: offer its LoRAs by the `names` a tag takes (no trigger
        words: the server sends none) and mark a tag of another one with `missing` ("not on
        the server"); None: the installed LoRAs again."""
        self.server_names = None if names is None else {n.casefold(): n for n in names}
        self.server_missing = missing
        self._rebuild()

    def set_checkpoint(self, checkpoint: ModelEntry | None) -> None:
        """Offer the installed LoRAs that fit `checkpoint` (all of them for None)."""
        family = checkpoint.family if checkpoint is not None else ""
        if family != self.family:
            self.family = family
            self._rebuild()

    def _rebuild(self) -> None:
        for row in self.rows:  # every row says anew whether its LoRA is there and fits
            row.deleteLater()
        self.rows = []
        self._offer()

    def _offer(self) -> None:
        offered = bool(self.names())
        self.add_button.setEnabled(offered)
        if offered:
            tip = "Add LoRAs to the prompt"
        elif self.server_names is not None:
            tip = "No LoRAs where jobs run: put LoRA files in the server's models/loras folder."
        else:
            tip = (
                "No LoRAs installed: put LoRA files in the models/loras folder, or add your "
                "A1111 or ComfyUI model folder."
            )
        self.add_button.setToolTip(tip)
        self.sync()

    def names(self) -> list[str]:
        """The LoRAs offered: the server's while jobs run on one, else the installed ones."""
        if self.server_names is not None:
            return list(self.server_names.values())
        return [entry.name for entry in self.entries.values() if not self._misfit(entry)]

    def missing(self, name: str) -> str:
        """Why the LoRA `name` cannot be used where jobs run now ("" when it can)."""
        if self.server_names is not None:
            return "" if name.casefold() in self.server_names else self.server_missing
        entry = self.entries.get(name.casefold())
        if entry is None:
            return "not installed"
        made_for = self._misfit(entry)
        return NOT_FITTING.format(family=family_label(made_for, BY_ID)) if made_for else ""

    def _misfit(self, entry: ModelEntry) -> str:
        """The family the installed LoRA `entry` was made for when it does not fit the
        checkpoint; "" when it fits (or nothing says it does not)."""
        if not self.family:
            return ""
        if entry.path not in self._made_for:
            self._made_for[entry.path] = lora_file_family(entry.path)
        made_for = self._made_for[entry.path]
        return "" if lora_fits(made_for, self.family) else made_for

    def triggers(self, name: str) -> tuple[str, ...]:
        """The trigger words of the installed LoRA `name` (read once from its file); none
        while jobs run on a server."""
        entry = self.entries.get(name.casefold())
        if entry is None or self.server_names is not None:
            return ()
        if entry.path not in self._triggers:
            try:
                self._triggers[entry.path] = lora_file_triggers(entry.path)
            except JobError:  # a damaged file: the job that uses it says so
                self._triggers[entry.path] = ()
        return self._triggers[entry.path]

    # -- editing the prompt

    def choose(self) -> None:
        """Ask which LoRAs to add, then add them."""
        dialog = LoraChooser(self.names(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.add_loras(dialog.chosen())

    def add_loras(self, names: Iterable[str]) -> None:
        """Add a tag at weight 1 for each of `names` the prompt has none of."""
        prompt = self.prompt()
        tagged = {tag.name.casefold() for tag in find_tags_lenient(prompt)}
        for name in names:
            if name.casefold() not in tagged:
                prompt = set_tag(prompt, name, 1.0)
        self._set_prompt(prompt)

    def set_weight(self, name: str, weight: float) -> None:
        self._set_prompt(set_tag(self.prompt(), name, weight))

    def remove(self, name: str) -> None:
        self._set_prompt(remove_tag(self.prompt(), name))

    def insert_trigger(self, word: str) -> None:
        """Put a trigger word before the prompt's LoRA tags (once)."""
        prompt = self.prompt()
        if word.casefold() in prompt.casefold():
            return
        tags = find_tags_lenient(prompt)
        at = tags[0].start if tags else len(prompt)
        head = prompt[:at].rstrip()
        joint = ", " if head and not head.endswith(",") else (" " if head else "")
        self._set_prompt(f"{head}{joint}{word} {prompt[at:].lstrip()}".rstrip())

    def prompt(self) -> str:
        return self.prompt_edit.toPlainText()

    def _set_prompt(self, text: str) -> None:
        """Replace the prompt text as one undoable edit, keeping the cursor near its place."""
        if text == self.prompt():
            return
        position = self.prompt_edit.textCursor().position()
        cursor = self.prompt_edit.textCursor()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.setPosition(min(position, len(text)))
        self.prompt_edit.setTextCursor(cursor)

    # -- showing the prompt's LoRAs

    def sync(self) -> None:
        """Rows for the prompt's tags: kept where the same LoRAs are shown, else rebuilt."""
        tags = find_tags_lenient(self.prompt())
        names = {tag.name.casefold(): tag.name for tag in reversed(tags)}  # as first written
        weights = {tag.name.casefold(): tag.weight for tag in tags}  # the last one wins
        keys = list(dict.fromkeys(tag.name.casefold() for tag in tags))
        if keys == [row.name.casefold() for row in self.rows]:
            for row in self.rows:
                row.set_weight(weights[row.name.casefold()])
            return
        for row in self.rows:
            row.deleteLater()
        self.rows = [self._row(names[key], weights[key]) for key in keys]
        for row in self.rows:
            self.rows_box.addWidget(row)

    def _row(self, name: str, weight: float) -> LoraRow:
        row = LoraRow(name, weight, self.triggers(name), self.missing(name))
        row.weight_changed.connect(self.set_weight)
        row.remove_requested.connect(self.remove)
        row.trigger_requested.connect(self.insert_trigger)
        return row
