"""A procedural "photo folder" of a concept the built-in model never saw: a crescent emblem.

The LoRA proof (issue 17) trains on these pictures and asks for the emblem by a trigger
word. Each photo shows one crescent (sometimes with one known shape in another place) in
one of a few colours, sizes and places, rotated by up to 15 degrees, on a plain palette
background lit a little unevenly. Photos are 256 to 512 px, half padded to a landscape or
portrait frame around the square scene (any square crop keeps the shapes), some JPEG
and some PNG, about half with a caption file in the built-in model's grammar ("a red zqx
at the top left on a blue background"), the rest left to the training job's
"<trigger> <class>" caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .captions import KIND_WORDS, POSITION_WORDS, SIZE_WORDS, is_held_out
from .scenes import KINDS, PALETTE, POSITIONS, SIZES, SUPERSAMPLE, Scene, Shape, render

CLASS_WORD = "emblem"  # the class the training job is given for this concept
EMBLEM_COLORS: tuple[str, ...] = ("red", "yellow", "blue", "green", "purple")
# Outer radius of the crescent as a fraction of the image side: a little larger than a
# known shape of the same size word, so its bay survives the VAE's 8x downsampling.
EMBLEM_SIZE: dict[str, float] = {"small": 0.1, "medium": 0.12, "large": 0.14}
MAX_ANGLE = 15.0  # degrees either way
# The bite: a disc of this radius (relative to the outer one) this far off centre.
_BITE_RADIUS, _BITE_OFFSET = 0.8, 0.6
LIGHT = 14.0  # grey levels of uneven lighting at a photo's edge (invisible to the scorer)
_CELL_MARGIN = 0.015  # fraction of the image kept free at a grid cell's border
HELD_OUT_FRACTION = 0.25  # share of caption texts reserved for held-out prompts
_SCENE_FORMS = ("{shapes} on a {bg} background", "a {bg} background with {shapes}")
_SQUARE_SIDES = (256, 320, 384, 448, 512)
# width:height around the scene square: near square, so a 128 px run buckets them square
# and a crop anywhere in the frame moves the scene by at most an eighth of its side
_FRAMES = ((1, 1), (1, 1), (5, 4), (4, 5))


def crescent_outline(angle: float = 0.0, points: int = 48) -> np.ndarray:
    """(N, 2) polygon of a crescent of outer radius 1 opening to the right, turned by
    `angle` degrees (counter-clockwise on screen), centred on its bounding box."""
    tip_x = (1 - _BITE_RADIUS**2 + _BITE_OFFSET**2) / (2 * _BITE_OFFSET)
    tip_y = np.sqrt(1 - tip_x**2)
    outer_from = np.arctan2(tip_y, tip_x)
    inner_from = np.arctan2(tip_y, tip_x - _BITE_OFFSET)
    outer = np.linspace(outer_from, 2 * np.pi - outer_from, points)
    inner = np.linspace(2 * np.pi - inner_from, inner_from, points)
    xy = np.concatenate(
        [
            np.stack([np.cos(outer), np.sin(outer)], axis=1),
            np.stack(
                [_BITE_OFFSET + _BITE_RADIUS * np.cos(inner), _BITE_RADIUS * np.sin(inner)],
                axis=1,
            ),
        ]
    )
    xy[:, 0] -= (xy[:, 0].min() + xy[:, 0].max()) / 2
    turn = np.deg2rad(angle)
    rotation = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    return xy @ rotation.T


# How far the crescent reaches from its centre at any turn, relative to its outer radius.
REACH = float(np.hypot(*crescent_outline().T).max())


def fill_emblem(
    image: np.ndarray, cx: float, cy: float, radius: float, angle: float, value
) -> None:
    """Fill an anti-aliased crescent centred at (cx, cy) pixels with outer radius `radius`."""
    polygon = crescent_outline(angle) * radius + (cx, cy)
    cv2.fillPoly(image, [np.round(polygon * 16).astype(np.int32)], value, cv2.LINE_AA, shift=4)


@dataclass(frozen=True)
class Emblem:
    """One crescent: colour, size word, grid place, turn (degrees) and centre offset in
    its cell (fractions of the image side)."""

    color: str
    size: str
    position: str
    angle: float = 0.0
    jitter: tuple[float, float] = (0.0, 0.0)


def render_emblem_scene(
    background: str, emblem: Emblem, others: tuple[Shape, ...] = (), side: int = 128
) -> np.ndarray:
    """(side, side, 3) uint8 RGB picture: known shapes drawn by scenes.render, the crescent
    over them, both supersampled."""
    picture = render(Scene(background, others), size=side).astype(np.float32)
    big = side * SUPERSAMPLE
    column, row = POSITIONS[emblem.position]
    cx = ((column + 0.5) / 3 + emblem.jitter[0]) * big
    cy = ((row + 0.5) / 3 + emblem.jitter[1]) * big
    mask = np.zeros((big, big), np.uint8)
    fill_emblem(mask, cx, cy, EMBLEM_SIZE[emblem.size] * big, emblem.angle, 255)
    cover = cv2.resize(mask, (side, side), interpolation=cv2.INTER_AREA)[..., None] / 255.0
    picture = picture * (1 - cover) + np.float32(PALETTE[emblem.color]) * cover
    return np.round(picture).astype(np.uint8)


@dataclass(frozen=True)
class ConceptPhoto:
    """One photo of the folder: its scene, frame size in pixels and file format."""

    background: str
    emblem: Emblem
    others: tuple[Shape, ...]
    width: int
    height: int
    suffix: str  # ".jpg" or ".png"
    light: float = 0.0  # levels added at the left edge, taken away at the right (a lamp)


def _random_emblem(rng: np.random.Generator, background: str, position: str) -> Emblem:
    color = str(rng.choice([c for c in EMBLEM_COLORS if c != background]))
    size = str(rng.choice(SIZES))
    slack = max(0.0, 1 / 6 - _CELL_MARGIN - EMBLEM_SIZE[size] * REACH)
    dx, dy = (float(v) for v in rng.uniform(-slack, slack, size=2))
    angle = float(rng.uniform(-MAX_ANGLE, MAX_ANGLE))
    return Emblem(color, size, position, angle, (dx, dy))


def random_photo(rng: np.random.Generator, background: str, light: float = 0.0) -> ConceptPhoto:
    """Draw one photo on `background`: a frame, the crescent, in a third of photos a known
    shape elsewhere, and a file format. In a landscape frame the shapes stand in the middle
    column, in a portrait one in the middle row: a square crop anywhere in the frame then
    holds them whole, each in the place its caption names."""
    side = int(rng.choice(_SQUARE_SIDES))
    across, down = _FRAMES[int(rng.integers(len(_FRAMES)))]
    width, height = (side * n // min(across, down) for n in (across, down))
    places = [str(p) for p in rng.permutation(list(POSITIONS))]
    if across != down:
        axis = 0 if across > down else 1
        places = [p for p in places if POSITIONS[p][axis] == 1]
    emblem = _random_emblem(rng, background, places[0])
    others: tuple[Shape, ...] = ()
    if rng.random() < 1 / 3:
        color = str(rng.choice([c for c in PALETTE if c not in (background, emblem.color)]))
        others = (Shape(str(rng.choice(KINDS)), color, str(rng.choice(SIZES)), places[1]),)
    suffix = ".jpg" if rng.random() < 0.5 else ".png"
    return ConceptPhoto(background, emblem, others, width, height, suffix, light)


def photo_pixels(photo: ConceptPhoto) -> np.ndarray:
    """(height, width, 3) uint8 RGB: the square scene centred in the photo's frame, lit
    unevenly from one side."""
    side = min(photo.width, photo.height)
    scene = render_emblem_scene(photo.background, photo.emblem, photo.others, side)
    canvas = np.empty((photo.height, photo.width, 3), np.float32)
    canvas[:] = PALETTE[photo.background]
    top, left = (photo.height - side) // 2, (photo.width - side) // 2
    canvas[top : top + side, left : left + side] = scene
    canvas += photo.light * np.linspace(1, -1, photo.width, dtype=np.float32)[None, :, None]
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def emblem_phrase(emblem: Emblem, trigger: str, rng: np.random.Generator, sized: bool) -> str:
    """'a [size] colour trigger place', worded the way the built-in model's captions are."""
    words = ([_pick(rng, SIZE_WORDS[emblem.size])] if sized else []) + [emblem.color, trigger]
    return _article(" ".join(words)) + " " + _pick(rng, POSITION_WORDS[emblem.position])


