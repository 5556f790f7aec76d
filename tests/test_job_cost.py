"""The estimate asked before a job starts (engine.job_cost): a 4096 x 4096 picture on the
CPU is named out of reach with its time and memory, a 512 x 512 one is not."""

from __future__ import annotations

import numpy as np
import pytest

from engine import job_cost
from engine.job_cost import JobSize, cost_warning, estimate, job_size
from plugins.diffusion.params import Img2ImgParams, Txt2ImgParams

GIB = 1024**3


def test_4096_on_the_cpu_is_out_of_reach_in_time_and_memory(monkeypatch):
    monkeypatch.setattr(job_cost, "physical_memory", lambda: 16 * GIB)
    text = cost_warning(JobSize(4096, 4096, 25), "cpu")
    assert text.startswith("4096 \N{MULTIPLICATION SIGN} 4096 pixels with 25 steps would take")
    assert "hours on the CPU" in text
    assert "more than this machine has (16.0 GB)" in text


def test_512_on_the_cpu_is_not_warned_about(monkeypatch):
    monkeypatch.setattr(job_cost, "physical_memory", lambda: 4 * GIB)
    assert cost_warning(JobSize(512, 512, 25), "cpu") == ""
    assert cost_warning(JobSize(512, 512, 150, images=4), "cpu") != ""  # 600 steps in all


def test_a_gpu_is_faster_and_its_memory_is_not_judged_here(monkeypatch):
    monkeypatch.setattr(job_cost, "physical_memory", lambda: 1 * GIB)
    assert cost_warning(JobSize(1024, 1024, 25), "cuda", "float16") == ""
    text = cost_warning(JobSize(4096, 4096, 25), "cuda", "float16")
    assert "on the GPU" in text and "memory" not in text


def test_time_grows_faster_than_the_pixels_and_memory_with_them():
    small, large = (estimate(JobSize(side, side, 10)) for side in (512, 2048))
    assert large.seconds > 16 * small.seconds  # 16 times the pixels; attention is quadratic
    assert large.memory_bytes == 16 * small.memory_bytes
    assert estimate(JobSize(512, 512, 20)).seconds == pytest.approx(2 * small.seconds)
    half = estimate(JobSize(512, 512, 10), "cpu", "float16").memory_bytes
    assert half * 2 == small.memory_bytes


def test_job_size_reads_width_height_steps_and_batch():
    params = Txt2ImgParams(prompt="x", width=4096, height=2048, steps=30, batch_count=2)
    assert job_size(params) == JobSize(4096, 2048, 30, 2)
    assert job_size(Txt2ImgParams(prompt="x")) is None  # the model's native size
    picture = np.zeros((4096, 4096, 4), np.uint8)
    assert job_size(Img2ImgParams(prompt="x", image=picture)) is None  # a bounded work size


def test_durations_read_as_a_designer_says_them():
    assert job_cost.duration_text(40) == "40 seconds"
    assert job_cost.duration_text(95 * 60) == "95 minutes"
    assert job_cost.duration_text(22 * 3600) == "22 hours"
    assert job_cost.duration_text(3 * 86400) == "3 days"
