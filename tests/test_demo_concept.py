"""The LoRA proof's new concept: the crescent photo folder, its held-out prompts and its
scorer agree with each other and keep away from the built-in model's known shapes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from demo_model.captions import POSITION_WORDS, normalize
from demo_model.concept_photos import (
    EMBLEM_COLORS,
    Emblem,
    held_out_prompts,
    render_emblem_scene,
    write_concept_folder,
)
from demo_model.concept_scoring import MARGIN, concept_present, concept_scores, outlines
from demo_model.scenes import PALETTE, POSITIONS, SIZES, Scene, Shape, random_scene, render
from plugins.lora_training.folder_check import check_folder
from plugins.lora_training.photo_prep import prepare_photos


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_the_same_seed_writes_the_same_folder(tmp_path: Path):
    write_concept_folder(tmp_path / "a", seed=3)
    write_concept_folder(tmp_path / "b", seed=3)
    write_concept_folder(tmp_path / "c", seed=4)
    assert _folder_bytes(tmp_path / "a") == _folder_bytes(tmp_path / "b")
    assert _folder_bytes(tmp_path / "a") != _folder_bytes(tmp_path / "c")


def test_folder_holds_photos_of_varied_frames_and_formats_half_captioned(tmp_path: Path):
    photos = write_concept_folder(tmp_path, trigger="zqx", count=16, seed=0)
    assert len(photos) == 16 and all(p.exists() for p in photos)
    assert {p.suffix for p in photos} == {".jpg", ".png"}
    captions = [p.with_suffix(".txt") for p in photos if p.with_suffix(".txt").exists()]
    assert len(captions) == 8
    shapes = [cv2.imread(str(p)).shape[:2] for p in photos]
    assert all(256 <= min(s) <= 512 and max(s) <= 640 for s in shapes)
    assert any(h != w for h, w in shapes) and any(h == w for h, w in shapes)
    for path in captions:
        text = path.read_text(encoding="utf-8").strip()
        assert " zqx " in f" {text} " and " background" in text
        assert any(colour in text.split() for colour in EMBLEM_COLORS)


def test_the_training_jobs_folder_check_uses_every_photo_and_caption(tmp_path: Path):
    photos = write_concept_folder(tmp_path, count=18, seed=2)
    report = check_folder(tmp_path, min_side=64)
    assert [p.path.name for p in report.photos] == [p.name for p in photos]
    assert not report.problems
    assert sum(p.caption is not None for p in report.photos) == 9


@pytest.mark.parametrize("crop", ["center", "saliency"])
def test_the_jobs_crops_keep_the_crescent_whole_in_the_captioned_place(tmp_path: Path, crop: str):
    write_concept_folder(tmp_path, count=16, seed=1)
    report = check_folder(tmp_path, min_side=64)
    for photo in prepare_photos(report.photos, 128, crop, "zqx", "emblem"):
        found = [o for o in outlines(photo.pixels) if o.margin > MARGIN]
        assert len(found) == 1, photo.source.name
        if photo.caption != "zqx emblem":
            said = photo.caption.split("zqx ", 1)[1]
            phrases = [(w, p) for p, words in POSITION_WORDS.items() for w in words]
            _, place = max((len(w), p) for w, p in phrases if said.startswith(w))
            assert found[0].position == place, photo.caption


def test_held_out_prompts_are_seeded_and_never_a_training_caption(tmp_path: Path):
    prompts = held_out_prompts("zqx", 40, seed=5)
    assert prompts == held_out_prompts("zqx", 40, seed=5)
    assert prompts != held_out_prompts("zqx", 40, seed=6)
    captions = set()
    for seed in range(6):
        for path in write_concept_folder(tmp_path / str(seed), count=16, seed=seed):
            if path.with_suffix(".txt").exists():
                captions.add(normalize(path.with_suffix(".txt").read_text(encoding="utf-8")))
    for text, expected in prompts:
        assert normalize(text) not in captions
        assert " zqx " in f" {text} " and expected["color"] in EMBLEM_COLORS
        assert text.endswith(f"on a {expected['background']} background")
        assert expected["position"] in POSITIONS and expected["color"] != expected["background"]


def _emblem_pictures(count: int, blur: float) -> list[tuple[np.ndarray, dict]]:
    rng = np.random.default_rng(9)
    pictures = []
    for index in range(count):
        background = str(rng.choice(list(PALETTE)))
        colour = str(rng.choice([c for c in PALETTE if c != background]))
        place = list(POSITIONS)[index % len(POSITIONS)]
        angle = float(rng.uniform(-15, 15))
        picture = render_emblem_scene(background, Emblem(colour, SIZES[index % 3], place, angle))
        if blur:
            picture = cv2.GaussianBlur(picture, (0, 0), blur)
        pictures.append((picture, {"color": colour, "position": place, "background": background}))
    return pictures


@pytest.mark.parametrize("blur", [0.0, 2.0])
def test_scorer_finds_the_crescent_its_colour_and_place(blur: float):
    for picture, expected in _emblem_pictures(27, blur):
        assert concept_scores(picture, expected) == {
            "present": True,
            "color": True,
            "position": True,
            "background": True,
        }


def test_scorer_takes_rgba_and_notices_a_wrong_place():
    picture, expected = _emblem_pictures(1, 0.0)[0]
    rgba = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
    wrong = {
        **expected,
        "position": "bottom right" if expected["position"] != "bottom right" else "top",
    }
    scores = concept_scores(rgba, wrong)
    assert scores["present"] and not scores["position"]


@pytest.mark.parametrize("blur", [0.0, 2.0])
def test_scorer_never_sees_a_crescent_among_known_shapes(blur: float):
    rng = np.random.default_rng(17)
    for _ in range(60):
        picture = render(random_scene(rng, 3))
        if blur:
            picture = cv2.GaussianBlur(picture, (0, 0), blur)
        assert not concept_present(picture)


def test_scorer_finds_the_crescent_beside_a_known_shape_and_not_the_shape_alone():
    star = (Shape("star", "blue", "large", "right"),)
    expected = {"color": "red", "position": "left", "background": "white"}
    both = render_emblem_scene("white", Emblem("red", "medium", "left", 10.0), star)
    assert concept_scores(both, expected) == dict.fromkeys(expected | {"present": 0}, True)
    assert not concept_present(render(Scene("white", star)))