def _shape_phrase(shape: Shape, rng: np.random.Generator) -> str:
    words = (_pick(rng, SIZE_WORDS[shape.size or "medium"]), shape.color)
    noun = _pick(rng, KIND_WORDS[shape.kind])
    return _article(" ".join((*words, noun))) + " " + _pick(rng, POSITION_WORDS[shape.position])


def photo_caption(photo: ConceptPhoto, trigger: str, rng: np.random.Generator) -> str:
    """A caption for a photo in the built-in model's grammar, the trigger as the noun."""
    parts = [emblem_phrase(photo.emblem, trigger, rng, sized=bool(rng.random() < 0.7))]
    parts += [_shape_phrase(shape, rng) for shape in photo.others]
    form = _pick(rng, _SCENE_FORMS)
    return form.format(shapes=" and ".join(parts), bg=photo.background)


def _backgrounds(rng: np.random.Generator, count: int) -> list[tuple[str, float]]:
    """(background, light) for `count` photos: each colour once before any twice, its second
    photo lit from the other side. Flat pictures of one colour with a small emblem look alike
    to a difference hash; the lamp's side tells them apart, so the training job's
    near-duplicate check keeps up to 18 photos."""
    rounds = -(-count // len(PALETTE))
    order = [
        (str(c), LIGHT * (-1) ** r) for r in range(rounds) for c in rng.permutation(list(PALETTE))
    ]
    return order[:count]


def write_concept_folder(
    folder: Path, trigger: str = "zqx", count: int = 16, seed: int = 0
) -> list[Path]:
    """Write `count` seeded photos (and captions for half of them) into `folder`; returns
    the photos' paths. No caption is a held-out prompt's text (see held_out_prompts)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    captioned = set(rng.permutation(count)[: count // 2].tolist())
    paths = []
    for index, (background, light) in enumerate(_backgrounds(rng, count)):
        photo = random_photo(rng, background, light)
        path = folder / f"photo_{index:02d}{photo.suffix}"
        bgr = cv2.cvtColor(photo_pixels(photo), cv2.COLOR_RGB2BGR)
        options = [cv2.IMWRITE_JPEG_QUALITY, 92] if photo.suffix == ".jpg" else []
        cv2.imwrite(str(path), bgr, options)
        if index in captioned:
            text = photo_caption(photo, trigger, rng)
            while is_held_out(text, HELD_OUT_FRACTION):
                text = photo_caption(photo, trigger, rng)
            path.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def held_out_prompts(trigger: str, count: int, seed: int) -> list[tuple[str, dict]]:
    """`count` prompts asking for the crescent by its trigger ('a yellow zqx at the bottom
    right on a green background') with what they ask for (color, position, background).
    Their texts are held out: write_concept_folder never writes one as a caption."""
    rng = np.random.default_rng(seed)
    prompts = []
    while len(prompts) < count:
        background = str(rng.choice(list(PALETTE)))
        emblem = _random_emblem(rng, background, str(rng.choice(list(POSITIONS))))
        phrase = emblem_phrase(emblem, trigger, rng, sized=bool(rng.random() < 0.5))
        text = f"{phrase} on a {background} background"
        if is_held_out(text, HELD_OUT_FRACTION):
            expected = {
                "color": emblem.color,
                "position": emblem.position,
                "background": background,
            }
            prompts.append((text, expected))
    return prompts
