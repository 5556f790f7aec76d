"""Training data made in worker processes beside the model's step.

Each batch depends only on its index (a generator seeded with the run's seed and the
index), so workers may make batches in any order, a resumed run sees the batches it
would have seen, and the result is the same with or without workers. On a GPU the CPU
work (drawing scenes, wording and tokenising captions, drawing noise) took longer than
the step itself; workers take it off the step's path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from torch.utils.data import DataLoader, Dataset


def batch_rng(seed: int, index: int) -> np.random.Generator:
    """The generator behind batch `index` of a run seeded with `seed`."""
    return np.random.default_rng([seed, index])


def worker_count(device: str) -> int:
    """None on the CPU (the model's step wants every core); most of the cores beside a GPU."""
    if device == "cpu":
        return 0
    return max(1, min(12, (os.cpu_count() or 2) - 2))


def step_loader(dataset: Dataset, indices: Iterable[int], workers: int) -> DataLoader:
    """Yields dataset[i] for each i in `indices`, in order, made by `workers` processes."""
    return DataLoader(
        dataset,
        batch_size=None,
        sampler=indices,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
    )
