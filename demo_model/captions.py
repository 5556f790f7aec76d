"""Varied natural-language captions for scenes, and a held-out split for evaluation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from .scenes import Scene, Shape, random_scene

SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "medium": ("medium", "medium-sized", "mid-sized"),
    "large": ("large", "big", "huge"),
}
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "circle", "disc", "dot"),
    "square": ("square", "square", "box"),
    "triangle": ("triangle",),
    "star": ("star",),
}
POSITION_WORDS: dict[str, tuple[str, ...]] = {
    "top left": ("at the top left", "in the top left corner", "in the upper left", "top-left"),
    "top right": ("at the top right", "in the top right corner", "in the upper right", "top-right"),
    "bottom left": ("at the bottom left", "in the bottom left corner", "in the lower left"),
    "bottom right": ("at the bottom right", "in the bottom right corner", "in the lower right"),
    "top": ("at the top", "at the top center", "at the top middle", "in the upper middle"),
    "bottom": ("at the bottom", "at the bottom center", "in the lower middle"),
    "left": ("on the left", "at the middle left", "on the left side"),
    "right": ("on the right", "at the middle right", "on the right side"),
    "center": ("in the center", "in the middle", "in the centre", "centered"),
}
_SCENE_TEMPLATES = (
    "{shapes} on a {bg} background",
    "a {bg} background with {shapes}",
    "{shapes}, {bg} background",
    "{shapes} against a {bg} backdrop",
    "{bg} background, {shapes}",
    "an illustration of {shapes} on {bg}",
    "{shapes} on a plain {bg} background",
    "flat illustration: {shapes}, {bg} background",
    "{shapes} on {bg}",
)
_JOINS_2 = ("{0} and {1}", "{0} next to {1}", "{0} with {1}", "{0}, {1}")
_JOINS_3 = ("{0}, {1} and {2}", "{0}, {1}, and {2}", "{0} with {1} and {2}")
# Per-shape phrase forms: which attributes are said and in what order.
_SHAPE_FORMS = (
    ("size", "color", "kind", "pos"),
    ("size", "color", "kind", "pos"),
    ("color", "kind", "pos"),
    ("size", "color", "kind"),
    ("color", "kind"),
    ("color", "kind", "pos"),
)


@dataclass(frozen=True)
class Caption:
    """A caption's text, its template key, and the scene as described (unsaid fields None)."""

    text: str
    template: str
    described: Scene


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> tuple[int, str]:
    index = int(rng.integers(len(options)))
    return index, options[index]


def _shape_phrase(shape: Shape, rng: np.random.Generator) -> tuple[str, str, Shape]:
    form_index = int(rng.integers(len(_SHAPE_FORMS)))
    form = _SHAPE_FORMS[form_index]
    words = []
    for part in form:
        if part == "size":
            words.append(_pick(rng, SIZE_WORDS[shape.size or "medium"])[1])
        elif part == "color":
            words.append(shape.color)
        elif part == "kind":
            words.append(_pick(rng, KIND_WORDS[shape.kind])[1])
    text = _article(" ".join(words))
    if "pos" in form:
        text += " " + _pick(rng, POSITION_WORDS[shape.position or "center"])[1]
    said = replace(
        shape,
        size=shape.size if "size" in form else None,
        position=shape.position if "pos" in form else None,
    )
    return text, f"s{form_index}", said


def describe(scene: Scene, rng: np.random.Generator) -> Caption:
    """Caption a scene with varied wording; deterministic for a given rng state."""
    phrases = [_shape_phrase(shape, rng) for shape in scene.shapes]
    texts = [p[0] for p in phrases]
    joins = {1: ("{0}",), 2: _JOINS_2, 3: _JOINS_3}[len(texts)]
    join_index, join = _pick(rng, joins)
    template_index, template = _pick(rng, _SCENE_TEMPLATES)
    text = template.format(shapes=join.format(*texts), bg=scene.background)
    key = f"t{template_index}-j{join_index}-" + "-".join(p[1] for p in phrases)
    described = Scene(scene.background, tuple(p[2] for p in phrases))
    return Caption(text, key, described)


def caption(scene: Scene, rng: np.random.Generator) -> str:
    """Caption text for a scene (see describe)."""
    return describe(scene, rng).text


def normalize(text: str) -> str:
    """Lower-case, single-spaced caption text, as used for the held-out rule."""
    return re.sub(r"\s+", " ", text.strip().lower())


def is_held_out(text: str, fraction: float = 0.05) -> bool:
    """Whether a caption text is reserved for evaluation (a stable hash of its text)."""
    digest = hashlib.sha256(normalize(text).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def held_out_split(captions: list[str], fraction: float = 0.05) -> tuple[list[str], list[str]]:
    """Split caption texts into (train, held_out) by the held-out rule."""
    train = [c for c in captions if not is_held_out(c, fraction)]
    held = [c for c in captions if is_held_out(c, fraction)]
    return train, held


def pairs(
    seed: int, held_out: bool, max_shapes: int = 3, fraction: float = 0.05
) -> Iterator[tuple[Scene, Caption]]:
    """Endless seeded (scene, caption) pairs from the training or the held-out side only."""
    rng = np.random.default_rng(seed)
    while True:
        scene = random_scene(rng, max_shapes)
        described = describe(scene, rng)
        if is_held_out(described.text, fraction) == held_out:
            yield scene, described
