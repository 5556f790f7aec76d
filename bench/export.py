"""Benchmark: a timeline export through Atelier's video writer against a bare imageio-ffmpeg
write of the same frames and sound.

Measured side by side in one run, round by round, the order rotating:
- timeline: a one-clip timeline (app/model/timeline.py) holding a 300-frame 1280x720 clip
  at 30 fps and a 10 s stereo sound on an audio track, exported to MP4 as the app does:
  app/model/timeline_render.frames() renders each frame, mix_audio() mixes the sound, and
  plugins/video_export/encoding.write_video streams them into ffmpeg (H.264 yuv420p with
  BT.709 conversion, CRF 23, preset medium, AAC 192k, +faststart, the provenance tags and
  XMP, progress and cancel checks, the temp file renamed at the end);
- writer: the same write_video call fed the clip's frames and sound directly, no timeline
  (what the writer itself costs; the rest of the timeline's figure is its rendering);
- bare: imageio_ffmpeg.write_frames with the same encoder flags, fed the clip's frames as
  they are, and the same sound written to a WAV for its `audio_path` (timed too).
Every file is checked to have 300 frames and a sound. `speed_ratio`: the median of each
round's timeline time over bare's (target <= 1.15); `writer_ratio` the same for writer.

Run: python bench/export.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from pathlib import Path

import imageio_ffmpeg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.model import timeline_render  # noqa: E402
from app.model.timeline import Clip, MediaItem, MediaStore, Timeline, Track  # noqa: E402
from plugins.provenance.xmp import TRAINED  # noqa: E402
from plugins.video_export.encoding import write_video  # noqa: E402

FRAMES, WIDTH, HEIGHT, FPS, RATE = 300, 1280, 720, Fraction(30), 48000
PROVENANCE = {"software": "Atelier bench", "digital_source_type": TRAINED, "watermark": {"id": "b"}}


def clip_frames() -> np.ndarray:
    """A panning, grainy colour field: real work for the encoder in every frame."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0 : WIDTH + 4 * FRAMES] / WIDTH
    field = np.stack([120 + 80 * np.sin(6 * x), 100 + 90 * y, 140 - 60 * np.cos(5 * x * y)], -1)
    field = (field + rng.normal(0, 5, field.shape)).clip(0, 255).astype(np.uint8)
    return np.stack([field[:, 4 * t : 4 * t + WIDTH] for t in range(FRAMES)])


def sound() -> np.ndarray:
    t = np.arange(FRAMES * RATE // int(FPS)) / RATE
    notes = [0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2)]
    return np.stack(notes).astype(np.float32)


def one_clip_timeline(frames: np.ndarray, samples: np.ndarray) -> tuple[Timeline, MediaStore]:
    video = MediaItem("v", "video", "clip", (WIDTH, HEIGHT), fps=FPS, length=len(frames))
    audio = MediaItem("a", "audio", "tune", rate=RATE, channels=2, length=samples.shape[1])
    seconds = Fraction(len(frames)) / FPS
    tracks = (
        Track("t1", "video", "Video", (Clip("c1", "v", Fraction(0), Fraction(0), seconds),)),
        Track("t2", "audio", "Sound", (Clip("c2", "a", Fraction(0), Fraction(0), seconds),)),
    )
    media = MediaStore()
    media.add(video, frames)
    media.add(audio, samples)
    return Timeline(tracks, (video, audio), FPS, (WIDTH, HEIGHT)), media


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and the ffmpeg it waited for) of `run`."""

    def cpu() -> float:
        mine, children = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
        return mine.user + mine.system + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    run()
    return time.perf_counter() - wall, cpu() - used


def export_timeline(path: Path, timeline: Timeline, media: MediaStore) -> None:
    frames = timeline_render.frames(timeline, media)
    audio = timeline_render.mix_audio(timeline, media, RATE)
    total = timeline_render.frame_count(timeline.duration, timeline.fps)
    write(path, frames, timeline.fps, audio, total)


def write(path: Path, frames, fps: Fraction, audio: np.ndarray, total: int) -> None:
    """Atelier's export call, as the app makes it: with provenance, progress and cancel."""
    write_video(
        path,
        frames,
        fps=fps,
        audio=audio,
        audio_rate=RATE,
        provenance=PROVENANCE,
        on_progress=lambda done: None,
        is_cancelled=lambda: False,
        total_frames=total,
    )


def bare(path: Path, frames: np.ndarray, samples: np.ndarray) -> None:
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((samples.T.clip(-1, 1) * 32767).astype("<i2").tobytes())
    flags = ["-preset", "medium", "-crf", "23"]  # Atelier's flags for quality "medium"
    flags += ["-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"]
    flags += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
    flags += ["-b:a", "192k", "-movflags", "+faststart"]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (WIDTH, HEIGHT),
        fps=FPS,
        codec="libx264",
        quality=None,
        macro_block_size=1,
        output_params=flags,
        audio_path=str(wav),
        audio_codec="aac",
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for frame in frames:
        writer.send(frame)
    writer.close()
    wav.unlink()


def checked(path: Path) -> str:
    command = ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)]
    streams = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    kinds = {s["codec_type"]: s for s in streams["streams"]}
    frames = int(kinds["video"]["nb_frames"])
    assert frames == FRAMES and "audio" in kinds, (path, frames, list(kinds))
    return f"{kinds['video']['codec_name']} {frames} frames + {kinds['audio']['codec_name']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    frames, samples = clip_frames(), sound()
    timeline, media = one_clip_timeline(frames, samples)
    runs = {
        "timeline": lambda path: export_timeline(path, timeline, media),
        "writer": lambda path: write(path, frames, FPS, samples, len(frames)),
        "bare": lambda path: bare(path, frames, samples),
    }
    sides = list(runs)
    ratios: dict[str, list[float]] = {"timeline": [], "writer": [], "cpu": []}
    print(f"{FRAMES} frames {WIDTH}x{HEIGHT} at {FPS} fps + {RATE} Hz stereo, MP4 (H.264/AAC)")
    print("round | wall s: timeline writer bare | CPU s: timeline bare | timeline writer cpu")
    with tempfile.TemporaryDirectory(prefix="atelier-bench-export-") as scratch:
        folder = Path(scratch)
        for number in range(rounds):
            order = sides[number % 3 :] + sides[: number % 3]
            times = {side: timed(partial(runs[side], folder / f"{side}.mp4")) for side in order}
            wall = {side: times[side][0] for side in sides}
            cpu = {side: times[side][1] for side in sides}
            ratios["timeline"].append(wall["timeline"] / wall["bare"])
            ratios["writer"].append(wall["writer"] / wall["bare"])
            ratios["cpu"].append(cpu["timeline"] / cpu["bare"])
            walls = " ".join(f"{wall[side]:.2f}" for side in sides)
            cpus = f"{cpu['timeline']:.2f} {cpu['bare']:.2f}"
            found = " ".join(f"{values[-1]:.3f}" for values in ratios.values())
            print(f"{number + 1:>5} | {walls} | {cpus} | {found}")
        for side in sides:
            print(f"{side}: {checked(folder / f'{side}.mp4')}")
    speed, writer, cpu_ratio = (statistics.median(values) for values in ratios.values())
    print(
        f"bench export: speed_ratio={speed:.3f} writer_ratio={writer:.3f} cpu_ratio={cpu_ratio:.3f}"
    )


if __name__ == "__main__":
    main()
