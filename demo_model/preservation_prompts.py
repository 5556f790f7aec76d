"""The built-in model's list of prompts that LoRA training's prior preservation keeps
(plugins/lora_training/preservation_prompts.py): captions of its own training grammar, from
the training side only, so the benchmark's held-out captions are never among them.

    python -m demo_model.preservation_prompts   # writes it into the shipped model folder
"""

from __future__ import annotations

import itertools
from pathlib import Path

from engine.home import RESOURCES
from plugins.lora_training.preservation_prompts import LIST_FILE

from .captions import pairs

PROMPTS, SEED = 200, 424242
HEADER = "# Captions of the built-in model's training grammar (demo_model/preservation_prompts.py)"


def kept_prompts(count: int = PROMPTS, seed: int = SEED) -> list[str]:
    """`count` seeded training-side captions, in the order they are drawn."""
    return [caption.text for _, caption in itertools.islice(pairs(seed, held_out=False), count)]


def write_list(folder: Path) -> Path:
    """Write the list into the model folder `folder`; its path."""
    path = folder / LIST_FILE
    path.write_text("\n".join([HEADER, *kept_prompts()]) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_list(RESOURCES / "models" / "atelier-demo"))
