"""Buckets and crops of LoRA training photos (plugins/lora_training/photo_prep.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from plugins.lora_training.folder_check import Photo
from plugins.lora_training.photo_prep import (
    _face_detector,
    bucket_for,
    buckets,
    crop_around,
    crop_box,
    face_focus,
    find_faces,
    prepare_photos,
    saliency,
)


@pytest.mark.parametrize("resolution", [128, 512, 768, 1024])
def test_buckets_follow_the_rules(resolution):
    found = buckets(resolution)
    assert (resolution, resolution) in found
    aspects = [Fraction(w, h) for w, h in found]
    assert aspects == sorted(set(aspects))  # one bucket for each aspect, tallest first
    for width, height in found:
        assert width % 64 == 0 and height % 64 == 0 and min(width, height) >= 64
        assert width * height <= resolution * resolution
        assert Fraction(1, 2) <= Fraction(width, height) <= 2
        assert (height, width) in found


def test_buckets_for_the_builtin_model_and_sdxl():
    assert buckets(128) == [(64, 128), (128, 128), (128, 64)]
    sdxl = buckets(1024)
    assert (1216, 832) in sdxl and (1408, 704) in sdxl
    assert (1280, 640) not in sdxl  # the same aspect as 1408x704, smaller
    with pytest.raises(ValueError, match="multiple of 64"):
        buckets(100)


def test_bucket_for_picks_the_nearest_aspect():
    choices = buckets(512)
    assert bucket_for(1000, 1000, choices) == (512, 512)
    assert bucket_for(3000, 1000, choices) == (640, 320)
    assert bucket_for(1000, 3000, choices) == (320, 640)
    assert bucket_for(600, 400, choices) == (640, 384)
    assert bucket_for(400, 600, choices) == (384, 640)


def test_crop_around_is_the_largest_box_of_the_aspect_near_the_focus():
    assert crop_around(600, 300, 1.0, (300, 150)) == (150, 0, 300, 300)
    assert crop_around(600, 300, 1.0, (580, 10)) == (300, 0, 300, 300)  # kept inside
    assert crop_around(600, 300, 1.0, (200, 150)) == (50, 0, 300, 300)
    assert crop_around(300, 600, 1.0, (150, 100)) == (0, 0, 300, 300)
    assert crop_around(300, 600, 2.0, (150, 450)) == (0, 375, 300, 150)
    assert crop_around(400, 300, 0.5, (200, 150)) == (125, 0, 150, 300)


def test_face_crop_keeps_the_face_with_hair_and_chin():
    face = (40, 300, 100, 100)  # a face low in a tall picture
    fx, fy = face_focus([face], 400, 800)
    assert fx == pytest.approx(90)
    assert fy == pytest.approx((300 - 50 + 400 + 30) / 2)
    x, y, w, h = crop_around(400, 800, 1.0, (fx, fy))
    assert (x, w) == (0, 400)
    assert y <= 300 - 50 and y + h >= 400 + 30  # hair above and chin below are inside
    # two faces: the crop is centred on their union
    fx, _ = face_focus([(40, 300, 100, 100), (260, 300, 100, 100)], 400, 800)
    assert fx == pytest.approx(200)


def test_saliency_crop_keeps_an_off_centre_object():
    rng = np.random.default_rng(0)
    pixels = rng.normal(60, 12, (300, 600, 3)).clip(0, 255).astype(np.uint8)
    pixels[120:170, 500:550] = (250, 230, 40)
    salient = saliency(pixels)
    assert salient.shape == (300, 600) and salient.dtype == np.float32
    assert salient[145, 525] > 4 * salient[145, 100]
    (x, y, w, h), how = crop_box(pixels, 1.0, "saliency")
    assert how == "saliency" and (w, h) == (300, 300)
    assert x <= 500 and x + w >= 550
    (x, _, _, _), how = crop_box(pixels, 1.0, "center")
    assert how == "center" and x == 150  # the centre crop would cut it off


def test_unknown_crop_mode_is_refused():
    with pytest.raises(ValueError, match="auto, face, saliency, center"):
        crop_box(np.zeros((64, 64, 3), np.uint8), 1.0, "middle")


def test_find_faces_loads_its_cascade_and_finds_none_in_a_landscape():
    assert not _face_detector().empty()
    rng = np.random.default_rng(1)
    sky = np.linspace(120, 250, 480, dtype=np.float32)[:, None, None]
    pixels = (sky + rng.normal(0, 4, (480, 640, 3))).clip(0, 255).astype(np.uint8)
    assert find_faces(pixels) == []
    (_, how) = crop_box(pixels, 1.0, "face")
    assert how == "center"  # no face: the face crop takes the middle


def _photo(width: int, height: int, caption: str | None = None, seed: int = 0) -> Photo:
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (max(1, height // 8), max(1, width // 8), 3)).astype(np.float32)
    pixels = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return Photo(Path(f"{seed}.png"), pixels.clip(0, 255).astype(np.uint8), caption, False)


def test_prepare_photos_gives_bucket_sized_pictures_and_captions():
    photos = [_photo(900, 600, seed=1), _photo(300, 700, "on a beach", 2), _photo(90, 100, None, 3)]
    prepared = prepare_photos(photos, 512, "auto", "zqx", "dog")
    assert [p.pixels.shape for p in prepared] == [(384, 640, 3), (640, 320, 3), (512, 512, 3)]
    assert [p.caption for p in prepared] == ["zqx dog", "zqx, on a beach", "zqx dog"]
    assert [p.source for p in prepared] == [Path("1.png"), Path("2.png"), Path("3.png")]
    assert all(p.how in ("face", "saliency") and p.pixels.dtype == np.uint8 for p in prepared)
    x, y, w, h = prepared[0].box  # 640:384 is wider than 900:600, so the full width
    assert (x, w, h) == (0, 900, 540) and 0 <= y <= 60


def test_prepare_photos_center_crop_scales_the_middle():
    photo = _photo(400, 200, seed=5)
    (prepared,) = prepare_photos([photo], 128, "center", "zqx", "person")
    assert prepared.box == (0, 0, 400, 200)  # 2:1 fits the 128 px model's 128x64 bucket
    expected = cv2.resize(photo.pixels, (128, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(prepared.pixels, expected)
    (square,) = prepare_photos([_photo(300, 300, seed=6)], 128, "center", "zqx", "person")
    assert square.pixels.shape == (128, 128, 3) and square.how == "center"
