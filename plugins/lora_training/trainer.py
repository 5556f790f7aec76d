"""The LoRA training job: check the photos, choose the settings, encode once, train the
adapter with checkpoints, and hand back a kohya-format LoRA with a sample picture.

Read top to bottom: `run` is the whole job. A cancel (or a crash) keeps the checkpoint of
the last step done; the same photos and settings train again from there. A loss that is not
a finite number stops the job and keeps the last good checkpoint.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.protocol import ImageData, JobCancelledError, JobError, ModelData, TaskResult
from engine.recipes import RESOLVED
from plugins.diffusion.adapters import set_loras
from plugins.diffusion.params import native_size
from plugins.diffusion.pipelines import pipeline_family_class, require_family
from plugins.diffusion.sampling import float_to_rgba, load_pipeline
from plugins.lora_training.adapter_training import AdapterTraining, Diverged, adapter_on
from plugins.lora_training.checkpoints import load_checkpoint, save_checkpoint
from plugins.lora_training.folder_check import (
    check_folder,
    class_caption,
    require_usable,
    tag_frequency,
)
from plugins.lora_training.kohya_format import lora_metadata, peft_to_kohya
from plugins.lora_training.params import TrainLoraParams, lora_name
from plugins.lora_training.photo_prep import PreparedPhoto, prepare_photos
from plugins.lora_training.preservation_prompts import preservation_prompts, prompts_for
from plugins.lora_training.presets import (
    DeviceInfo,
    TrainingSettings,
    describe,
    kept_per_step,
    resolve_settings,
)
from plugins.lora_training.run_folder import CACHE_FILE, CHECKPOINT_FILE, run_folder, run_key
from plugins.lora_training.training_data import (
    Example,
    batch_at,
    encode_examples,
    encode_prompt,
    load_cache,
    save_cache,
    stack,
)

FAMILIES = {"sd15", "sd2", "sdxl"}
TITLE = "LoRA training"
ENCODE_SHARE = 0.05  # of the progress bar: encoding the photos (and making class pictures)
SAMPLE_SEED = 1234


@dataclasses.dataclass
class Run:
    """What the job works with once the photos are checked and the settings chosen."""

    entry: ModelEntry
    pipe: Any
    params: TrainLoraParams
    settings: TrainingSettings
    photos: list[PreparedPhoto]
    skipped: str  # the folder check's summary when it skipped files, else ""
    folder: Path
    key: str
    notes: list[str]  # what the settings' choice changed, for the warnings
    kept_prompts: list[str]  # the preservation list (base_output with prior_prompts only)


def run(params: TrainLoraParams, ctx: JobContext) -> TaskResult:
    job = _start(params, ctx)
    photos, classes = _examples(job, ctx)
    with adapter_on(job.pipe, job.settings, params.seed) as training:
        step, losses = _resume(job, training, ctx)
        _train(job, training, photos, classes, step, losses, ctx)
        thumbnail = _sample(job, ctx)
        tensors = peft_to_kohya(training.lora_state(), job.settings.alpha)
    tensors = {name: np.asarray(t) for name, t in tensors.items()}
    model = ModelData(tensors, _metadata(job), thumbnail, {RESOLVED: _resolved(job)})
    return TaskResult((model,), tuple(_notes(job)))


# ---- before training


def _start(params: TrainLoraParams, ctx: JobContext) -> Run:
    """The checkpoint, the usable photos and the settings, or a JobError saying why not."""
    entry = ctx.store.pick_checkpoint(params.model)
    require_family(entry, FAMILIES, TITLE, families=ctx.families)
    native = native_size(entry)
    ctx.progress(0.0, "Checking the photos")
    report = check_folder(Path(params.folder or "."), min_side=min_side(params.resolution, native))
    try:
        require_usable(report)
    except ValueError as e:
        raise JobError("invalid_input", str(e)) from None
    ctx.check_cancelled()
    cls = pipeline_family_class(entry.family)
    pipe = load_pipeline(ctx, entry, cls, entry.settings.defaults.get("scheduler", "DDIM"))
    set_loras(ctx, entry, pipe, [])  # the adapter trains alone, on the checkpoint as it is
    settings, notes = resolve_settings(
        params,
        entry.family,
        native,
        device_info(ctx),
        len(report.photos),
        _model_bytes(pipe),
        entry.settings.lora_training,
    )
    photos = prepare_photos(
        report.photos, settings.resolution, params.crop, params.trigger, params.class_word
    )
    kept = _kept_prompts(entry, settings)
    key = run_key(
        entry.short_hash(),
        [(p.source.name, *p.pixels.shape[1::-1], p.caption) for p in photos],
        [params.trigger, params.class_word, params.crop, *kept],
        dataclasses.asdict(settings),
        params.seed,
    )
    folder = run_folder(lora_name(params), key)
    skipped = report.summary() if any(p.skipped for p in report.problems) else ""
    # the photos at full size are let go here: only the prepared crops are kept
    return Run(entry, pipe, params, settings, photos, skipped, folder, key, notes, kept)


def _kept_prompts(entry: ModelEntry, settings: TrainingSettings) -> list[str]:
    """The preservation list when the settings pair photos with its prompts, else none."""
    if not (settings.prior_images and settings.prior_method == "base_output"):
        return []
    try:
        return preservation_prompts(entry.path) if settings.prior_prompts else []
    except ValueError as e:
        raise JobError("invalid_input", str(e)) from None


def min_side(resolution: int, native: int) -> int:
    """The least short side a photo needs: half the training resolution (the one asked
    for, else the model's native size); a photo is never enlarged more than twice."""
    return max(64, (resolution or native) // 2)


def device_info(ctx: JobContext) -> DeviceInfo:
    """Where the job trains: the device policy's device, its memory and abilities."""
    import importlib.util

    from engine.job_cost import physical_memory

    device = ctx.device.device
    if device == "cuda":
        total = torch.cuda.get_device_properties(0).total_memory
        bnb = importlib.util.find_spec("bitsandbytes") is not None
        return DeviceInfo("cuda", total, torch.cuda.is_bf16_supported(), bnb)
    return DeviceInfo(device, physical_memory() or 8 * 1024**3)


def _model_bytes(pipe: Any) -> int:
    """The checkpoint's size at 4 bytes a parameter, as the memory estimate counts it."""
    parts = [
        getattr(pipe, name, None) for name in ("unet", "vae", "text_encoder", "text_encoder_2")
    ]
    return 4 * sum(p.numel() for part in parts if part is not None for p in part.parameters())


def _examples(job: Run, ctx: JobContext) -> tuple[list[Example], list[Example]]:
    """The photos and prior preservation's examples encoded, from the run's cache when it
    has them."""
    cache = job.folder / CACHE_FILE
    pictures = _class_picture_count(job.settings)
    cached = load_cache(cache, len(job.photos), _prior_count(job))
    if cached is not None:
        return cached
    total = len(job.photos) + 2 * pictures

    def check(done: int) -> None:
        ctx.check_cancelled()
        ctx.progress(ENCODE_SHARE * done / total, "Preparing the photos")

    photos = encode_examples(job.pipe, [(p.pixels, p.caption) for p in job.photos], check)
    if pictures:
        classes = _class_examples(job, ctx, lambda i: check(len(job.photos) + i))
    else:
        classes = _generic_examples(job, photos) if job.settings.prior_images else []
    save_cache(cache, photos, classes)
    return photos, classes


def _class_picture_count(settings: TrainingSettings) -> int:
    """How many class pictures the base model draws first (only to preserve by them)."""
    return settings.prior_images if settings.prior_method == "class_pictures" else 0


def _prior_count(job: Run) -> int:
    """Prior preservation's examples: the class pictures, else (by the base model's
    output) one per photo and `prior_prompts` more when there is a list, else none."""
    if not job.settings.prior_images:
        return 0
    per_photo = 1 + (job.settings.prior_prompts if job.kept_prompts else 0)
    return _class_picture_count(job.settings) or len(job.photos) * per_photo


def _generic_examples(job: Run, photos: list[Example]) -> list[Example]:
    """Preservation by the base model's output: each photo's latent with its caption's
    subject made generic (`class_caption`), encoded; then each photo's latent with its
    prompts of the preservation list (`prompts_for`)."""
    p = job.params
    captions = [class_caption(photo.caption, p.trigger, p.class_word) for photo in job.photos]
    pairs = list(zip(captions, photos, strict=True))
    count = job.settings.prior_prompts
    for i, encoded in enumerate(photos):
        pairs += [(prompt, encoded) for prompt in prompts_for(job.kept_prompts, i, count)]
    examples = []
    for caption, encoded in pairs:
        embeds, pooled = encode_prompt(job.pipe, caption)
        examples.append(Example(encoded.latent.clone(), embeds, pooled))  # cached apart
    return examples


def _class_examples(job: Run, ctx: JobContext, check: Any) -> list[Example]:
    """Preservation by class pictures: pictures the base model makes of the class, in the
    settings of the photos' captions (the subject made generic, `class_caption`), encoded."""
    count, size, p = job.settings.prior_images, job.settings.resolution, job.params
    pictures = []
    for i in range(count):
        check(i)
        caption = class_caption(job.photos[i % len(job.photos)].caption, p.trigger, p.class_word)
        pictures.append((_draw(job, caption, size, seed=i)[..., :3], caption))
    return encode_examples(job.pipe, pictures, lambda i: check(count + i))


def _draw(job: Run, prompt: str, size: int, seed: int) -> np.ndarray:
    """One picture from the pipeline (with whatever adapter is on it), opaque RGBA."""
    defaults = job.entry.settings.defaults
    result = job.pipe(
        prompt=prompt,
        num_inference_steps=int(defaults.get("steps", 20)),
        guidance_scale=float(defaults.get("cfg_scale", 7.0)),
        width=size,
        height=size,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    )
    return float_to_rgba(result.images[0])


# ---- training


def _resume(job: Run, training: AdapterTraining, ctx: JobContext) -> tuple[int, list[float]]:
    """The step to start at and the losses so far: from the run's checkpoint when the
    params ask to resume and there is one, else 0 and none."""
    path = job.folder / CHECKPOINT_FILE
    if not job.params.resume:
        path.unlink(missing_ok=True)
        return 0, []
    try:
        checkpoint = load_checkpoint(path)
    except ValueError as e:
        ctx.log.warning("starting afresh: %s", e)
        return 0, []
    if checkpoint is None:
        return 0, []
    training.load_lora_state(checkpoint.lora)
    training.optimizer.load_state_dict(checkpoint.optimizer)
    return int(checkpoint.info["step"]), [float(v) for v in checkpoint.info["losses"]]


def _train(
    job: Run,
    training: AdapterTraining,
    photos: list[Example],
    classes: list[Example],
    start: int,
    losses: list[float],
    ctx: JobContext,
) -> None:
    """Steps from `start` to the end, a checkpoint every so often and when cancelled."""
    settings, seed = job.settings, job.params.seed
    sizes = [example.size for example in photos]
    dtype = training.unet.dtype
    clock = _Clock(start)
    saved = start
    step = start
    try:
        for step in range(start, settings.steps):
            ctx.check_cancelled()
            batch = [photos[i] for i in batch_at(sizes, settings.batch_size, seed, step)]
            prior = _prior_batch(job, classes, len(batch), step)
            try:
                loss = training.step(
                    stack(batch, training.device, dtype),
                    None if prior is None else stack(prior, training.device, dtype),
                    step,
                    seed,
                )
            except Diverged as e:
                raise _diverged(job, step, saved, e) from None
            losses.append(loss)
            done = step + 1
            if done % settings.checkpoint_every == 0 or done == settings.steps:
                _save(job, training, done, losses)
                saved = done
            _report(job, ctx, done, loss, clock)
            if settings.sample_every and done % settings.sample_every == 0 and ctx.preview_due():
                _send_sample(job, ctx, done)
    except (JobCancelledError, KeyboardInterrupt):  # Ctrl+C in `atelier train-lora` too
        if step > saved:
            _save(job, training, step, losses)
        raise


def _prior_batch(
    job: Run, classes: Sequence[Example], count: int, step: int
) -> list[Example] | None:
    """Step `step`'s prior preservation examples: `count` of the class pictures or generic
    captions in turn; with kept prompts (whose examples follow the photos' generic captions
    in `classes`), `kept_per_step(count)` of those as well."""
    if not classes:
        return None
    own = len(job.photos) if job.kept_prompts else len(classes)
    examples = [classes[(step * count + i) % own] for i in range(count)]
    if job.kept_prompts:
        kept = kept_per_step(count)
        examples += [classes[own + (step * kept + i) % (len(classes) - own)] for i in range(kept)]
    return examples


def _save(job: Run, training: AdapterTraining, step: int, losses: list[float]) -> None:
    info = {"step": step, "losses": losses, "key": job.key, "lora": lora_name(job.params)}
    save_checkpoint(
        job.folder / CHECKPOINT_FILE, training.lora_state(), training.optimizer.state_dict(), info
    )


def _diverged(job: Run, step: int, saved: int, e: Diverged) -> JobError:
    kept = (
        f"the checkpoint of step {saved} is kept, and training again resumes from it"
        if saved
        else "no checkpoint was written yet"
    )
    return JobError(
        "internal",
        f"Training stopped at step {step + 1}: the loss became {e.args[0]} (the learning "
        f"rate {job.settings.learning_rate:g} is too high for these photos); {kept}. "
        "Lower the learning rate in Advanced and train again.",
    )


class _Clock:
    """The time left, from the pace of the steps done in this try."""

    def __init__(self, start: int) -> None:
        self.start, self.began = start, time.monotonic()

    def eta(self, done: int, total: int) -> float:
        pace = (time.monotonic() - self.began) / max(1, done - self.start)
        return pace * (total - done)


def _report(job: Run, ctx: JobContext, done: int, loss: float, clock: _Clock) -> None:
    total = job.settings.steps
    metrics = {"step": done, "steps": total, "loss": loss, "eta_s": clock.eta(done, total)}
    ctx.progress(_fraction(job, done), f"Training: step {done} of {total}", metrics=metrics)


def _fraction(job: Run, done: int) -> float:
    """The progress bar's share after `done` steps: encoding first, then the steps."""
    return ENCODE_SHARE + (1 - ENCODE_SHARE) * done / job.settings.steps


# ---- samples and the result


def sample_prompt(params: TrainLoraParams) -> str:
    return f"{params.trigger} {params.class_word}"


def _sample_image(job: Run) -> ImageData:
    job.pipe.unet.eval()
    try:
        pixels = _draw(job, sample_prompt(job.params), job.settings.resolution, SAMPLE_SEED)
    finally:
        job.pipe.unet.train()
    return ImageData(pixels)


def _send_sample(job: Run, ctx: JobContext, done: int) -> None:
    total = job.settings.steps
    metrics = {"step": done, "steps": total, "sample_step": done}
    ctx.progress(_fraction(job, done), f"Sample at step {done}", _sample_image(job), metrics)


def _sample(job: Run, ctx: JobContext) -> ImageData:
    ctx.progress(1.0, "Making a sample picture")
    return _sample_image(job)


def _metadata(job: Run) -> dict[str, str]:
    s, p = job.settings, job.params
    return lora_metadata(
        trigger=p.trigger,
        class_word=p.class_word,
        name=lora_name(p),
        base_name=job.entry.name,
        base_hash=job.entry.short_hash(),
        family=job.entry.family,
        rank=s.rank,
        alpha=s.alpha,
        steps=s.steps,
        resolution=s.resolution,
        learning_rate=s.learning_rate,
        batch_size=s.batch_size,
        photo_count=len(job.photos),
        tag_frequency=tag_frequency(photo.caption for photo in job.photos),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _resolved(job: Run) -> dict[str, Any]:
    """What the recipe records beyond the form: the settings the job chose."""
    s = job.settings
    return {
        "model": job.entry.name,
        "train_steps": s.steps,
        "rank": s.rank,
        "learning_rate": s.learning_rate,
        "batch_size": s.batch_size,
        "resolution": s.resolution,
        "photos": len(job.photos),
        "settings": describe(s),
    }


def _notes(job: Run) -> list[str]:
    notes = [f"Trained with {describe(job.settings)}."]
    notes += job.notes
    return notes + [job.skipped] if job.skipped else notes
