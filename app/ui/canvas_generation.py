"""Generation on the canvas, as the window runs it: build the request for the chosen mode
(its task's request builder), run it, float previews over the area being made, put the
results in the strip as candidates, and apply one as a new layer (a video or sound: as a
clip at the end of the timeline). Also "Reuse settings" and
"Regenerate" of a layer made by generation (its recipe is saved with the project, so they
work after reopening); a recipe of a task that is not installed, or of a newer version of
it, says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRectF

from app.model.candidates import ApplyError, Candidate, apply_command
from app.model.canvas_areas import fill_target
from app.model.clip_candidates import ClipCandidate, apply_clip_command
from app.model.layers import RasterLayer
from app.model.requests import Request, RequestError, build_request, regenerate_request
from app.model.tiles import Rect
from app.ui.cost_warning import confirm_cost
from engine.protocol import ImageData, JobFinished
from engine.recipes import recipe_problem

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


def qrect(rect: Rect) -> QRectF:
    return QRectF(rect.x, rect.y, rect.w, rect.h)


class CanvasGeneration(QObject):
    """The window's generate / apply logic; widgets stay unaware of each other."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.request: Request | None = None
        self._started_at = 0.0
        gen = window.generation
        gen.running_changed.connect(self._on_running_changed)
        gen.progress.connect(window.prompt_panel.set_progress)
        gen.preview.connect(self._on_preview)
        gen.finished.connect(self._on_finished)
        gen.failed.connect(self._on_failed)
        gen.cancelled.connect(self._on_cancelled)
        window.results.chosen.connect(self.show)
        window.results.applied.connect(self.apply)
        window.results.currentRowChanged.connect(self._update_apply)
        window.session.document_replaced.connect(self.hide)  # its place is gone
        self._update_apply()
        self.hide()

    def _update_apply(self, *_: object) -> None:
        current = self.w.results.current
        self.w.apply_button.setEnabled(current is not None)
        clip = isinstance(current, ClipCandidate)
        self.w.apply_button.setText("Add to timeline" if clip else "Apply as layer")

    # -- running ---------------------------------------------------------------------------

    def generate(self) -> None:
        panel = self.w.prompt_panel
        if self.w.generation.running or not panel.generate_button.isEnabled():
            return
        self.w.messages.dismiss()
        doc = self.w.session.doc
        size = panel.target_size(fill_target(doc).size)
        try:
            request = build_request(panel.tasks[panel.mode], panel.mode_values(), doc, size)
        except (RequestError, TypeError) as exc:
            self.w.messages.show_error(str(exc))
            return
        self.run(request)

    def run(self, request: Request) -> None:
        if not confirm_cost(self.w, request.params, self.w.engine.known_device_policy):
            return
        self.request = request
        self._started_at = time.monotonic()
        self.w.generation.start(request.params, request.task_id)

    def cancel(self) -> None:
        if self.w.generation.running:
            self.w.prompt_panel.show_done("Cancelling\N{HORIZONTAL ELLIPSIS}")
            self.w.generation.cancel()

    def _on_running_changed(self, running: bool) -> None:
        self.w.prompt_panel.set_running(running)
        if running:
            self.w.statusBar().showMessage("Generating\N{HORIZONTAL ELLIPSIS}")

    def _preview_rect(self) -> Rect:
        if self.request is not None:
            return self.request.preview
        return Rect(0, 0, *self.w.prompt_panel.target_size())

    def _on_preview(self, image: ImageData) -> None:
        self.w.canvas.show_preview(image, qrect(self._preview_rect()))

    def _on_finished(self, event: JobFinished) -> None:
        request, self.request = self.request, None
        if request is not None:
            candidates = request.candidates(event.outputs)
        else:
            candidates = [Candidate(o) for o in event.outputs if isinstance(o, ImageData)]
        self.w.results.add_candidates(candidates)
        self.show(candidates[0] if candidates else None)
        recipes = [c.recipe or {} for c in candidates]
        seeds = [r.get("params", {}).get("seed") for r in recipes]
        self.w.prompt_panel.show_seed([s for s in seeds if s is not None])
        took = time.monotonic() - self._started_at
        self.w.prompt_panel.show_done(f"Done in {took:.1f} s")
        clips = sum(isinstance(c, ClipCandidate) for c in candidates)
        noun, where = ("clip", "to the timeline") if clips else ("image", "as a layer")
        made = f"{len(candidates)} {noun}{'s' if len(candidates) != 1 else ''}"
        self.w.statusBar().showMessage(
            f"Made {made} in {took:.1f} s. Double-click one (or Apply) to add it {where}.",
            15000,
        )
        unplaced = len(event.outputs) - len(candidates)
        if unplaced:
            self.w.messages.show_message(
                f"{unplaced} result(s) of this job cannot be shown on the canvas yet.", "warning"
            )
        elif event.warnings:
            self.w.messages.show_message("\n".join(event.warnings), "info")

    def _on_failed(self, kind: str, message: str) -> None:
        request, self.request = self.request, None
        self.w.canvas.end_preview()
        self.w.prompt_panel.show_done("Failed")
        if request is None or not self.w.run_on.offer_local_run(request, kind, message):
            self.w.messages.show_error(message)
        self.w.statusBar().showMessage(f"Generation failed: {message}", 15000)

    def _on_cancelled(self) -> None:
        self.request = None
        self.w.canvas.end_preview()
        self.w.prompt_panel.show_done("Cancelled")
        self.w.statusBar().showMessage("Cancelled", 5000)

    # -- candidates ------------------------------------------------------------------------

    def show(self, candidate: Candidate | ClipCandidate | None) -> None:
        """Float a candidate over the canvas where it would go (a clip has no place there)."""
        if isinstance(candidate, ClipCandidate):
            candidate = None
        rect = qrect(candidate.rect_now()) if candidate is not None else None
        self.w.canvas.show_candidate(candidate.image if candidate else None, rect)
        self.w.hide_button.setEnabled(candidate is not None)

    def hide(self) -> None:
        self.w.canvas.show_candidate(None)
        self.w.hide_button.setEnabled(False)

    def apply(self, candidate: Candidate | ClipCandidate | None = None) -> RasterLayer | None:
        """Add the candidate (default: the strip's current one) as a new layer, or a clip
        at the end of the timeline; undoable."""
        candidate = candidate or self.w.results.current
        if candidate is None:
            self.w.messages.show_error("Generate something first, then apply it as a layer.")
            return None
        if isinstance(candidate, ClipCandidate):
            self.apply_clip(candidate)
            return None
        session = self.w.session
        group_id, index = self.w.layer_actions.insert_point()
        try:
            command, layer = apply_command(session.doc, candidate, group_id, index)
        except ApplyError as exc:
            self.w.messages.show_error(str(exc))
            return None
        if not session.push(command):
            return None
        session.set_active(layer.id)
        self.hide()
        self.w.statusBar().showMessage(f"Added the layer \u201c{layer.name}\u201d", 8000)
        return layer

    def apply_clip(self, candidate: ClipCandidate) -> str | None:
        """Add a video or sound at the end of the timeline in one undo step; the clip's id."""
        command, clip_id = apply_clip_command(self.w.session.doc, candidate)
        if not self.w.session.push(command):
            return None
        self.w.statusBar().showMessage(
            f"Added the clip \u201c{candidate.clip_name()}\u201d to the timeline", 8000
        )
        return clip_id

    # -- layers made by generation ---------------------------------------------------------

    def _recipe_of(self, layer_id: str) -> dict[str, Any] | None:
        layer = self.w.session.doc.get(layer_id)
        recipe = getattr(layer, "recipe", None)
        if not recipe:
            self.w.messages.show_error("This layer was not made by generation; it has no settings.")
            return None
        return recipe

    def reuse_layer(self, layer_id: str) -> bool:
        """Put the mode and settings that made the layer into the panel; a recipe of a task
        that is not installed (or newer) says so, and its shared settings still load."""
        recipe = self._recipe_of(layer_id)
        if recipe is None:
            return False
        self.w.reuse_recipe(recipe)
        return True

    def regenerate_layer(self, layer_id: str) -> bool:
        """Run the layer's recipe again with a new seed; the result arrives as a candidate."""
        if self.w.generation.running or self._recipe_of(layer_id) is None:
            return False
        layer = self.w.session.doc.find(layer_id)
        assert isinstance(layer, RasterLayer) and layer.recipe is not None
        values = {**layer.recipe.get("params", {}), "seed": -1}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        tasks = self.w.registry.tasks
        try:
            request = regenerate_request(layer, self.w.session.doc, tasks, values)
        except (RequestError, TypeError) as exc:
            self.w.messages.show_error(str(exc))
            return False
        problem = recipe_problem(layer.recipe, tasks)
        if problem:
            self.w.messages.show_message(problem, "warning")
        self.run(request)
        return True
