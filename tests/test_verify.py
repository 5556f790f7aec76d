"""Every output of a real (tiny-model) job is watermarked, and `atelier verify` / the Verify
panel read real files: 0 when all carry the mark, 3 when one does not, 2 when unreadable."""

from __future__ import annotations

import argparse
import io
import subprocess
import wave
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from app.cli_verify import add_verify_command
from engine.protocol import ImageData, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion import plugin as diffusion_plugin
from plugins.diffusion.params import Txt2ImgParams
from plugins.image_export.writers import write_png
from plugins.provenance import plugin as provenance_plugin
from plugins.provenance import watermark
from plugins.registry import Registry
from tests.test_gui_main_window import make_store, qt_loop  # noqa: F401 (a fixture)
from tests.test_prompt_check import provenance_entry_point  # noqa: F401 (a fixture)

SIZE = 256


def verify(*paths) -> int:
    """`atelier verify PATH...` through the command's own parser."""
    parser = argparse.ArgumentParser(prog="atelier")
    add_verify_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["verify", *map(str, paths)])
    return args.handler(args)


@pytest.fixture
def engine(atelier_home, tiny_config_root, tmp_path):
    registry = Registry()
    registry.add(diffusion_plugin)
    registry.add(provenance_plugin)
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    eng = InlineEngine.from_registry(registry, store=store)
    yield eng
    eng.shutdown()


@pytest.fixture
def generated(engine) -> list[ImageData]:
    params = Txt2ImgParams(
        prompt="a lighthouse at dusk", model="tiny-sd15", steps=2, width=SIZE, height=SIZE,
        seed=11, batch_count=2,
    )  # fmt: skip
    event = engine.submit("diffusion.txt2img", params).future.result()
    assert isinstance(event, JobFinished), event
    return list(event.outputs)


