"""The invisible watermark: round trips, robustness spot checks, clean inputs, payload layout."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from plugins.provenance import audio_mark, payload, watermark


def photo(seed: int, size: int = 512) -> np.ndarray:
    """A photo-like RGB image: coloured 1/f noise, a few soft shapes, sensor grain."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    r = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    r[0, 0] = 1.0
    spec = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / r**1.1
    x = np.fft.ifft2(spec).real
    t = (np.tanh((x - x.mean()) / x.std()) + 1) / 2
    img = t[..., None] * rng.uniform(40, 230, 3) + (1 - t[..., None]) * rng.uniform(20, 200, 3)
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(4):
        cy, cx, rad = rng.integers(0, size, 2).tolist() + [int(rng.integers(size // 16, size // 4))]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < rad**2] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 1.5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def music(seed: int, seconds: float = 3.0, rate: int = 44100) -> np.ndarray:
    """A stereo clip of decaying harmonic notes over a little noise, float32 in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = rng.normal(0, 0.002, (2, n))
    for start in np.arange(0, seconds, 0.25):
        f0 = 220 * 2 ** (rng.integers(0, 24) / 12)
        tt = np.clip(t - start, 0, None)
        note = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 6))
        out += note * np.exp(-4 * tt) * (t >= start) * rng.uniform(0.3, 1.0, (2, 1))
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality, subsampling=2)
    return np.array(Image.open(buf).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def marked() -> tuple[np.ndarray, np.ndarray, int]:
    img = photo(1)
    p = payload.make_payload(0x5A5A5)
    return img, watermark.embed_image(img, p), p


def test_payload_layout_and_description():
    p = watermark.new_payload()
    assert 0 <= p < 2**watermark.PAYLOAD_BITS and p >> 24 == payload.APP_TAG
    about = watermark.describe_payload(payload.make_payload(0xABCDE))
    assert about == {"app": "atelier", "version": payload.LAYOUT_VERSION, "id": "abcde"}
    assert watermark.describe_payload(0x12345678)["app"] != "atelier"
    assert len({watermark.new_payload() for _ in range(20)}) > 15


RECIPE = {
    "task": "diffusion.txt2img",
    "version": 1,
    "params": {"prompt": "a kite", "seed": 7, "steps": 20, "model": "kite-model"},
    "model": {"name": "kite-model", "family": "sd15", "hash": "0123456789"},
}


def changed(path: str, value) -> dict:
    """RECIPE with one value changed ("params.seed": a value inside params)."""
    recipe = {**RECIPE, "params": dict(RECIPE["params"]), "model": dict(RECIPE["model"])}
    *parents, key = path.split(".")
    target = recipe
    for parent in parents:
        target = target[parent]
    target[key] = value
    return recipe


def test_the_payload_of_a_recipe_is_stable_and_says_how_the_output_was_made():
    p = watermark.recipe_payload(RECIPE)
    assert p >> 24 == payload.APP_TAG and (p >> 20) & 0xF == payload.LAYOUT_VERSION
    reordered = dict(reversed(list(RECIPE.items())))
    assert watermark.recipe_payload(reordered) == p
    assert watermark.recipe_payload(changed("model.family", "sdxl")) == p  # not how it was made
    for path, value in [
        ("params.seed", 8),
        ("params.prompt", "a kite "),
        ("version", 2),
        ("task", "diffusion.img2img"),
        ("model.hash", "0123456788"),
    ]:
        assert watermark.recipe_payload(changed(path, value)) != p, path
    seeds = {watermark.recipe_payload(changed("params.seed", seed)) for seed in range(200)}
    assert len(seeds) > 190  # 20-bit ids: a handful of collisions at most
    canvas = watermark.recipe_payload(RECIPE, changed("params.seed", 8))
    assert canvas not in (p, watermark.recipe_payload(changed("params.seed", 8)))


def test_code_corrects_errors_and_crc_rejects_noise():
    p = payload.make_payload(0x1F00D)
    coded = 1.0 - 2.0 * payload.encode(p)
    assert len(coded) == payload.CODED_BITS
    flipped = coded.copy()
    flipped[::9] *= -1  # 11% of the coded bits wrong
    assert payload.decode(flipped) == (p, True)
    rng = np.random.default_rng(0)
    assert not any(payload.decode(rng.normal(size=payload.CODED_BITS))[1] for _ in range(50))


def test_image_round_trip_keeps_shape_and_quality(marked):
    img, out, p = marked
    assert out.shape == img.shape and out.dtype == np.uint8
    assert psnr(img, out) >= 38.0
    found = watermark.detect_image(out, expected=p)
    assert found.present and found.payload == p and found.bit_accuracy == 1.0
    assert found.confidence > 0.999


def test_rgba_and_grey_images_keep_their_layout():
    p = watermark.new_payload()
    rgba = np.dstack([photo(2, 256), np.full((256, 256), 200, np.uint8)])
    out = watermark.embed_image(rgba, p)
    assert out.shape == rgba.shape and np.array_equal(out[..., 3], rgba[..., 3])
    assert watermark.detect_image(out[..., :3]).payload == p
    grey = photo(3, 256)[..., 0]
    assert watermark.embed_image(grey, p).shape == grey.shape
    with pytest.raises(TypeError):
        watermark.embed_image(rgba.astype(np.float32), p)


@pytest.mark.parametrize(
    "attack",
    [
        lambda x: jpeg(x, 75),
        lambda x: x[26:487, 51:512],  # 10% cropped off, off-centre
        lambda x: np.array(Image.fromarray(x).resize((256, 256), Image.BICUBIC)),
        lambda x: np.clip(x * 0.8, 0, 255).astype(np.uint8),  # brightness -20%
    ],
    ids=["jpeg75", "crop10", "resize0.5", "darker20"],
)
def test_image_mark_survives_everyday_edits(marked, attack):
    _, out, p = marked
    found = watermark.detect_image(np.ascontiguousarray(attack(out)), expected=p)
    assert found.present and found.payload == p


def test_a_marked_image_marked_again_reads_one_payload_cleanly(marked):
    _, out, first = marked
    second = payload.make_payload(0x12321)
    found = watermark.detect_image(watermark.embed_image(out, second))
    assert found.present and found.payload in (first, second)


def test_clean_images_are_not_detected():
    rng = np.random.default_rng(5)
    clean = [photo(10 + i, 256) for i in range(4)]
    clean += [np.zeros((128, 128, 3), np.uint8), rng.integers(0, 256, (200, 300, 3), np.uint8)]
    for img in clean:
        found = watermark.detect_image(img)
        assert not found.present and found.payload is None and found.confidence < 0.5


def test_frames_round_trip_while_the_picture_moves():
    scene = photo(7, 320)
    frames = np.stack([scene[2 * k : 2 * k + 256, 3 * k : 3 * k + 256] for k in range(6)])
    p = watermark.new_payload()
    out = watermark.embed_frames(frames, p)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert watermark.detect_frames(out, expected=p).payload == p
    assert not watermark.detect_frames(frames).present


def test_audio_round_trip_and_spot_attacks():
    clip, p = music(1), payload.make_payload(0x0BEEF)
    out = watermark.embed_audio(clip, 44100, p)
    assert out.shape == clip.shape and out.dtype == np.float32
    snr = 10 * np.log10(np.sum(clip.astype(float) ** 2) / np.sum((out - clip).astype(float) ** 2))
    assert snr > 20
    assert watermark.detect_audio(out, 44100, expected=p).bit_accuracy == 1.0
    at_32k = np.stack([audio_mark.resample(c, 44100, 32000) for c in out])
    for attacked, rate in [(at_32k, 32000), (out[:, 13230:] * 0.7, 44100), (out * 1.41, 44100)]:
        found = watermark.detect_audio(attacked, rate, expected=p)
        assert found.present and found.payload == p
    mono = watermark.embed_audio(clip[0], 48000, p)
    assert mono.shape == clip[0].shape and watermark.detect_audio(mono, 48000).payload == p


def test_clean_and_tiny_audio_is_not_detected():
    assert not watermark.detect_audio(music(2), 44100).present
    assert not watermark.detect_audio(np.zeros((2, 44100), np.float32), 44100).present
    tiny = np.zeros((2, 10), np.float32)
    assert watermark.embed_audio(tiny, 44100, 1).shape == tiny.shape
    assert not watermark.detect_audio(tiny, 44100).present


def test_import_pulls_in_neither_torch_nor_qt():
    code = (
        "import sys, plugins.provenance.watermark; "
        "print(sorted(m for m in ('torch', 'PySide6', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
