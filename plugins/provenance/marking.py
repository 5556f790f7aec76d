"""The safety and provenance step (run by the engine on every job: engine.safety_step): the
prompt check before a job; the output check, watermark and provenance record on everything
it makes; the output check on live previews; and marking exports.

Every ImageData / VideoData / AudioData output, and every ModelData's sample picture (its
thumbnail), leaves the engine watermarked with the payload of its recipe (the same recipe,
the same mark) and with meta["provenance"]: software, time, digital source type, the
watermark (payload, id, method), every mark the pixels carry with where it lies (`marks`:
a repaint's new area, the input's marks it kept; see mark_areas), the safety record
(prompt and output checks, scores, what was done) and the safety settings in force.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.protocol import AudioData, ImageData, JobError, ModelData, Output, VideoData
from plugins.provenance import output_check, prompt_check
from plugins.provenance.mark_areas import Box, Mark, marks_in, mask_boxes
from plugins.provenance.settings import SafetySettings, safety_settings
from plugins.provenance.xmp import COMPOSITE, TRAINED

log = logging.getLogger(__name__)
PROMPT_FIELDS = ("prompt", "lyrics", "text", "caption")  # never negative prompts


@lru_cache(maxsize=1)
def software() -> str:
    """ "Atelier <version>", as the provenance record and metadata name the maker."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"Atelier {version('atelier')}"
    except PackageNotFoundError:
        return "Atelier"


def prompt_text(params: Any) -> str:
    """The text of a job's request that the prompt check reads (negative prompts excluded)."""
    if not dataclasses.is_dataclass(params):
        return ""
    texts = []
    for f in dataclasses.fields(params):
        value = getattr(params, f.name, None)
        if isinstance(value, str) and f.name in PROMPT_FIELDS:
            texts.append(value)
    return "\n".join(texts)


def blocked_message(matches: Sequence[prompt_check.PromptMatch]) -> str:
    """The message of a refused prompt: the category (or categories) it matched."""
    titles = ", ".join(f'"{m.title}"' for m in matches)
    lists = "list" if len(matches) == 1 else "lists"
    return (
        f"The prompt was blocked by the safety check: it matches the {titles} {lists} "
        f"({'; '.join(m.entry for m in matches)}). Change the prompt and try again."
    )


# ---- the step ----------------------------------------------------------------------------------


def before_job(task_id: str, params: Any) -> None:
    """Refuse a job whose prompt matches a safety list (unless the level is "warn")."""
    text = prompt_text(params)
    if not text.strip():
        return
    matches = prompt_check.check_prompt(text)
    if matches and safety_settings().prompt == "block":
        raise JobError("blocked_by_safety", blocked_message(matches))


def prepare() -> None:
    """Start the output check's detector (the engine warms it up before the first job)."""
    output_check.prepare()


def check_preview(task_id: str, params: Any, image: ImageData) -> ImageData | None:
    """A live preview, blurred when NudeNet flags it (dropped when it cannot check)."""
    settings = safety_settings()
    if settings.output == "warn":
        return image
    try:
        scores = output_check.nudenet_scores(image.pixels)
    except output_check.CheckerUnavailable:
        return None
    if any(scores.get(label, 0.0) >= settings.nudity_threshold for label in output_check.EXPOSED):
        return ImageData(output_check.obscure(image.pixels), image.meta)
    return image


def after_job(
    task_id: str, params: Any, outputs: Sequence[Output], ctx: Any
) -> tuple[tuple[Output, ...], tuple[str, ...]]:
    """Check, then watermark, every media output and every model's sample picture; record
    what was found and done. A withheld sample picture is dropped, its model delivered."""
    settings = safety_settings()
    models_home = getattr(getattr(ctx, "store", None), "home", None)
    prompt_record, warnings = _prompt_record(params, settings)
    outputs = [_with_recipe_thumbnail(o) if isinstance(o, ModelData) else o for o in outputs]
    pictures = [o.thumbnail for o in outputs if isinstance(o, ModelData) and o.thumbnail]
    checked = _output_verdicts([*outputs, *pictures], settings, models_home, warnings)
    kept: list[Output] = []
    withheld: list[str] = []
    media = [o for o in outputs if isinstance(o, ImageData | VideoData | AudioData)]
    for number, output in enumerate(outputs, 1):
        where = f"Result {number} of {len(outputs)}" if len(outputs) > 1 else "The result"
        if isinstance(output, ModelData) and output.thumbnail is not None:
            picture = output.thumbnail
            verdict = checked.get(id(picture))
            where = f"The sample picture of {where[0].lower()}{where[1:]}"
            marked = _checked_output(
                picture, verdict, where, task_id, prompt_record, settings, warnings
            )
            kept.append(dataclasses.replace(output, thumbnail=marked))
        elif isinstance(output, ImageData | VideoData | AudioData):
            verdict = checked.get(id(output))
            marked = _checked_output(
                output, verdict, where, task_id, prompt_record, settings, warnings
            )
            if marked is None:
                withheld.append(_why(verdict))
            else:
                kept.append(marked)
        else:
            kept.append(output)
    if media and len(withheld) == len(media):
        raise JobError(
            "blocked_by_safety",
            f"The result was withheld by the safety check ({'; '.join(withheld)}). "
            'The output check is set to "block".',
        )
    return tuple(kept), tuple(warnings)


