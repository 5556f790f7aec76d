"""The photo folder check for LoRA training: what is usable, what is skipped and why,
upright pixels, captions (plugins/lora_training/folder_check.py)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from plugins.lora_training.folder_check import (
    MAX_CAPTION_BYTES,
    Photo,
    caption_for,
    check_folder,
    require_usable,
    tag_frequency,
)


def scene(seed: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A textured (height, width, 3) picture: smooth random blobs, different for each seed."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height // 16, width // 16, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth.clip(0, 255).astype(np.uint8)


def save(pixels: np.ndarray, path: Path, **options) -> Path:
    Image.fromarray(pixels).save(path, **options)
    return path


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_usable_photos_come_in_name_order_as_rgb(tmp_path):
    save(scene(1), tmp_path / "b.png")
    save(scene(2), tmp_path / "a.jpg", quality=95)
    save(scene(3), tmp_path / "C.WEBP", lossless=True)
    report = check_folder(tmp_path, min_side=128)
    assert [p.path.name for p in report.photos] == ["C.WEBP", "a.jpg", "b.png"]
    assert report.problems == ()
    np.testing.assert_array_equal(report.photos[2].pixels, scene(1))
    np.testing.assert_array_equal(report.photos[0].pixels, scene(3))
    assert all(
        p.pixels.shape == (240, 320, 3) and p.pixels.dtype == np.uint8 for p in report.photos
    )
    assert report.summary() == "3 photos usable"


def test_other_files_hidden_files_and_subfolders_are_ignored(tmp_path):
    save(scene(1), tmp_path / "a.png")
    save(scene(2), tmp_path / ".hidden.png")
    (tmp_path / "sub").mkdir()
    save(scene(3), tmp_path / "sub" / "c.png")
    (tmp_path / "notes.md").write_text("hello")
    (tmp_path / "photo.gif").write_bytes(b"GIF89a")
    (tmp_path / "zz.png").symlink_to("/dev/zero")
    report = check_folder(tmp_path, min_side=64)
    assert [p.path.name for p in report.photos] == ["a.png"]
    assert report.problems == ()


def test_unreadable_pictures_are_skipped_with_their_reason(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "noise.png").write_bytes(rng.bytes(2000))
    data = jpeg_bytes(scene(1))
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    save(scene(2), tmp_path / "good.png")
    report = check_folder(tmp_path, min_side=64)
    assert [p.path.name for p in report.photos] == ["good.png"]
    problems = {p.path.name: p for p in report.problems}
    assert problems.keys() == {"noise.png", "cut.jpg"}
    assert all(p.skipped for p in problems.values())
    assert "PNG, JPEG or WebP" in problems["noise.png"].problem
    assert "incomplete" in problems["cut.jpg"].problem
    assert str(tmp_path) not in problems["cut.jpg"].problem  # the line names the file once
    assert report.summary() == "1 photo usable; 2 skipped (2 unreadable)"


def test_too_small_picture_is_skipped_saying_what_is_needed(tmp_path):
    save(scene(1, 200, 150), tmp_path / "small.png")
    save(scene(2, 300, 256), tmp_path / "edge.png")
    report = check_folder(tmp_path, min_side=256)
    assert [p.path.name for p in report.photos] == ["edge.png"]
    assert report.lines() == ["small.png: too small (200x150; needs 256 px on the short side)"]


def test_near_duplicate_is_skipped_naming_the_first(tmp_path):
    original = scene(7)
    save(original, tmp_path / "a.png")
    brighter = np.clip(original.astype(np.int16) + 12, 0, 255).astype(np.uint8)
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(brighter))
    report = check_folder(tmp_path, min_side=64)
    assert [p.path.name for p in report.photos] == ["a.png"]
    assert report.lines() == ["b.jpg: looks the same as a.png"]
    assert report.summary() == "1 photo usable; 1 skipped (1 near-duplicate)"


def test_same_colours_in_another_layout_is_not_a_duplicate(tmp_path):
    left = np.zeros((240, 320, 3), np.uint8)
    left[:] = (30, 60, 200)
    right = left.copy()
    cv2.circle(left, (80, 120), 50, (220, 40, 40), -1)
    cv2.circle(right, (240, 120), 50, (220, 40, 40), -1)
    save(left, tmp_path / "left.png")
    save(right, tmp_path / "right.png")
    # flat pictures of different colours have the same (empty) gradient hash
    save(np.full((240, 320, 3), 40, np.uint8), tmp_path / "dark.png")
    save(np.full((240, 320, 3), 220, np.uint8), tmp_path / "light.png")
    report = check_folder(tmp_path, min_side=64)
    assert len(report.photos) == 4
    assert report.problems == ()


def test_exif_orientation_is_applied_and_noted(tmp_path):
    stored = scene(4, 160, 96)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    save(stored, tmp_path / "turned.jpg", exif=exif, quality=95)
    with Image.open(tmp_path / "turned.jpg") as image:
        decoded = np.asarray(image.convert("RGB"))
    report = check_folder(tmp_path, min_side=64)
    (photo,) = report.photos
    assert photo.rotated
    assert photo.pixels.shape == (160, 96, 3)
    np.testing.assert_array_equal(photo.pixels, np.rot90(decoded, k=-1))
    assert report.lines() == ["turned.jpg: turned upright (EXIF orientation 6)"]
    assert not report.problems[0].skipped
    assert report.summary() == "1 photo usable; 1 turned upright"


def test_transparent_pixels_are_put_on_white(tmp_path):
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:50, :, 3] = 255  # top half opaque red, bottom half fully transparent
    rgba[50:, :, 3] = 0
    save(rgba, tmp_path / "cutout.png")
    (photo,) = check_folder(tmp_path, min_side=64).photos
    assert (photo.pixels[:50] == (200, 0, 0)).all()
    assert (photo.pixels[50:] == 255).all()


def test_large_pictures_are_kept_scaled_down(tmp_path):
    save(scene(1, 640, 480), tmp_path / "big.png")
    (photo,) = check_folder(tmp_path, min_side=64, max_side=240).photos
    assert photo.pixels.shape == (240, 320, 3)


def test_photos_over_the_limit_are_skipped_and_progress_is_reported(tmp_path):
    for seed in range(4):
        save(scene(seed), tmp_path / f"{seed}.png")
    calls = []
    report = check_folder(tmp_path, min_side=64, max_photos=3, progress=lambda *c: calls.append(c))
    assert [p.path.name for p in report.photos] == ["0.png", "1.png", "2.png"]
    (problem,) = report.problems
    assert problem.path.name == "3.png" and problem.skipped
    assert "first 3" in problem.problem
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_summary_counts_each_kind(tmp_path):
    save(scene(1), tmp_path / "a.png")
    save(scene(1), tmp_path / "a2.png")
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    save(scene(2, 50, 50), tmp_path / "tiny.png")
    exif = Image.Exif()
    exif[0x0112] = 3
    save(scene(3), tmp_path / "upside.jpg", exif=exif)
    report = check_folder(tmp_path, min_side=64)
    assert report.summary() == (
        "2 photos usable; 3 skipped (1 unreadable, 1 too small, 1 near-duplicate); 1 turned upright"
    )
    assert [line.split(":")[0] for line in report.lines()] == [
        "a2.png",
        "bad.png",
        "tiny.png",
        "upside.jpg",
    ]


def test_require_usable_names_the_folder_and_the_reasons(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    save(scene(1, 100, 80), tmp_path / "small.png")
    report = check_folder(tmp_path, min_side=128)
    assert report.photos == ()
    with pytest.raises(ValueError) as caught:
        require_usable(report)
    message = str(caught.value)
    assert str(tmp_path) in message
    assert "1 unreadable, 1 too small" in message
    assert "small.png: too small (100x80" in message
    assert "128 px" in message


def test_empty_folder(tmp_path):
    report = check_folder(tmp_path, min_side=64)
    assert report.summary() == "0 photos usable"
    with pytest.raises(ValueError, match="holds no PNG, JPEG or WebP pictures"):
        require_usable(report)
    save(scene(1), tmp_path / "a.png")
    require_usable(check_folder(tmp_path, min_side=64))  # one usable photo is enough


def test_a_missing_folder_or_a_file_is_refused_in_a_sentence(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        check_folder(tmp_path / "nowhere", min_side=64)
    path = save(scene(1), tmp_path / "a.png")
    with pytest.raises(ValueError, match="is not a folder"):
        check_folder(path, min_side=64)


def test_an_unreadable_folder_is_refused_in_a_sentence(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", refuse)
    with pytest.raises(ValueError, match=r"cannot be read \(Permission denied\)"):
        check_folder(tmp_path, min_side=64)


def test_captions_are_read_cleaned_and_bounded(tmp_path):
    for name in ("a", "b", "c", "d"):
        save(scene(ord(name)), tmp_path / f"{name}.png")
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfa red\xff car,\n\n  parked\x00 outside\t")
    (tmp_path / "b.txt").write_bytes(b"  \n\t ")
    (tmp_path / "c.txt").write_bytes(b"x" * (MAX_CAPTION_BYTES + 1))
    report = check_folder(tmp_path, min_side=64)
    captions = {p.path.name: p.caption for p in report.photos}
    assert captions == {
        "a.png": "a red\ufffd car, parked outside",
        "b.png": None,
        "c.png": None,
        "d.png": None,
    }
    (note,) = report.problems
    assert note.path.name == "c.txt" and not note.skipped
    assert "too large" in note.problem
    assert report.summary() == "4 photos usable; 1 caption not used"


def _photo(caption: str | None) -> Photo:
    return Photo(Path("x.png"), np.zeros((8, 8, 3), np.uint8), caption, False)


def test_caption_for_with_and_without_a_caption():
    assert caption_for(_photo(None), "zqx", "dog") == "zqx dog"
    assert caption_for(_photo("a dog on grass"), "zqx", "dog") == "zqx, a dog on grass"
    assert caption_for(_photo("zqx dog, on grass"), "zqx", "dog") == "zqx dog, on grass"
    assert caption_for(_photo("a ZQX, running"), "zqx", "dog") == "a ZQX, running"
    # part of a longer word is not the trigger word
    assert caption_for(_photo("zqxy dog"), "zqx", "dog") == "zqx, zqxy dog"


def test_tag_frequency_counts_stripped_tags():
    captions = ["zqx, dog,  grass ", "zqx,dog, , beach", "zqx"]
    assert tag_frequency(captions) == {"zqx": 3, "dog": 2, "grass": 1, "beach": 1}
    assert tag_frequency([]) == {}
