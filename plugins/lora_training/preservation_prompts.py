"""The everyday prompts prior preservation by the base model's output also keeps.

Preserving only the photos' own captions with the subject made generic keeps prompts that
read like the photos' captions; other prompts still drift (on the built-in model, 19 points
of its colour, shape and position scores). So each photo is also paired with
`TrainingSettings.prior_prompts` prompts of a list, and the adapter is trained to leave the
base model's prediction for them as it was. A model folder may ship its own list
(`preservation_prompts.txt`, one prompt a line: the built-in model's are captions of its own
training grammar); others use Atelier's generic list beside this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

LIST_FILE = "preservation_prompts.txt"
GENERIC_LIST = Path(__file__).with_name(LIST_FILE)


def preservation_prompts(model_path: Path) -> list[str]:
    """The list of the model at `model_path`: its folder's own, else the generic one.
    ValueError with a sentence when the list cannot be read."""
    own = model_path / LIST_FILE
    path = own if own.is_file() else GENERIC_LIST
    try:
        return read_prompts(path)
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(
            f"The prompts prior preservation keeps cannot be read from {path} ({e}); "
            "fix the file (UTF-8 text, one prompt a line) or remove it."
        ) from None


def read_prompts(path: Path) -> list[str]:
    """One prompt a line; blank lines and lines starting with # left out."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def prompts_for(prompts: Sequence[str], photo: int, count: int) -> list[str]:
    """The `count` prompts paired with photo number `photo`: the list's next ones in turn,
    from the start again past its end, so photos get different ones while the list lasts."""
    if not prompts:
        return []
    return [prompts[(photo * count + i) % len(prompts)] for i in range(count)]
