"""The Train LoRA panel: a folder of photos, a trigger word, a class and a base model; Train
runs the training job and shows its progress, loss curve and samples; the trained LoRA is
saved into the LoRA folder and put into the prompt with its trigger word.

A UI module (imports PySide6, never torch): the job runs on the engine thread, the photo
check and the file writing on worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.ui.generate_modes import ModeForm
from app.ui.generation import PREPARING
from app.ui.param_form import INVALID_STYLE
from engine.file_writing import free_name, write_failure
from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.protocol import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    ModelData,
)
from plugins.api import AppContext
from plugins.lora_training import TRAIN_LORA
from plugins.lora_training.model_export import SUFFIX, write_model
from plugins.lora_training.panel_folder import FolderField
from plugins.lora_training.panel_run import TrainingView
from plugins.lora_training.panel_settings import automatic_line, min_photo_side
from plugins.lora_training.params import (
    CLASS_SUGGESTIONS,
    TrainLoraParams,
    lora_name,
    validate_train_lora,
)
from plugins.lora_training.presets import TRAINABLE_FAMILIES

SAVE_ACTION = "lora_training_save"
SCAN_RETRY_MS = 500  # how often to look again while the window's first model scan runs


def make_panel(context: AppContext) -> QWidget:
    """The Train LoRA panel (plugins.api.Panel factory)."""
    return TrainPanel(context)


class ModelCombo(QComboBox):
    """The base checkpoints the presets can train on; refreshed each time it opens, so a
    model added since shows."""

    def __init__(self, panel: TrainPanel) -> None:
        super().__init__()
        self.panel = panel
        self.setObjectName("lora_base_model")

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        self.panel.refresh_models()
        super().showPopup()


class TrainPanel(QWidget):
    """Everything of one training run, from the folder to the saved LoRA."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("loraTrainingPanel")
        self.setAcceptDrops(True)
        self.job = None  # the running job (plugins.api AppContext.run), None when idle
        self.task: asyncio.Task | None = None
        self.model: ModelData | None = None  # the last trained LoRA, for Save as...
        self.model_name = ""
        self.entries: dict[str, ModelEntry] = {}
        self.scan_wait = QTimer(self, singleShot=True, interval=SCAN_RETRY_MS)
        self.scan_wait.timeout.connect(self.refresh_models)
        self.folder = FolderField(context)
        self.form = ModeForm(TRAIN_LORA)
        self.form.more.setText("Advanced")
        self.model_picker = ModelCombo(self)
        self.class_picker = self._class_picker()
        self.automatic = QLabel("")
        self.automatic.setObjectName("muted")
        self.automatic.setWordWrap(True)
        self.problem = QLabel("")
        self.problem.setObjectName("lora_problem")
        self.problem.setStyleSheet(INVALID_STYLE)
        self.problem.setWordWrap(True)
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("lora_train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop; training again with the same settings resumes")
        self.why_not = QLabel("")
        self.why_not.setObjectName("muted")
        self.why_not.setWordWrap(True)
        self.view = TrainingView()
        self.result = QLabel("")
        self.result.setObjectName("lora_result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_as_button = QPushButton("Save as\N{HORIZONTAL ELLIPSIS}")
        self._build()
        self._connect()
        self.refresh_models()
        self._update()

    # -- building

    def _class_picker(self) -> QComboBox:
        picker = QComboBox()
        picker.setObjectName("lora_class")
        picker.setEditable(True)
        picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        picker.addItems(list(CLASS_SUGGESTIONS))
        picker.setCurrentText(TrainLoraParams.class_word)
        picker.setToolTip(self.form.widgets["class_word"].toolTip())
        return picker

    def _build(self) -> None:
        basic = self.form.basic
        basic.set_row_visible("class_word", False)  # the editable list below takes its place
        class_row = basic.layout_.getWidgetPosition(basic.widgets["class_word"])[0]
        basic.layout_.insertRow(class_row, "Class", self.class_picker)
        basic.layout_.insertRow(0, "Base model", self.model_picker)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        self.train_button.setToolTip("Train (Ctrl+Enter)")
        content = self.content = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        column = QVBoxLayout(content)
        column.addWidget(QLabel("Photos"))
        column.addWidget(self.folder)
        column.addWidget(self.form)
        column.addWidget(self.automatic)
        column.addWidget(self.problem)
        column.addLayout(buttons)
        column.addWidget(self.why_not)
        column.addWidget(self.view)
        column.addWidget(self.result)
        column.addWidget(self.save_as_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)
        hidden = (self.problem, self.view, self.result, self.save_as_button, self.stop_button)
        for widget in hidden:
            widget.hide()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """Wide enough for the content: it scrolls up and down, never sideways."""
        return QSize(self.content.minimumSizeHint().width() + _bar_width(self), 80)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """As big as the content (the scroll area alone would ask for little)."""
        return self.content.sizeHint() + QSize(_bar_width(self), 0)

    def _connect(self) -> None:
        self.folder.checked.connect(lambda _: self._update())
        self.form.changed.connect(self._update)
        self.form.widgets["trigger"].textChanged.connect(self._show_default_name)
        self.class_picker.currentTextChanged.connect(lambda _: self._update())
        self.model_picker.currentIndexChanged.connect(self._model_changed)
        self.train_button.clicked.connect(self.train)
        self.stop_button.clicked.connect(self.stop)
        self.save_as_button.clicked.connect(self.save_as)

    # -- the base models

    def refresh_models(self) -> None:
        """List the store's checkpoints that can be trained on, keeping the choice; while the
        window's first scan runs, look again shortly."""
        store = self.context.store
        if not store.scanned:
            self.model_picker.setPlaceholderText("Looking for models\N{HORIZONTAL ELLIPSIS}")
            self.scan_wait.start()
            return
        listing = store.listing()
        usable = [
            e
            for e in listing.picker_checkpoints()
            if e.family in TRAINABLE_FAMILIES and not e.variant
        ]
        chosen = self.model_picker.currentData() or getattr(
            listing.default_checkpoint(), "name", None
        )
        self.entries = {entry.name: entry for entry in usable}
        self.model_picker.blockSignals(True)
        self.model_picker.clear()
        for entry in usable:
            self.model_picker.addItem(entry.name, entry.name)
        self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(chosen)))
        self.model_picker.setPlaceholderText("No SD 1.x, 2.x or SDXL checkpoint installed")
        self.model_picker.blockSignals(False)
        self._model_changed()

    def base_model(self) -> ModelEntry | None:
        return self.entries.get(self.model_picker.currentData())

    def _model_changed(self) -> None:
        self.folder.set_min_side(min_photo_side(self.base_model()))
        self._update()

    # -- the settings

    def params(self) -> TrainLoraParams:
        """The job's params as the panel shows them."""
        return TrainLoraParams(
            **{**self.form.values(), "class_word": self.class_picker.currentText().strip()},
            folder=self.folder.folder(),
            model=self.model_picker.currentData() or "",
        )

    def _show_default_name(self, trigger: str) -> None:
        self.form.widgets["name"].setPlaceholderText(trigger.strip() or "The trigger word")

    def _update(self) -> None:
        """The automatic settings line and whether Train can start (and why not); the dock
        is told the content's size may have changed."""
        running = self.job is not None
        reason = self.folder.problem
        self.train_button.setEnabled(not running and not reason)
        self.why_not.setText("" if running else reason)
        self.why_not.setVisible(bool(reason) and not running)
        self.automatic.setText(
            automatic_line(self.params(), self.base_model(), self.folder.photo_count)
        )
        self.updateGeometry()

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    # -- training

    def train(self) -> asyncio.Task | None:
        """Start training with the panel's settings, or say inline what to fix first."""
        if self.job is not None or not self.train_button.isEnabled():
            return None
        problems = self.form.basic.problems() + self.form.advanced.problems()
        params = self.params()
        try:
            if problems:
                raise ValueError(problems[0])
            validate_train_lora(params)
        except ValueError as exc:
            self._show_problem(str(exc))
            return None
        self._show_problem("")
        self.job = self.context.run(TRAIN_LORA.id, params)  # submitted at once
        self.model = None
        self._set_result("")
        self.view.start()
        self._set_running(True)
        self.task = asyncio.ensure_future(self._read(self.job, params))
        return self.task

    def stop(self) -> None:
        """Cancel the running job; it keeps a checkpoint to resume from."""
        if self.job is not None:
            self.job.cancel()

    async def _read(self, job: AsyncIterator, params: TrainLoraParams) -> None:
        """Show the job's events as they come; save what it made."""
        try:
            async for event in job:
                await self._on_event(event, params)
        except Exception as exc:  # e.g. the engine is shut down; never crash the window
            self._failed(f"Could not run the training: {exc}")
        finally:
            self.job = None
            self._set_running(False)

    async def _on_event(self, event: object, params: TrainLoraParams) -> None:
        match event:
            case JobQueued(preparing=True):
                self.view.show_stage(PREPARING)
            case JobQueued(position=position) if position > 0:
                self.view.show_stage(f"Waiting for {position} job(s) ahead")
            case JobProgress():
                self.view.show_progress(event)
            case JobFinished(outputs=outputs, warnings=warnings):
                self.view.show_stage("Finished")
                models = [output for output in outputs if isinstance(output, ModelData)]
                if models:
                    await self._save(models[0], params, warnings)
            case JobFailed(message=message):
                self.view.show_stage("Failed")
                self._failed(message)
            case JobCancelled():
                self.view.show_stage("Stopped")
                self._set_result(self._stopped_note())

    def _stopped_note(self) -> str:
        if not self.view.step:
            return "Stopped before the first step."
        return (
            f"Stopped at step {self.view.step}. Train again with the same photos and "
            "settings to resume."
        )

    def _failed(self, message: str) -> None:
        self._set_result(message, error=True)
        self.context.show_message(message, "error")

    def _set_running(self, running: bool) -> None:
        self.view.show()
        self.stop_button.setVisible(running)
        self.form.setEnabled(not running)
        self.folder.setEnabled(not running)
        self._update()

    def _set_result(self, text: str, error: bool = False) -> None:
        self.result.setText(text)
        self.result.setStyleSheet(INVALID_STYLE if error else "")
        self.result.setVisible(bool(text))
        self.save_as_button.setVisible(self.model is not None)

    # -- the trained LoRA

    async def _save(self, model: ModelData, params: TrainLoraParams, notes: tuple) -> None:
        """Write the LoRA into the LoRA folder under a free name and put it to use; when it
        cannot be written, keep it for Save as..."""
        self.model, self.model_name = model, lora_name(params)
        folder = models_dir("loras", self.context.store.home)
        try:
            path = await asyncio.to_thread(_write_new, folder / f"{self.model_name}{SUFFIX}", model)
        except (OSError, ValueError) as exc:
            reason = write_failure(exc) if isinstance(exc, OSError) else str(exc)
            self._failed(
                f"Could not save the LoRA into {folder}: {reason}. It is kept: use Save as "
                "to write it somewhere else."
            )
            return
        self.context.use_new_model("loras", path.stem, (params.trigger.strip(),))
        text = f"LoRA '{path.stem}' saved to {path} and added to the prompt with its trigger word"
        self._set_result("\n".join([text + ".", *notes]))
        self.context.show_message(text)

    def save_as(self) -> None:
        """Write the last trained LoRA to a file the user names."""
        if self.model is None:
            return
        start = self.context.dialog_folder(SAVE_ACTION) / f"{self.model_name}{SUFFIX}"
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Save LoRA as", str(start), f"LoRA (*{SUFFIX})"
        )
        if chosen:
            self.context.remember_dialog_folder(SAVE_ACTION, Path(chosen))
            asyncio.ensure_future(self._save_as(Path(chosen), self.model))

    async def _save_as(self, path: Path, model: ModelData) -> None:
        try:
            written = await asyncio.to_thread(write_model, path, model)
        except (OSError, ValueError) as exc:
            reason = write_failure(exc) if isinstance(exc, OSError) else str(exc)
            self._failed(f"Could not save the LoRA as {path}: {reason}")
            return
        self._set_result(f"LoRA saved to {written}.")
        self.context.show_message(f"LoRA saved to {written}")

    # -- keys and drops

    def event(self, event: QEvent) -> bool:
        """Ctrl+Enter inside the panel trains: claim it before the window's Generate
        shortcut does, so it reaches keyPressEvent."""
        if event.type() == QEvent.Type.ShortcutOverride and _is_train_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if _is_train_key(event):
            self.train()
            event.accept()
            return
        super().keyPressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if _dropped_folder(event) is not None and self.job is None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        folder = _dropped_folder(event)
        if folder is not None and self.job is None:
            event.acceptProposedAction()
            self.folder.set_folder(folder)


def _write_new(path: Path, model: ModelData) -> Path:
    """Write `model` at `path`, or beside it under a free name when the name is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_model(free_name(path), model)


def _bar_width(widget: QWidget) -> int:
    return widget.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)


def _is_train_key(event: QKeyEvent) -> bool:
    """Ctrl+Enter (either Enter key)."""
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    control = modifiers == Qt.KeyboardModifier.ControlModifier
    return control and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def _dropped_folder(event: QDropEvent) -> Path | None:
    """The first local folder among the dropped items."""
    for url in event.mimeData().urls():
        if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
            return Path(url.toLocalFile())
    return None