def _with_recipe_thumbnail(model: ModelData) -> ModelData:
    """The model with its recipe on its sample picture too (the picture is marked with the
    id of the recipe that made the model)."""
    picture = model.thumbnail
    if picture is None or "recipe" in picture.meta or "recipe" not in model.meta:
        return model
    meta = {**picture.meta, "recipe": model.meta["recipe"]}
    return dataclasses.replace(model, thumbnail=ImageData(picture.pixels, meta))


def _checked_output(
    output: ImageData | VideoData | AudioData,
    verdict: output_check.Verdict | str | None,
    where: str,
    task_id: str,
    prompt_record: Mapping[str, Any],
    settings: SafetySettings,
    warnings: list[str],
) -> ImageData | VideoData | AudioData | None:
    """The output as the policy delivers it, marked; None when it is withheld. What was
    done is said in `warnings` (`where` names the output)."""
    output, action = _apply_policy(output, verdict, settings)
    if action == "blocked":
        warnings.append(f"{where} was withheld by the safety check: {_why(verdict)}.")
        return None
    if action == "blurred":
        warnings.append(f"{where} was blurred by the safety check: {_why(verdict)}.")
    elif action == "kept":
        warnings.append(f"{where} was flagged by the safety check: {_why(verdict)}.")
    safety = {"prompt": prompt_record, "output": _output_record(verdict, settings, action)}
    return mark_output(output, task_id, safety, settings)


# ---- the output check --------------------------------------------------------------------


def _output_verdicts(
    outputs: Sequence[Output], settings: SafetySettings, home: Path | None, warnings: list[str]
) -> dict[int, output_check.Verdict | str]:
    """A verdict per image/video output (by id), or the reason it could not be checked."""
    images = [o for o in outputs if isinstance(o, ImageData)]
    videos = [o for o in outputs if isinstance(o, VideoData)]
    found: dict[int, output_check.Verdict | str] = {}
    try:
        threshold = settings.nudity_threshold
        verdicts = output_check.check_images([o.pixels for o in images], threshold, home)
        found.update({id(o): v for o, v in zip(images, verdicts, strict=True)})
        for video in videos:
            found[id(video)] = output_check.check_frames(
                video.frames, threshold, settings.video_frames, home
            )
    except output_check.CheckerUnavailable as exc:
        if settings.output != "warn":
            raise JobError(
                "blocked_by_safety",
                f"The result was withheld: the output safety check could not run ({exc}). "
                'Reinstall Atelier, or set the output check to "warn".',
            ) from exc
        warnings.append(f"The output safety check could not run: {exc}.")
        found.update({id(o): f"not checked: {exc}" for o in [*images, *videos]})
    return found


def _apply_policy(
    output: Output, verdict: output_check.Verdict | str | None, settings: SafetySettings
) -> tuple[Output, str]:
    """(the output to deliver, the action taken: none, kept, blurred or blocked)."""
    if not isinstance(verdict, output_check.Verdict) or not verdict.flagged:
        return output, "none"
    if settings.output == "block":
        return output, "blocked"
    if settings.output == "warn":
        return output, "kept"
    if isinstance(output, ImageData):
        return ImageData(output_check.obscure(output.pixels), output.meta), "blurred"
    if isinstance(output, VideoData):
        frames = np.stack([output_check.obscure(frame) for frame in output.frames])
        return VideoData(frames, output.fps, output.meta), "blurred"
    return output, "kept"


def _why(verdict: output_check.Verdict | str | None) -> str:
    if isinstance(verdict, output_check.Verdict):
        return ", ".join(verdict.reasons) or "flagged"
    return "flagged"


