"""The output check: NudeNet's detector, and the SD CLIP safety checker when installed.

NudeNet's ONNX model ships inside the `nudenet` wheel and runs on onnxruntime; the CLIP
checker (the `safety_checker` of Stable Diffusion 1.x) runs when its weights are in
<home>/models/safety/. Both load lazily, once, on the engine thread. `check_images`
scores a batch, `check_frames` samples a video, `obscure` blurs a flagged result beyond
recognition.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.devices import default_cpu_threads
from engine.home import RESOURCES, models_dir
from engine.untrusted import UntrustedInputError, display_path, read_json_file

log = logging.getLogger(__name__)

# NudeNet labels that flag an output, and how a message names them
EXPOSED = {
    "FEMALE_BREAST_EXPOSED": "exposed breasts",
    "FEMALE_GENITALIA_EXPOSED": "exposed genitals",
    "MALE_GENITALIA_EXPOSED": "exposed genitals",
    "BUTTOCKS_EXPOSED": "exposed buttocks",
    "ANUS_EXPOSED": "exposed anus",
}
CLIP_CHECKER = "StableDiffusionSafetyChecker"
MAX_SAFETY_ENTRIES = 5_000  # entries looked at under <home>/models/safety/ (a few dozen when real)
MAX_SAFETY_DEPTH = 4
MAX_CONFIG_BYTES = 1024 * 1024


class CheckerUnavailable(RuntimeError):
    """The output check cannot run (its package or model is missing or broken)."""


@dataclass
class Verdict:
    """What the checkers found in one output."""

    flagged: bool = False
    reasons: list[str] = field(default_factory=list)  # "exposed breasts (NudeNet 0.83)"
    scores: dict[str, Any] = field(default_factory=dict)  # per checker
    checkers: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "reasons": list(self.reasons),
            "scores": self.scores,
            "checkers": list(self.checkers),
        }


# ---- NudeNet -----------------------------------------------------------------------------

_lock = threading.Lock()
_nudenet: Any = None


def _nudenet_detector() -> Any:
    global _nudenet
    with _lock:
        if _nudenet is None:
            try:
                _nudenet = _new_detector()
            except Exception as exc:  # missing wheel, broken onnxruntime, unreadable model
                raise CheckerUnavailable(f"NudeNet could not start: {exc}") from exc
        return _nudenet


def _new_detector() -> Any:
    """NudeNet's detector (its own model, at its own 320 px) on an ONNX session with torch's
    CPU threads (engine.devices) that do not spin between runs: onnxruntime's default takes
    every core and keeps spinning after each check, slowing the denoising steps around it."""
    import nudenet
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = default_cpu_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = Path(nudenet.__file__).with_name("320n.onnx")
    # NudeDetector.__init__ makes a session with default options and takes none: set what
    # its detect() reads (the same attributes, the same values) with a session of ours
    detector = object.__new__(nudenet.NudeDetector)
    detector.onnx_session = onnxruntime.InferenceSession(
        str(model), options, providers=["CPUExecutionProvider"]
    )
    detector.input_width = detector.input_height = 320
    detector.input_name = detector.onnx_session.get_inputs()[0].name
    return detector


def prepare() -> None:
    """Start NudeNet now (its ONNX session takes a moment): CheckerUnavailable if it cannot."""
    _nudenet_detector()


def detect_nudity(rgb: np.ndarray) -> list[dict[str, Any]]:
    """NudeNet's raw detections for an (H, W, 3|4) uint8 image: class, score, box."""
    rgba = rgb if rgb.shape[2] == 4 else np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    detector = _nudenet_detector()
    with _lock:  # one onnxruntime session, shared by the engine and preview threads
        return detector.detect(np.ascontiguousarray(rgba))


def nudenet_scores(rgb: np.ndarray) -> dict[str, float]:
    """The highest score of each class NudeNet detected in an image."""
    scores: dict[str, float] = {}
    for detection in detect_nudity(rgb):
        label, score = detection["class"], round(float(detection["score"]), 4)
        scores[label] = max(score, scores.get(label, 0.0))
    return scores


# ---- the CLIP safety checker -------------------------------------------------------------

_clip_cache: dict[str, Any] = {}


def find_clip_checker(home: Path | None = None) -> Path | None:
    """A folder under <home>/models/safety/ holding the SD safety checker, if installed.
    Unusable config.json files (not JSON, too deep, a folder or a pipe) are passed over
    with a log line; the search looks at a bounded number of entries."""
    root = models_dir("safety", home)
    for config in _config_files(root):
        try:
            data = read_json_file(config, display_path(config), MAX_CONFIG_BYTES)
        except (OSError, UntrustedInputError) as exc:
            log.warning("safety model config skipped: %s", exc)
            continue
        architectures = data.get("architectures") if isinstance(data, dict) else None
        if isinstance(architectures, list) and CLIP_CHECKER in architectures:
            return config.parent
    return None


def _config_files(root: Path) -> list[Path]:
    """The config.json paths under `root`, at most MAX_SAFETY_DEPTH folders down, without
    following links to folders, sorted; stops after MAX_SAFETY_ENTRIES entries."""
    found, folders, left = [], [(root, 0)], MAX_SAFETY_ENTRIES
    while folders and left > 0:
        folder, depth = folders.pop()
        try:
            with os.scandir(folder) as listing:
                items = list(itertools.islice(listing, left))
        except OSError:
            continue
        left -= len(items)
        for item in items:
            if item.name == "config.json":
                found.append(Path(item.path))
            elif depth < MAX_SAFETY_DEPTH and item.is_dir(follow_symlinks=False):
                folders.append((Path(item.path), depth + 1))
    if left <= 0:
        log.warning("looked for the safety checker in %s only partly: too many files", root)
    return sorted(found)


