"""The main window: canvas in the centre, the prompt panel dock, results strip, menus, status.

The window wires widgets together and runs text-to-image through `Generation`; all engine
work happens on the engine thread, so nothing here blocks while an image is made.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QImage, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.model.image_files import ImageReadError, read_generation_info, save_generated_png
from app.ui.canvas_view import CanvasView
from app.ui.empty_state import EXAMPLE_PROMPT, EmptyState
from app.ui.engine_bridge import EngineBridge
from app.ui.generation import Generation
from app.ui.images import rgba_from_qimage
from app.ui.message_bar import MessageBar
from app.ui.plugin_panels import add_plugin_panels
from app.ui.prompt_panel import PromptPanel
from app.ui.results_strip import ResultsStrip
from engine.home import add_model_folder, ensure_model_dirs, models_dir
from engine.model_store import ModelStore
from engine.protocol import ImageData, JobFinished
from plugins.registry import Registry

TXT2IMG = "diffusion.txt2img"
SHUTDOWN_WAIT_S = 120.0
CLOSE_GRACE_MS = 60_000
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp);;All files (*)"


class MainWindow(QMainWindow):
    """Atelier's studio window. Plugin panel factories receive this window as context."""

    def __init__(self, registry: Registry, store: ModelStore, engine: Any) -> None:
        super().__init__()
        self.setWindowTitle("Atelier")
        self._fit_to_screen(1400, 900)
        self.registry, self.store, self.engine = registry, store, engine
        self.bridge = EngineBridge(engine, parent=self)
        self.generation = Generation(self.bridge, TXT2IMG, self)
        self.canvas = CanvasView()
        self.empty_state = EmptyState()
        self.messages = MessageBar()
        self.results = ResultsStrip()
        self.prompt_panel = PromptPanel()
        self.plugin_docks: dict[str, QDockWidget] = {}
        self._target_size = (512, 512)
        self._started_at = 0.0
        self._engine_down = False
        self._closing = False
        self._build_central()
        self._build_docks()
        self._build_menus()
        self._build_status()
        self._connect()
        self.refresh_models()
        self.plugin_errors = list(registry.errors) + add_plugin_panels(self)
        self._report_plugin_errors()

    def _fit_to_screen(self, width: int, height: int) -> None:
        screen = self.screen().availableGeometry()
        self.resize(min(width, int(screen.width() * 0.9)), min(height, int(screen.height() * 0.9)))

    # -- building --------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.stack = QStackedWidget()
        self.stack.addWidget(self.canvas)
        self.stack.addWidget(self.empty_state)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(6, 6, 6, 6)
        column.setSpacing(6)
        column.addWidget(self.messages)
        column.addWidget(self.stack, 1)
        column.addWidget(self.results)
        self.setCentralWidget(central)
        self.empty_state.set_models_folder(models_dir("checkpoints", self.store_home()))

    def _build_docks(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self.prompt_panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(360)
        self.prompt_dock = QDockWidget("Text to image", self)
        self.prompt_dock.setObjectName("dock:prompt")
        self.prompt_dock.setWidget(scroll)
        self.prompt_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.prompt_dock)

    def _action(self, menu: Any, text: str, slot: Any, *keys: str) -> QAction:
        action = menu.addAction(text)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.triggered.connect(lambda *_: slot())
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open image\N{HORIZONTAL ELLIPSIS}", self.open_image, "Ctrl+O")
        self.save_action = self._action(
            file_menu, "&Save as PNG\N{HORIZONTAL ELLIPSIS}", self.save_png, "Ctrl+S"
        )
        file_menu.addSeparator()
        self._action(file_menu, "Add model folder\N{HORIZONTAL ELLIPSIS}", self.add_model_folder)
        self._action(file_menu, "Open models folder", self.open_models_folder)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")
        view_menu = self.menuBar().addMenu("&View")
        for action in self.canvas.actions_by_name.values():
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.prompt_dock.toggleViewAction())
        self.view_menu = view_menu
        gen_menu = self.menuBar().addMenu("&Generate")
        self.generate_action = self._action(
            gen_menu, "&Generate", self.generate, "Ctrl+Return", "Ctrl+Enter"
        )
        self.cancel_action = self._action(gen_menu, "&Cancel", self.cancel, "Esc")

    def _build_status(self) -> None:
        self.zoom_label = QLabel("100%")
        self.zoom_label.setObjectName("muted")
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.statusBar().showMessage("Ready")

    def _connect(self) -> None:
        panel, gen = self.prompt_panel, self.generation
        panel.generate_requested.connect(self.generate)
        panel.cancel_requested.connect(self.cancel)
        gen.running_changed.connect(self._on_running_changed)
        gen.progress.connect(panel.set_progress)
        gen.preview.connect(lambda image: self.canvas.show_preview(image, self._target_size))
        gen.finished.connect(self._on_finished)
        gen.failed.connect(self._on_failed)
        gen.cancelled.connect(self._on_cancelled)
        self.results.chosen.connect(self.canvas.set_image)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        self.empty_state.open_models_folder.connect(self.open_models_folder)
        self.empty_state.add_model_folder.connect(lambda: self.add_model_folder())

    def _report_plugin_errors(self) -> None:
        if self.plugin_errors:
            count = len(self.plugin_errors)
            text = f"{count} plugin(s) could not load: " + "; ".join(self.plugin_errors)
            self.statusBar().showMessage(text, 20000)

    def store_home(self) -> Path | None:
        return getattr(self.store, "home", None)

    # -- models ----------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """Rescan the model folders; show the empty state when there is nothing to use."""
        self.store.scan()
        checkpoints = self.store.checkpoints()
        had_models = bool(self.prompt_panel.models)
        default = self.store.default_checkpoint()
        self.prompt_panel.set_models(
            checkpoints, default.name if default and not had_models else None
        )
        self.stack.setCurrentWidget(self.canvas if checkpoints else self.empty_state)
        if default is not None and not self.prompt_panel.form.value("prompt").strip():
            self.prompt_panel.form.set_value("prompt", EXAMPLE_PROMPT)
        self.prompt_panel.set_running(self.generation.running)
        self._report_skipped_models()

    def _report_skipped_models(self) -> None:
        """Files in the model folders that could not be used: say so once, with details."""
        problems = list(self.store.problems)
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
            add_model_folder(folder, self.store_home())
        except (ValueError, OSError) as exc:
            self.messages.show_error(f"Could not add {folder}: {exc}")
            return False
        resolved = folder.expanduser().resolve()
        if resolved not in self.store.extra_folders:
            self.store.extra_folders.append(resolved)
        before = len(self.prompt_panel.models)
        self.refresh_models()
        found = len(self.prompt_panel.models) - before
        self.statusBar().showMessage(f"Added {folder}: {found} new checkpoint(s)", 8000)
        return True

    def open_models_folder(self) -> None:
        folder = ensure_model_dirs(self.store_home()) / "checkpoints"
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # -- generation ------------------------------------------------------------------------

    def generate(self) -> None:
        if self.generation.running or not self.prompt_panel.generate_button.isEnabled():
            return
        self.messages.dismiss()
        self._target_size = self.prompt_panel.target_size()
        self._started_at = time.monotonic()
        self.generation.start(self.prompt_panel.params())

    def cancel(self) -> None:
        if self.generation.running:
            self.prompt_panel.show_done("Cancelling\N{HORIZONTAL ELLIPSIS}")
            self.generation.cancel()

    def _on_running_changed(self, running: bool) -> None:
        self.prompt_panel.set_running(running)
        if running:
            self.statusBar().showMessage("Generating\N{HORIZONTAL ELLIPSIS}")

    def _on_finished(self, event: JobFinished) -> None:
        images = [o for o in event.outputs if isinstance(o, ImageData)]
        self.results.add_images(images)
        self.canvas.set_image(images[0] if images else self.canvas.image)
        seeds = [i.meta.get("recipe", {}).get("params", {}).get("seed") for i in images]
        self.prompt_panel.show_seed([s for s in seeds if s is not None])
        took = time.monotonic() - self._started_at
        self.prompt_panel.show_done(f"Done in {took:.1f} s")
        made = f"{len(images)} image{'s' if len(images) != 1 else ''}"
        self.statusBar().showMessage(f"Made {made} in {took:.1f} s", 10000)
        if event.warnings:
            self.messages.show_message("\n".join(event.warnings), "info")

    def _on_failed(self, kind: str, message: str) -> None:
        self.canvas.end_preview()
        self.prompt_panel.show_done("Failed")
        self.messages.show_error(message)
        self.statusBar().showMessage(f"Generation failed: {message}", 15000)

    def _on_cancelled(self) -> None:
        self.canvas.end_preview()
        self.prompt_panel.show_done("Cancelled")
        self.statusBar().showMessage("Cancelled", 5000)

    # -- files -----------------------------------------------------------------------------

    def save_png(self, path: Path | None = None) -> Path | None:
        """Save the canvas image with its settings (A1111 `parameters` + Atelier recipe)."""
        image = self.canvas.image
        if image is None:
            self.messages.show_error("There is no image to save yet. Generate or open one first.")
            return None
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save as PNG", suggested_name(image), "PNG image (*.png)"
            )
            if not chosen:
                return None
            path = Path(chosen if chosen.lower().endswith(".png") else f"{chosen}.png")
        try:
            saved = save_generated_png(path, image)
        except (OSError, ValueError) as exc:
            self.messages.show_error(f"Could not save the image. {exc}")
            return None
        self.statusBar().showMessage(f"Saved {saved}", 8000)
        return saved

    def open_image(self, path: Path | None = None) -> bool:
        """Show an image file; offer "Reuse settings" when it records how it was made."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Open image", "", IMAGE_FILTER)
            if not chosen:
                return False
            path = Path(chosen)
        qimage = QImage(str(path))
        if qimage.isNull():
            self.messages.show_error(f"Could not open {path}: not an image Atelier can read.")
            return False
        try:
            info = read_generation_info(path)
        except ImageReadError as exc:
            info, problem = None, str(exc)
        else:
            problem = ""
        self.canvas.set_image(ImageData(rgba_from_qimage(qimage), {"source_path": str(path)}))
        self.setWindowTitle(f"{path.name} \N{EM DASH} Atelier")
        self._offer_settings(path, info, problem)
        return True

    def _offer_settings(self, path: Path, info: Any, problem: str) -> None:
        if info is None:
            self.messages.show_message(problem or f"{path.name} has no generation settings.")
            return
        settings = info.to_settings()
        source = {"a1111": "A1111", "comfyui": "ComfyUI"}.get(info.source, "Atelier")
        prompt = (
            info.prompt if len(info.prompt) < 80 else info.prompt[:77] + "\N{HORIZONTAL ELLIPSIS}"
        )
        self.messages.show_message(
            f"{path.name} was made with {source}: \N{LEFT DOUBLE QUOTATION MARK}{prompt}"
            "\N{RIGHT DOUBLE QUOTATION MARK}",
            "info",
            "Reuse settings",
            lambda: self.reuse_settings(settings),
        )

    def reuse_settings(self, settings: dict[str, Any]) -> None:
        skipped = self.prompt_panel.load_settings(settings)
        if skipped:
            self.messages.show_message("Settings loaded, except: " + "; ".join(skipped), "info")
        else:
            self.statusBar().showMessage("Settings loaded into the form", 5000)

    # -- closing ---------------------------------------------------------------------------

    def shutdown_engine(self) -> None:
        """Cancel what runs and stop the engine thread (safe to call twice)."""
        if self._engine_down:
            return
        self._engine_down = True
        self.generation.cancel()
        self.engine.shutdown(timeout=SHUTDOWN_WAIT_S)
        self.bridge.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt naming)
        """A running job is cancelled first (within a step), then the engine stops.

        The window stays visible meanwhile: closing a hidden window would not quit the app.
        """
        if self.generation.running and not self._closing:
            self._closing = True
            self.centralWidget().setEnabled(False)
            self.prompt_dock.setEnabled(False)
            self.statusBar().showMessage(
                "Stopping the running job, then closing\N{HORIZONTAL ELLIPSIS}"
            )
            self.generation.running_changed.connect(lambda running: running or self.close())
            QTimer.singleShot(CLOSE_GRACE_MS, self, self.close)  # a step that never ends
            self.generation.cancel()
            event.ignore()
            return
        self.shutdown_engine()
        super().closeEvent(event)


def suggested_name(image: ImageData) -> str:
    """atelier-<seed>.png for a generated image, else the opened file's name."""
    source = image.meta.get("source_path")
    if source:
        return Path(source).name
    seed = image.meta.get("recipe", {}).get("params", {}).get("seed")
    return f"atelier-{seed}.png" if seed is not None else "atelier.png"