def _output_record(
    verdict: output_check.Verdict | str | None, settings: SafetySettings, action: str
) -> dict[str, Any]:
    record: dict[str, Any] = {"policy": settings.output, "action": action}
    if isinstance(verdict, output_check.Verdict):
        record.update(checked=True, **verdict.record())
    else:
        record.update(checked=False, reason=verdict or "no output check for this kind of media")
    return record


def _prompt_record(params: Any, settings: SafetySettings) -> tuple[dict[str, Any], list[str]]:
    text = prompt_text(params)
    categories = prompt_check.load_categories()
    matches = prompt_check.check_prompt(text) if text.strip() else []
    record = {
        "level": settings.prompt,
        "checked": bool(text.strip()),
        "matched": [dataclasses.asdict(m) for m in matches],
        "lists": {c.id: c.source for c in categories},
    }
    warnings = []
    if matches:  # only reachable at level "warn": "block" refused the job before it ran
        warnings.append(
            blocked_message(matches).replace("was blocked", "was allowed").split(". ")[0]
            + ' (the prompt check is set to "warn").'
        )
    return record, warnings


# ---- watermark and record ----------------------------------------------------------------


def provenance_record(
    payload: int,
    kind: str,
    safety: Mapping[str, Any],
    settings: SafetySettings | None,
    task_id: str = "",
    source_type: str = TRAINED,
    marks: Sequence[Mark] = (),
) -> dict[str, Any]:
    """The provenance record for a marked output (what meta["provenance"] holds); `marks`:
    every mark the pixels carry, topmost first (default: `payload`'s, everywhere)."""
    from plugins.provenance import watermark

    method = getattr(watermark, "METHOD", "atelier")
    marks = marks or (Mark(payload, None, True, "this job"),)
    return {
        "software": software(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "task": task_id,
        "digital_source_type": source_type,
        "watermark": {
            "payload": payload,
            "payload_hex": f"{payload:08x}",
            "method": f"{method}-{kind}",
            **watermark.describe_payload(payload),
        },
        "marks": [mark.record() for mark in marks],
        "safety": dict(safety),
        "settings": settings.record() if settings else None,
    }


def mark_output(
    output: ImageData | VideoData | AudioData,
    task_id: str,
    safety: Mapping[str, Any],
    settings: SafetySettings,
) -> ImageData | VideoData | AudioData:
    """The output with its recipe's watermark and meta["provenance"] (an output without a
    recipe is marked as made by `task_id` alone)."""
    from plugins.provenance import watermark

    recipe = output.meta.get("recipe")
    payload = watermark.recipe_payload(recipe if isinstance(recipe, Mapping) else {"task": task_id})
    marks: tuple[Mark, ...] = ()
    if isinstance(output, ImageData):
        marks = image_marks(output, payload)
        pixels = mark_image_pixels(output, payload)
        kind, marked = "image", None
    elif isinstance(output, VideoData):
        kind, marked = "video", watermark.embed_frames(output.frames, payload)
    else:
        samples = np.asarray(output.samples, np.float32)
        kind, marked = "audio", watermark.embed_audio(samples, output.rate, payload)
    record = provenance_record(payload, kind, safety, settings, task_id, marks=marks)
    meta = {**output.meta, "provenance": record}
    if isinstance(output, ImageData):
        return ImageData(pixels, meta)
    if isinstance(output, VideoData):
        return VideoData(np.asarray(marked, np.uint8), output.fps, meta)
    return AudioData(np.asarray(marked, np.float32), output.rate, meta)


def image_marks(image: ImageData, payload: int) -> tuple[Mark, ...]:
    """The marks an image output carries once marked, topmost first: `payload`'s where the
    job generated (a repaint: the boxes of its mask; else everywhere), then for a repaint
    the marks of the input that its kept pixels still carry."""
    repainted = image.meta.get("repaint_mask")
    if repainted is None or "crop_rect" not in image.meta:
        return (Mark(payload, None, True, "this job"),)
    boxes = mask_boxes(np.asarray(repainted) > 0)
    kept = marks_in(np.asarray(image.pixels)[..., :3], boxes, "kept from the input")
    return (Mark(payload, boxes, True, "this job"), *(m for m in kept if m.payload != payload))


def mark_image_pixels(image: ImageData, payload: int) -> np.ndarray:
    """The image's pixels with the watermark. A repaint (inpaint, outpaint) is marked only
    where it was generated (its meta's `repaint_mask` within `crop_rect`), so the pixels
    it kept from the input stay exactly as they were."""
    from plugins.provenance import watermark

    pixels = np.array(image.pixels, copy=True)
    repainted = image.meta.get("repaint_mask")
    if repainted is None or "crop_rect" not in image.meta:
        pixels[..., :3] = watermark.embed_image(np.ascontiguousarray(pixels[..., :3]), payload)
        return pixels
    x, y, w, h = image.meta["crop_rect"]
    crop = pixels[y : y + h, x : x + w, :3]
    marked = watermark.embed_image(np.ascontiguousarray(crop), payload)
    generated = repainted[y : y + h, x : x + w] > 0
    crop[generated] = marked[generated]
    return pixels


@dataclasses.dataclass(frozen=True)
class GeneratedLayer:
    """A generated layer of a canvas being exported: its recipe (its pixels carry that
    recipe's mark), its name and where its pixels lie on the canvas."""

    recipe: Mapping[str, Any]
    name: str = ""
    box: Box | None = None

    def mark(self) -> Mark:
        from plugins.provenance import watermark

        boxes = (self.box,) if self.box else None
        return Mark(watermark.recipe_payload(self.recipe), boxes, False, f'layer "{self.name}"')


def mark_export_with_provenance(
    rgba: np.ndarray, layers: Sequence[GeneratedLayer], only_generated: bool = False
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """A flattened canvas for export: watermarked when it holds generated layers (`layers`,
    topmost first), with the provenance record for the file's metadata; unchanged and None
    when it holds none. A canvas whose pixels already carry a readable mark keeps them;
    else it is marked with the payload of its layers' recipes, so exporting it again gives
    the same file. The record lists each layer's mark where the layer lies, and the marks
    read in the canvas's pixels."""
    if not layers:
        return rgba, None
    from plugins.provenance import watermark

    rgb = np.ascontiguousarray(rgba[..., :3])
    found = marks_in(rgb, source="read in the canvas")
    whole = next((mark.payload for mark in found if mark.boxes is None), None)
    fresh: list[Mark] = []
    if whole is not None:
        payload, out = whole, rgba
    else:
        payload = watermark.recipe_payload(*(layer.recipe for layer in layers))
        out = np.array(rgba, copy=True)
        out[..., :3] = watermark.embed_image(rgb, payload)
        fresh.append(Mark(payload, None, True, "this export"))
    placed = [layer.mark() for layer in layers]
    named = {mark.payload for mark in placed}
    marks = [*fresh, *placed, *(mark for mark in found if mark.payload not in named)]
    tasks = sorted({str(lay.recipe.get("task", "")) for lay in layers if lay.recipe.get("task")})
    safety = {"output": {"checked": False, "reason": "exported canvas: not checked again"}}
    record = provenance_record(
        payload,
        "image",
        safety,
        None,
        ", ".join(tasks),
        source_type=TRAINED if only_generated else COMPOSITE,
        marks=marks,
    )
    return out, record


def timeline_export_record(
    generated: Sequence[tuple[str, Mapping[str, Any]]], only_generated: bool
) -> dict[str, Any] | None:
    """The provenance record of a film cut from clips: `generated` holds each generated
    clip's name and its media's provenance record, in timeline order. Their frames keep
    the marks their jobs wrote (an export adds none), so the record lists those marks, and
    the first as the file's watermark; None when no clip was generated. `only_generated`:
    every picture in the film was generated (else it is a composite)."""
    marks, tasks = [], []
    for name, record in generated:
        stamp = record.get("watermark")
        payload = stamp.get("payload") if isinstance(stamp, Mapping) else None
        if isinstance(payload, int) and payload not in {mark.payload for mark in marks}:
            marks.append(Mark(payload, None, False, f"clip {name}"))
        if record.get("task") and record["task"] not in tasks:
            tasks.append(str(record["task"]))
    if not marks:
        return None
    safety = {"output": {"checked": False, "reason": "exported timeline: clips checked when made"}}
    return provenance_record(
        marks[0].payload,
        "video",
        safety,
        None,
        ", ".join(tasks),
        source_type=TRAINED if only_generated else COMPOSITE,
        marks=marks,
    )


def mark_export(rgba: np.ndarray, layers: Sequence[GeneratedLayer]) -> np.ndarray:
    """A flattened canvas, watermarked when it contains generated layers (see above)."""
    return mark_export_with_provenance(rgba, layers)[0]
