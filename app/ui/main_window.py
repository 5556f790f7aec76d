"""The main window: the layered canvas in the centre, tools on its left, the generate panel,
Layers and History docks, the results strip with Apply, menus and the status bar.

The window builds the parts and wires them together; the work lives in them: the canvas
and tools edit the document through `DocumentSession`, `CanvasGeneration` runs generation,
`DocumentFiles` opens and saves, `BackgroundAutosave` keeps a recovery file. All engine work
happens on the engine thread, so nothing here blocks while an image is made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.model.autosave import RecoveryFile
from app.model.document import Document
from app.model.generation_info import unused_settings
from app.model.image_files import ImageReadError, read_generation_info, source_name
from app.model.layers import RasterLayer
from app.model.quoting import quoted
from app.model.recipe_controls import (
    ControlsPlan,
    RecordedControl,
    plan_controls,
    plan_message,
    recorded_controls,
    recreate_controls,
)
from app.ui.app_context import WindowContext
from app.ui.background_scan import BackgroundScan
from app.ui.canvas_generation import CanvasGeneration
from app.ui.clipboard_edits import ClipboardEdits
from app.ui.composite_settings import offer_composite
from app.ui.control_properties import ControlProperties
from app.ui.depth_conversion import DepthConversion
from app.ui.doc_session import DocumentSession
from app.ui.document_canvas import DocumentCanvas
from app.ui.document_files import DocumentFiles
from app.ui.empty_state import EmptyState
from app.ui.engine_bridge import EngineBridge
from app.ui.engine_router import EngineRouter
from app.ui.free_transform import FreeTransform
from app.ui.generation import Generation
from app.ui.gui_garbage import GuiThreadGarbageCollector
from app.ui.history_panel import HistoryPanel
from app.ui.image_edits import ImageEdits
from app.ui.layer_actions import LayerActions
from app.ui.layers_panel import LayersPanel
from app.ui.live_mode import LiveMode
from app.ui.live_preview import toggle_button
from app.ui.message_bar import MessageBar
from app.ui.mode_region import ModeRegion
from app.ui.plugin_panels import add_plugin_panels
from app.ui.prompt_panel import PromptPanel
from app.ui.recovery import BackgroundAutosave, offer_recovery
from app.ui.reference_properties import ReferenceProperties
from app.ui.results_strip import ResultsStrip
from app.ui.run_on import RunOn
from app.ui.selection_edits import SelectionEdits
from app.ui.settings_drop import SettingsDrop
from app.ui.size_dialogs import new_document
from app.ui.tool_options import ToolOptions
from app.ui.toolbox import Toolbox
from app.ui.window_menus import build_menus
from engine.file_writing import remove_stale_temps_under
from engine.home import add_model_folder, ensure_model_dirs, models_dir, read_settings
from engine.model_store import ModelListing, ModelStore
from engine.recipes import recipe_problem
from plugins.registry import Registry

log = logging.getLogger(__name__)

# How long closing waits for the engine to end a cancelled job's step; a longer step is
# left to the engine's daemon thread, which does not keep the app alive.
SHUTDOWN_WAIT_S = 1.0
START_SIZE = (512, 512)
LIVE_DOCK_WIDTH = 300


class MainWindow(QMainWindow):
    """Atelier's studio window. Plugin panel factories receive its `context` (see
    app.ui.app_context), not the window."""

    models_shown = Signal()  # a model scan is done and the picker shows what it found

    def __init__(self, registry: Registry, store: ModelStore, engine: Any) -> None:
        """`engine`: the local engine; jobs reach it, or the servers chosen in the Generate
        panel's "Run on", through `self.engine`, an EngineRouter."""
        super().__init__()
        self.garbage = GuiThreadGarbageCollector(self)
        self._fit_to_screen(1500, 940)
        self.registry, self.store = registry, store
        self.engine = EngineRouter(registry, engine)
        self.bridge = EngineBridge(self.engine, parent=self)
        self.generation = Generation(self.bridge, self)
        self.session = DocumentSession(new_document(START_SIZE, "Transparent"), parent=self)
        self.canvas = DocumentCanvas(self.session)
        self.messages = MessageBar()
        self.results = ResultsStrip()
        self.prompt_panel = PromptPanel(registry.tasks, families=registry.families)
        self.empty_state = EmptyState()
        self.layer_actions = LayerActions(
            self.session,
            self,
            DepthConversion(self.session, self.bridge, store, self.messages, self.status, self),
        )
        self.selection_edits = SelectionEdits(self.session, self, self.report)
        self.free_transform = FreeTransform(self.session, self, self.report)
        self.files = DocumentFiles(
            self, self.session, self.messages, self.status, registry.exporters
        )
        self.clipboard_edits = ClipboardEdits(
            self.session, self.canvas, self.layer_actions, self.files, self.report
        )
        self.image_edits = ImageEdits(self.session, self)
        self.autosave = BackgroundAutosave(self.session, self.store.home, self)
        self.context = WindowContext(
            self.session,
            store,
            registry,
            self.bridge,
            self.messages,
            self.use_new_model,
            self.generation,
        )
        self.plugin_docks: dict[str, QDockWidget] = {}
        self.live = LiveMode(self)
        self._engine_down = False
        self._close_confirmed = False
        self._build_central()
        self._build_toolbars()
        self._build_docks()
        self.gen = CanvasGeneration(self)
        self.run_on = RunOn(self)
        self.mode_region = ModeRegion(self.prompt_panel, self.session)
        build_menus(self)
        self._build_status()
        self._connect()
        self.model_scan = BackgroundScan(store, self)
        self.model_scan.finished.connect(self._show_models)
        self.refresh_models()
        self._update_title()
        self.plugin_errors = list(registry.errors) + add_plugin_panels(self, self.context)
        self._report_plugin_errors()
        self.autosave.start()
        self._tidy_home()
        self.offer_recovery(read_settings(self.store.home).problem)

    def _fit_to_screen(self, width: int, height: int) -> None:
        screen = self.screen().availableGeometry()
        self.resize(
            min(width, int(screen.width() * 0.92)), min(height, int(screen.height() * 0.92))
        )

    # -- building --------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.apply_button = QPushButton("Apply as layer")
        self.apply_button.setObjectName("primary")
        self.apply_button.setToolTip("Add the chosen result as a new layer (or double-click it)")
        self.hide_button = QPushButton("Hide")
        self.hide_button.setToolTip("Stop showing the result over the canvas")
        side = QVBoxLayout()
        side.addWidget(self.apply_button)
        side.addWidget(self.hide_button)
        side.addStretch(1)
        strip_row = QHBoxLayout()
        strip_row.addWidget(self.results, 1)
        strip_row.addLayout(side)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(4)
        column.addWidget(self.canvas, 1)
        self.messages.float_over(self.canvas)  # over it: a message never resizes the view
        column.addLayout(strip_row)
        self.setCentralWidget(central)
        self.empty_state.set_models_folder(models_dir("checkpoints", self.store.home))

    def _build_toolbars(self) -> None:
        self.toolbox = Toolbox(self.canvas, self)
        self.tool_options = ToolOptions(self.canvas, self)
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, self.toolbox)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.tool_options)
        self.tool_options.show_tool(self.toolbox.current)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock:{name}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.prompt_scroll = QScrollArea()
        self.prompt_scroll.setWidget(self.prompt_panel)
        self.prompt_scroll.setWidgetResizable(True)
        self.prompt_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.prompt_scroll.setMinimumWidth(360)
        self.stack = QStackedWidget()  # the panel, or how to install a model
        self.stack.addWidget(self.prompt_scroll)
        self.stack.addWidget(self.empty_state)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        generate_column = QWidget()  # the panel (or how to install a model), then Live
        column = QVBoxLayout(generate_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.stack, 1)
        column.addWidget(toggle_button(self.live.action))
        self.prompt_dock = self._dock("Generate", "prompt", generate_column, left)
        self.control_properties = ControlProperties(
            self.session, self.store, self.prompt_panel.selected_model
        )
        self.reference_properties = ReferenceProperties(
            self.session, self.store, self.prompt_panel.selected_model
        )
        self.layers_panel = LayersPanel(
            self.session,
            self.layer_actions,
            properties=(self.control_properties, self.reference_properties),
        )
        self.layers_dock = self._dock("Layers", "layers", self.layers_panel, right)
        self.history_panel = HistoryPanel(self.session)
        self.history_dock = self._dock("History", "history", self.history_panel, right)
        self.live_dock = self._dock("Live", "live", self.live.view, left)
        self.splitDockWidget(self.prompt_dock, self.live_dock, Qt.Orientation.Horizontal)
        self.live_dock.hide()  # shown, between the panel and the canvas, when Live turns on
        self.live.action.toggled.connect(self._show_live_dock)
        self.resizeDocks([self.layers_dock, self.history_dock], [520, 220], Qt.Orientation.Vertical)
        self.resizeDocks([self.layers_dock], [300], Qt.Orientation.Horizontal)

    def _show_live_dock(self, on: bool) -> None:
        """Live turned on: its dock shows, wide enough for the picture."""
        if on and not self.live_dock.isVisible():
            self.live_dock.show()
            self.resizeDocks([self.live_dock], [LIVE_DOCK_WIDTH], Qt.Orientation.Horizontal)

    def _build_status(self) -> None:
        self.size_label = QLabel()
        self.size_label.setObjectName("muted")
        self.zoom_label = QLabel("100%")
        self.zoom_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.size_label)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.statusBar().showMessage("Ready")

    def _connect(self) -> None:
        panel, s = self.prompt_panel, self.session
        panel.generate_requested.connect(self.generate)
        panel.cancel_requested.connect(self.cancel)
        self.apply_button.clicked.connect(lambda: self.apply_candidate())
        self.hide_button.clicked.connect(self.gen.hide)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        self.canvas.message.connect(self.report)
        self.toolbox.tool_changed.connect(self._on_tool_changed)
        s.dirty_changed.connect(lambda *_: self._update_title())
        s.document_replaced.connect(self._update_title)
        s.history_changed.connect(self._update_undo_actions)
        s.edit_failed.connect(self.messages.show_error)
        self.files.image_opened.connect(self._offer_settings)
        SettingsDrop(self.prompt_panel, lambda path: self._offer_settings(path, at_once=True))
        self.files.saved.connect(lambda *_: self.autosave.forget(self.session.doc))
        self.files.replacing.connect(self.autosave.forget)
        self.autosave.failed.connect(self.report)
        self.models_shown.connect(self.control_properties.refresh_models)
        panel.model_picker.currentIndexChanged.connect(self.control_properties.refresh_models)
        self.models_shown.connect(self.reference_properties.refresh_models)
        panel.model_picker.currentIndexChanged.connect(self.reference_properties.refresh_models)
        self.layers_panel.reuse_requested.connect(self.gen.reuse_layer)
        self.layers_panel.regenerate_requested.connect(self.gen.regenerate_layer)
        self.layers_panel.export_requested.connect(lambda lid: self.files.export(layer_id=lid))
        self.empty_state.open_models_folder.connect(self.open_models_folder)
        self.empty_state.add_model_folder.connect(lambda: self.add_model_folder())
        self._update_undo_actions()

    def _report_plugin_errors(self) -> None:
        if self.plugin_errors:
            count = len(self.plugin_errors)
            text = f"{count} plugin(s) could not load: " + "; ".join(self.plugin_errors)
            self.statusBar().showMessage(text, 20000)

    # -- small reactions -------------------------------------------------------------------

    def report(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 8000)

    def status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.session.title}[*] \N{EM DASH} Atelier")
        self.setWindowModified(self.session.dirty)
        width, height = self.session.doc.size
        if hasattr(self, "size_label"):
            self.size_label.setText(f"{width} \N{MULTIPLICATION SIGN} {height}")

    def _update_undo_actions(self) -> None:
        history = self.session.history
        self.undo_action.setEnabled(history.can_undo)
        self.redo_action.setEnabled(history.can_redo)
        self.undo_action.setText(f"&Undo {history.undo_label or ''}".strip())
        self.redo_action.setText(f"&Redo {history.redo_label or ''}".strip())

    def _on_tool_changed(self, tool) -> None:
        self.tool_options.show_tool(tool)
        self.statusBar().showMessage(tool.hint, 6000)

    # -- models ----------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """Rescan the model folders off the GUI thread (see BackgroundScan): the window never
        waits for a scan. Until the first one is in, the picker says it is looking."""
        self.scanning_models = True  # until the picker shows the result
        if self.store.scanned:
            self.status("Looking for models\N{HORIZONTAL ELLIPSIS}")
        else:
            self.prompt_panel.show_looking_for_models()
        self.model_scan.start()

    def _show_models(self, error: str) -> None:
        """A scan is done: fill the picker, or explain how to add a model when there is
        nothing to use. The first time models appear the default checkpoint (the built-in
        one) is chosen, and the panel takes its settings (see PromptPanel._take_model_settings)."""
        if self.model_scan.running:  # a newer scan is under way; its result comes next
            return
        self.scanning_models = False
        if error:
            self.messages.show_error(f"Could not look for models: {error}")
        listing = self.store.listing() if self.store.scanned else ModelListing((), ())
        checkpoints = listing.picker_checkpoints()
        had_models = bool(self.prompt_panel.models)
        default = listing.default_checkpoint()
        self.prompt_panel.set_models(
            checkpoints, default.name if default and not had_models else None
        )
        self.prompt_panel.set_loras(listing.entries)
        self.prompt_panel.set_model_listing(listing)
        self.stack.setCurrentWidget(self.prompt_scroll if checkpoints else self.empty_state)
        self.prompt_panel.set_running(self.generation.running)
        self._report_skipped_models(listing.problems)
        self.models_shown.emit()

    def _report_skipped_models(self, problems: tuple[str, ...]) -> None:
        """Files in the model folders that could not be used: say so once, with details."""
        if not problems:
            return
        self.messages.show_message(
            f"{len(problems)} file(s) in the model folders were skipped: {problems[0]}",
            action_text="Details",
            action=lambda: QMessageBox.information(
                self, "Skipped model files", "\n\n".join(problems)
            ),
        )

    def add_model_folder(self, folder: Path | None = None) -> bool:
        """Use the models of an A1111 / ComfyUI / InvokeAI install (or any folder) in place."""
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(
                self, "Add the model folder of A1111, ComfyUI or InvokeAI"
            )
            if not chosen:
                return False
            folder = Path(chosen)
        try:
            add_model_folder(folder, self.store.home)
        except (ValueError, OSError) as exc:
            self.messages.show_error(f"Could not add {folder}: {exc}")
            return False
        self.store.add_folder(folder.expanduser().resolve())
        before = len(self.prompt_panel.models)
        self.models_shown.connect(
            lambda: self.status(
                f"Added {folder}: {len(self.prompt_panel.models) - before} new checkpoint(s)"
            ),
            Qt.ConnectionType.SingleShotConnection,
        )
        self.refresh_models()
        return True

    def use_new_model(self, kind: str, name: str, words: Sequence[str] = ()) -> None:
        """A panel saved a model into the model folders: rescan them; then a LoRA goes into
        the prompt through the LoRA picker, its trigger words with it."""
        if kind == "loras":
            self.models_shown.connect(
                lambda: self._add_lora(name, words), Qt.ConnectionType.SingleShotConnection
            )
        self.refresh_models()

    def _add_lora(self, name: str, words: Sequence[str]) -> None:
        picker = self.prompt_panel.lora_picker
        for word in words:  # first: the picker skips a word the prompt holds, tags included
            picker.insert_trigger(word)
        picker.add_loras([name])

    def open_models_folder(self) -> None:
        folder = ensure_model_dirs(self.store.home) / "checkpoints"
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # -- generation (see app.ui.canvas_generation) -----------------------------------------

    def generate(self) -> None:
        self.gen.generate()

    def cancel(self) -> None:
        """Esc: cancel the jobs the window runs (Generate's, the panels'); with none
        running, turn Live painting off (its pending job cancelled)."""
        if not (self.generation.running or self.bridge.active_jobs):
            self.live.set_on(False)
        self.gen.cancel()
        self.context.cancel_jobs()
        self.layer_actions.depth.cancel()

    def apply_candidate(self, candidate=None) -> RasterLayer | None:
        return self.gen.apply(candidate)

    def reuse_settings(
        self,
        settings: Mapping[str, Any],
        unused: Sequence[str] = (),
        controls: Sequence[RecordedControl] = (),
    ) -> None:
        """Load `settings` (another tool's, with no task) into the form as it is, and make
        its `controls` again as empty control layers; `unused` names what the file recorded
        that Atelier has no setting for, said with the rest."""
        skipped = self.prompt_panel.load_settings(settings)
        self._report_reuse(skipped, unused=unused, controls=self._recreate_controls(controls))

    def reuse_recipe(self, recipe: Mapping[str, Any]) -> None:
        """Select the mode that made `recipe` and load its settings, the mode's own too, and
        make its controls again as empty control layers; a task that is not installed, or
        is newer, says so (its shared settings still load)."""
        skipped = self.prompt_panel.load_recipe(recipe)
        controls = self._recreate_controls(recorded_controls(recipe))
        self._report_reuse(
            skipped, recipe_problem(recipe, self.registry.tasks) or "", controls=controls
        )

    def _recreate_controls(self, recorded: Sequence[RecordedControl]) -> ControlsPlan | None:
        """Add the recorded controls the document lacks as empty control layers (one undo
        step, the topmost made active); what was done, None without any."""
        if not recorded:
            return None
        installed = (
            [e.name for e in self.store.entries if e.kind == "controlnet"]
            if self.store.scanned
            else None
        )
        plan = plan_controls(self.session.doc, recorded, installed)
        command = recreate_controls(self.session.doc, plan)
        if command is not None and self.session.push(command):
            self.session.set_active(command.commands[-1].layer.id)
        return plan

    def _report_reuse(
        self,
        skipped: list[str],
        problem: str = "",
        unused: Sequence[str] = (),
        controls: ControlsPlan | None = None,
    ) -> None:
        notes = [problem] if problem else []
        if skipped:
            notes.append("Settings loaded, except: " + "; ".join(skipped) + ".")
        if unused:
            lead = "" if skipped else "Settings loaded. "
            notes.append(
                f"{lead}Atelier has no setting for these, so they were left out: "
                + "; ".join(unused) + "."
            )  # fmt: skip
        if controls is not None:
            notes.append(plan_message(controls))
        if notes:
            warns = bool(problem) or (controls is not None and controls.warns)
            self.messages.show_message(" ".join(notes), "warning" if warns else "info")
        else:
            self.statusBar().showMessage("Settings loaded into the form", 5000)

    # -- files -----------------------------------------------------------------------------

    def open_file(self, path: Path | None = None) -> bool:
        """Open a project or a picture (a picture's generation settings are offered)."""
        return self.files.open(path)

    def export_layer(self) -> Path | None:
        active = self.session.active
        if not isinstance(active, RasterLayer):
            self.messages.show_error("Choose a pixel layer to export in the Layers panel.")
            return None
        return self.files.export(layer_id=active.id)

    def _offer_settings(self, path: Path, at_once: bool = False) -> None:
        """Offer the settings a picture holds (File > Open); with `at_once` (a picture
        dropped on the Generate panel) load them straight away."""
        try:
            info = read_generation_info(path)
        except ImageReadError as exc:
            info, problem = None, str(exc)
        else:
            problem = ""
        if info is None:
            if problem or at_once:
                self.messages.show_message(problem or f"{path.name} holds no generation settings")
            return
        if info.composite is not None:
            offer_composite(self.messages, self, path.name, info.composite, self.reuse_recipe)
            return

        def reuse() -> None:
            if info.recipe:
                self.reuse_recipe(info.recipe)
            else:
                controls = recorded_controls(extras=info.extras)
                self.reuse_settings(info.to_settings(), unused_settings(info), controls)

        if at_once:
            reuse()
            return
        self.messages.show_message(
            f"{path.name} was made with {source_name(info)}: {quoted(info.prompt, 79)}",
            "info",
            "Reuse settings",
            reuse,
        )

    def offer_recovery(self, also: str = "") -> RecoveryFile | None:
        """Offer the work a crash left behind (newest first); `also`: another problem found
        at start (a damaged settings file) to show with it."""
        home, doc_id = self.store.home, self.session.doc.id
        return offer_recovery(self.messages, home, self._recover, doc_id, also)

    def _tidy_home(self) -> None:
        """Remove the temporary files that writes interrupted by a crash left behind."""
        for path in remove_stale_temps_under(self.store.home):
            log.info("removed %s, left by an interrupted save", path)

    def _recover(self, doc: Document, found: RecoveryFile) -> None:
        if not self.files.ask_to_save():
            return
        source = Path(found.source) if found.source else None
        self.files.replace(doc, source, dirty=True, name=None if source else "Recovered work")
        self.status("Recovered the unsaved work; save it to keep it")
        QTimer.singleShot(0, self.offer_recovery)  # the next one, if there are more

    # -- closing ---------------------------------------------------------------------------

    def shutdown_engine(self) -> None:
        """Cancel what runs and stop the engine thread, waiting at most SHUTDOWN_WAIT_S for
        the step under way (safe to call twice)."""
        if self._engine_down:
            return
        self._engine_down = True
        self.autosave.stop()
        self.generation.cancel()
        self.live.set_on(False)
        self.engine.shutdown(timeout=SHUTDOWN_WAIT_S)
        self.bridge.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt naming)
        """Unsaved changes are offered for saving first; then a running job is abandoned
        and the engine stopped without waiting for a long step (see shutdown_engine)."""
        if not self._close_confirmed:
            if not self.files.ask_to_save():
                event.ignore()
                return
            self._close_confirmed = True
        self.autosave.stop()
        self.autosave.forget(self.session.doc)  # a clean close leaves no recovery file
        self.shutdown_engine()
        super().closeEvent(event)
