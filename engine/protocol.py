"""The values that cross the engine thread boundary: outputs, events, errors, handles.

Importable without torch or Qt (DESIGN.md rule 3): only frozen dataclasses and numpy arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

ErrorKind = Literal["oom", "missing_model", "invalid_input", "blocked_by_safety", "internal"]


@dataclass(frozen=True, eq=False)
class ImageData:
    """An RGBA image (H, W, 4 uint8) and the metadata that describes how it was made."""

    pixels: np.ndarray
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.pixels
        if p.dtype != np.uint8 or p.ndim != 3 or p.shape[2] != 4:
            raise ValueError(f"ImageData needs (H, W, 4) uint8 pixels, got {p.shape} {p.dtype}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]


@dataclass(frozen=True, eq=False)
class MaskData:
    """A single-channel mask (H, W uint8, 255 = selected)."""

    pixels: np.ndarray
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class AudioData:
    """Audio samples (C, N float32 in [-1, 1]) at a sample rate."""

    samples: np.ndarray
    rate: int
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class VideoData:
    """Video frames (T, H, W, 3 uint8) at a frame rate."""

    frames: np.ndarray
    fps: float
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class ModelData:
    """A model a job made (a trained LoRA), to be written as one `.safetensors` file: its
    tensors by name (numpy, e.g. float16), the file's string metadata, and a picture of
    what it makes (checked and watermarked by the safety step like every image output)."""

    tensors: Mapping[str, np.ndarray]
    metadata: Mapping[str, str] = field(default_factory=dict)
    thumbnail: ImageData | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


Output = ImageData | MaskData | AudioData | VideoData | ModelData


@dataclass(frozen=True)
class JobQueued:
    job_id: int
    position: int  # jobs ahead of it
    preparing: bool = False  # it also waits for the engine to warm up (Engine.warm_up)


@dataclass(frozen=True)
class JobStarted:
    job_id: int


@dataclass(frozen=True)
class JobProgress:
    job_id: int
    fraction: float
    stage: str
    preview: ImageData | None = None
    # numbers a panel may plot or show, by name (a training job's "step", "steps",
    # "loss", "eta_s"; a music job's "seconds" made of "total_s"); empty for most jobs
    metrics: Mapping[str, float] = field(default_factory=dict)
    # the sound made so far, from its start (a music job's finished seconds), to play
    # before the job ends; sent at the pace previews are shown, not watermarked (it is
    # no output: the finished job's output is)
    audio: AudioData | None = None


@dataclass(frozen=True)
class JobFinished:
    job_id: int
    outputs: tuple[Output, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobFailed:
    job_id: int
    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class JobCancelled:
    job_id: int


Event = JobQueued | JobStarted | JobProgress | JobFinished | JobFailed | JobCancelled
TERMINAL_EVENTS = (JobFinished, JobFailed, JobCancelled)


@dataclass(frozen=True)
class TaskResult:
    """What a task's run function returns."""

    outputs: tuple[Output, ...]
    warnings: tuple[str, ...] = ()


class JobError(Exception):
    """A failure a designer can act on; becomes a JobFailed event, never a crash."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


class JobCancelledError(Exception):
    """Raised inside a running job when its cancel was requested."""


@dataclass(frozen=True)
class JobHandle:
    """A submitted job: its id and a future that resolves to its terminal event."""

    id: int
    future: Future = field(compare=False)


_job_ids = itertools.count(1)


def next_job_id() -> int:
    """Job ids are unique across all engines of the process."""
    return next(_job_ids)
