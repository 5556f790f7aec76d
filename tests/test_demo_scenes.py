"""The demo model's procedural scenes, captions and automatic scorer agree with each other."""

from __future__ import annotations

import itertools
from dataclasses import replace
from itertools import islice

import cv2
import numpy as np
import pytest

from demo_model.captions import KIND_WORDS, describe, held_out_split, is_held_out, pairs
from demo_model.scenes import KINDS, PALETTE, Scene, random_scene, render
from demo_model.scoring import score


def test_palette_colours_are_far_apart():
    distances = [
        np.linalg.norm(np.subtract(PALETTE[a], PALETTE[b]))
        for a, b in itertools.combinations(PALETTE, 2)
    ]
    assert min(distances) > 100


def test_scenes_images_and_captions_are_deterministic_for_a_seed():
    def draw(seed: int) -> list[tuple[Scene, str, bytes]]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(20):
            scene = random_scene(rng, 3)
            out.append((scene, describe(scene, rng).text, render(scene).tobytes()))
        return out

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_render_shape_and_dtype():
    image = render(random_scene(np.random.default_rng(0), 3), size=96)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8


@pytest.fixture(scope="module")
def rendered() -> list[tuple[Scene, np.ndarray]]:
    rng = np.random.default_rng(123)
    return [(scene, render(scene)) for scene in (random_scene(rng, 3) for _ in range(300))]


def test_scorer_scores_rendered_scenes_as_right(rendered):
    totals: dict[str, list[bool]] = {}
    for scene, image in rendered:
        for key, ok in score(image, scene).items():
            totals.setdefault(key, []).append(ok)
    assert {"background", "color", "shape", "position", "count", "all_shapes"} <= set(totals)
    for key, oks in totals.items():
        assert np.mean(oks) >= 0.98, (key, np.mean(oks))
    assert len(totals["all_shapes"]) > 50
    fully = [all(score(image, scene).values()) for scene, image in rendered]
    assert np.mean(fully) >= 0.98


def test_scorer_rejects_a_wrong_scene(rendered):
    colors = list(PALETTE)
    for scene, image in rendered[:60]:
        other_bg = next(c for c in colors if c not in (scene.background, scene.shapes[0].color))
        assert not score(image, replace(scene, background=other_bg))["background"]
        first = scene.shapes[0]
        other_kind = next(k for k in KINDS if k != first.kind)
        shapes = (replace(first, kind=other_kind),) + scene.shapes[1:]
        assert not score(image, replace(scene, shapes=shapes))["shape"]
        extra = scene.shapes + (replace(first, position=None),)
        assert not score(image, replace(scene, shapes=extra))["count"]


def test_captions_vary_and_name_every_colour_and_kind():
    rng = np.random.default_rng(5)
    texts, templates = set(), set()
    for _ in range(200):
        scene = random_scene(rng, 3)
        described = describe(scene, rng)
        text = described.text
        texts.add(text)
        templates.add(described.template.split("-")[0])
        templates.add(described.template)
        assert scene.background in text
        for shape in scene.shapes:
            assert shape.color in text
            assert any(word in text for word in KIND_WORDS[shape.kind]), (text, shape)
        # The described scene keeps colours and kinds, and drops only what was left unsaid.
        for said, shape in zip(described.described.shapes, scene.shapes, strict=True):
            assert (said.color, said.kind) == (shape.color, shape.kind)
            assert said.position in (None, shape.position) and said.size in (None, shape.size)
    assert len(texts) >= 190
    assert len(templates) >= 100
    words = " ".join(texts)
    for synonym in ("big", "large", "middle", "center", "next to", "background with"):
        assert synonym in words


def test_rendered_scenes_score_right_against_their_described_scene():
    rng = np.random.default_rng(9)
    for _ in range(50):
        scene = random_scene(rng, 3)
        assert all(score(render(scene), describe(scene, rng).described).values())


def test_the_scorer_reads_kinds_through_soft_edges():
    """Generated pictures have soft edges (a blur stands in for them): kinds still read."""
    rng = np.random.default_rng(4)
    kinds = []
    for _ in range(150):
        scene = random_scene(rng, 2)
        checks = score(cv2.GaussianBlur(render(scene), (0, 0), 1.5), scene)
        kinds.append(checks["shape"] and checks["color"] and checks["position"])
    assert np.mean(kinds) >= 0.95


def test_held_out_captions_never_appear_in_training():
    train = {c.text for _, c in islice(pairs(seed=1, held_out=False), 3000)}
    held = {c.text for _, c in islice(pairs(seed=2, held_out=True), 100)}
    assert len(held) == 100
    assert not held & train
    assert all(is_held_out(t) for t in held) and not any(is_held_out(t) for t in train)
    split_train, split_held = held_out_split(sorted(train | held))
    assert set(split_held) == held and set(split_train) == train