def photo(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """An unwatermarked, photo-like RGB image."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([120 + 80 * np.sin(6 * x + seed), 100 + 90 * y, 140 - 60 * x * y], -1)
    rgb += rng.normal(0, 6, rgb.shape)
    return rgb.clip(0, 255).astype(np.uint8)


def test_every_output_of_a_real_txt2img_job_carries_the_watermark(generated):
    payloads = []
    for image in generated:
        record = image.meta["provenance"]
        found = watermark.detect_image(np.ascontiguousarray(image.pixels[..., :3]))
        assert found.present and found.payload == record["watermark"]["payload"]
        assert record["digital_source_type"].endswith("/trainedAlgorithmicMedia")
        assert record["safety"]["output"]["checked"] and record["safety"]["prompt"]["checked"]
        assert image.meta["recipe"]["task"] == "diffusion.txt2img"  # the task's meta is kept
        payloads.append(found.payload)
    assert len(set(payloads)) == 2  # a new payload per output


def test_verify_says_yes_for_saved_outputs_and_no_for_an_unmarked_image(
    generated, tmp_path, capsys
):
    marked = [write_png(tmp_path / f"gen-{i}.png", im) for i, im in enumerate(generated)]
    assert verify(*marked) == 0
    out = capsys.readouterr().out
    assert out.count("carries Atelier's watermark") == 2 and "present (confidence" in out
    assert "XMP: digital source type trainedAlgorithmicMedia" in out
    assert "C2PA: valid, signed by this computer's Atelier key" in out
    assert "prompt check (block): passed" in out and "matches the metadata" in out

    plain = tmp_path / "photo.png"
    Image.fromarray(photo()).save(plain)
    assert verify(marked[0], plain) == 3
    out = capsys.readouterr().out.split(f"== {plain}")[1]
    assert "not found" in out and "no safety record" in out and "C2PA: no manifest" in out
    assert "does NOT carry Atelier's watermark" in out


def test_a_jpeg_export_of_a_generated_image_still_verifies(generated, tmp_path):
    path = tmp_path / "export.jpg"
    Image.fromarray(generated[0].pixels[..., :3]).save(path, quality=90)
    assert verify(path) == 0


def test_unreadable_input_exits_2_and_names_the_problem(generated, tmp_path, capsys):
    marked = write_png(tmp_path / "ok.png", generated[0])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for bad in (broken, tmp_path / "missing.png", text, tmp_path):
        assert verify(marked, bad) == 2
        err = capsys.readouterr().err
        assert "atelier: error:" in err and bad.name in err and "Traceback" not in err


@pytest.mark.usefixtures("provenance_entry_point")
def test_cli_generate_then_verify(atelier_home, tmp_path):
    from app.cli import main

    out = tmp_path / "cli.png"
    args = ["generate", "a red circle", "--model", "tiny-sd15", "--steps", "2"]
    assert main([*args, "--size", f"{SIZE}x{SIZE}", "-o", str(out)]) == 0
    assert verify(out) == 0


# ---- video and audio ---------------------------------------------------------------------


def write_mp4(path, frames: np.ndarray, fps: float = 8.0) -> None:
    import imageio_ffmpeg

    height, width = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, codec="libx264", output_params=["-crf", "23"]
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame).tobytes())
    writer.close()


def test_verify_reads_the_watermark_in_an_h264_video(tmp_path):
    frames = np.stack([np.roll(photo(seed=1), 3 * t, axis=1) for t in range(16)])
    marked_path, plain_path = tmp_path / "marked.mp4", tmp_path / "plain.mp4"
    write_mp4(marked_path, watermark.embed_frames(frames, watermark.new_payload()))
    write_mp4(plain_path, frames)
    assert verify(marked_path) == 0
    assert verify(plain_path) == 3


def music(rate: int = 44100, seconds: float = 4.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    notes = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220, 277.2, 329.6, 440))
    noise = np.random.default_rng(5).normal(0, 0.02, t.shape)
    left = (notes * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) + noise).astype(np.float32)
    return np.stack([left, np.roll(left, 100)])


def write_wav(path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").T.copy()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    path.write_bytes(buffer.getvalue())


def test_verify_reads_the_watermark_in_wav_and_flac(tmp_path):
    import imageio_ffmpeg

    rate = 44100
    clean = music(rate)
    marked = watermark.embed_audio(clean, rate, watermark.new_payload())
    wav, plain, flac = tmp_path / "song.wav", tmp_path / "plain.wav", tmp_path / "song.flac"
    write_wav(wav, marked, rate)
    write_wav(plain, clean, rate)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-i", str(wav), "-y", str(flac)], check=True)
    assert verify(wav) == 0
    assert verify(flac) == 0
    assert verify(plain) == 3


# ---- the GUI panel -----------------------------------------------------------------------


def test_the_verify_panel_shows_the_same_report(generated, tmp_path, qtbot):
    from plugins.provenance.ui_verify import make_panel

    marked = write_png(tmp_path / "gen.png", generated[0])
    plain = tmp_path / "photo.png"
    Image.fromarray(photo()).save(plain)
    panel = make_panel(SimpleNamespace())  # it needs nothing of the window's context
    qtbot.addWidget(panel)
    panel.verify([marked, plain])
    qtbot.waitUntil(lambda: panel.pending == 0, timeout=60_000)
    text = panel.text()
    assert f"== {marked}" in text and f"== {plain}" in text
    assert "carries Atelier's watermark" in text and "does NOT carry" in text
    assert "does NOT carry" in panel.status.text()


@pytest.mark.usefixtures("qt_loop")
def test_the_main_window_docks_the_verify_panel(qtbot, tmp_path):
    from PySide6.QtWidgets import QDockWidget

    from plugins.provenance.ui_verify import VerifyPanel
    from tests.test_gui_main_window import make_window

    registry = Registry()
    registry.add(provenance_plugin)
    window = make_window(qtbot, registry, make_store(tmp_path / "home", tmp_path))
    try:
        dock = window.plugin_docks["provenance.verify"]
        assert isinstance(dock, QDockWidget) and dock.windowTitle() == "Verify"
        assert isinstance(dock.widget(), VerifyPanel)
    finally:
        window.shutdown_engine()