def _load_clip_checker(folder: Path) -> tuple[Any, Any]:
    key = str(folder)
    if key not in _clip_cache:
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )
        from transformers import CLIPImageProcessor

        processor_dir = folder
        for candidate in (folder, folder.parent / "feature_extractor"):
            if (candidate / "preprocessor_config.json").is_file():
                processor_dir = candidate
                break
        else:
            processor_dir = RESOURCES / "configs" / "sd15" / "feature_extractor"
        checker = StableDiffusionSafetyChecker.from_pretrained(folder, local_files_only=True)
        processor = CLIPImageProcessor.from_pretrained(processor_dir, local_files_only=True)
        _clip_cache[key] = (checker.eval(), processor)
    return _clip_cache[key]


def clip_scores(images: list[np.ndarray], folder: Path) -> list[dict[str, Any]]:
    """The CLIP checker's concept scores per image (> 0 flags), as its forward computes them."""
    import torch

    try:
        checker, processor = _load_clip_checker(folder)
    except Exception as exc:
        raise CheckerUnavailable(f"the CLIP safety checker in {folder} failed: {exc}") from exc
    rgb = [np.ascontiguousarray(image[..., :3]) for image in images]
    with torch.no_grad():
        pixels = processor(images=rgb, return_tensors="pt").pixel_values
        pixels = pixels.to(checker.visual_projection.weight.dtype)
        embeds = checker.visual_projection(checker.vision_model(pixels)[1])
        embeds = torch.nn.functional.normalize(embeds, dim=-1)

        def distance(concepts: torch.Tensor) -> torch.Tensor:
            return embeds @ torch.nn.functional.normalize(concepts, dim=-1).T

        special = distance(checker.special_care_embeds) - checker.special_care_embeds_weights
        concept = distance(checker.concept_embeds) - checker.concept_embeds_weights
        adjust = (special > 0).any(dim=1, keepdim=True).float() * 0.01
        concept = concept + adjust
    results = []
    for row in range(len(images)):
        top = float(concept[row].max())
        results.append({"max_concept_score": round(top, 4), "flagged": bool(top > 0)})
    return results


# ---- the check -----------------------------------------------------------------------------


def check_images(
    images: list[np.ndarray], threshold: float, home: Path | None = None
) -> list[Verdict]:
    """A verdict per (H, W, 3|4) uint8 image: NudeNet always, the CLIP checker if installed.
    Raises CheckerUnavailable when NudeNet cannot run."""
    verdicts = []
    for image in images:
        scores = nudenet_scores(image)
        verdict = Verdict(scores={"nudenet": scores}, checkers=["nudenet"])
        for label, name in EXPOSED.items():
            if scores.get(label, 0.0) >= threshold:
                verdict.flagged = True
                verdict.reasons.append(f"{name} (NudeNet {scores[label]:.2f})")
        verdicts.append(verdict)
    folder = find_clip_checker(home)
    if folder is None:
        for verdict in verdicts:
            verdict.scores["sd_clip_safety_checker"] = "not installed"
    elif images:
        for verdict, clip in zip(verdicts, clip_scores(images, folder), strict=True):
            verdict.checkers.append("sd_clip_safety_checker")
            verdict.scores["sd_clip_safety_checker"] = clip
            if clip["flagged"]:
                verdict.flagged = True
                verdict.reasons.append(
                    f"NSFW concept (CLIP safety checker {clip['max_concept_score']:+.3f})"
                )
    return verdicts


def sample_indices(count: int, samples: int) -> list[int]:
    """`samples` frame indices spread evenly over `count` frames, first and last included."""
    if count <= samples:
        return list(range(count))
    if samples == 1:
        return [count // 2]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def check_frames(
    frames: np.ndarray, threshold: float, samples: int, home: Path | None = None
) -> Verdict:
    """One verdict for a video (T, H, W, 3): flagged when any sampled frame is."""
    indices = sample_indices(len(frames), samples)
    verdicts = check_images([frames[i] for i in indices], threshold, home)
    merged = Verdict(checkers=verdicts[0].checkers if verdicts else ["nudenet"])
    merged.scores = {"frames": indices, "per_frame": [v.scores for v in verdicts]}
    for index, verdict in zip(indices, verdicts, strict=True):
        if verdict.flagged:
            merged.flagged = True
            merged.reasons += [f"frame {index}: {reason}" for reason in verdict.reasons]
    return merged


def obscure(rgb: np.ndarray) -> np.ndarray:
    """The image blurred beyond recognition (same shape and dtype; alpha kept)."""
    from PIL import Image, ImageFilter

    height, width = rgb.shape[:2]
    colour = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    small = colour.resize((max(1, width // 32), max(1, height // 32)), Image.Resampling.BOX)
    big = small.resize((width, height), Image.Resampling.BILINEAR)
    big = big.filter(ImageFilter.GaussianBlur(radius=max(2, max(width, height) // 48)))
    out = np.array(rgb, copy=True)
    out[..., :3] = np.asarray(big)
    return out
