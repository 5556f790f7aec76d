"""Decoding a growing code sequence piece by piece (plugins.music.code_decoder): for a
codec whose output at a frame depends only on codes near it, the pieces joined give
exactly what decoding the whole sequence at once gives, however the codes arrive; and the
music task's params are checked with sentences. Torch-free."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plugins.music.code_decoder import CodeDecoder
from plugins.music.params import TextToMusicParams, validate_text_to_music

HOP = 4


def local_codec(codes: np.ndarray) -> np.ndarray:
    """A 'codec' whose sample at each frame is a smooth function of the codes one frame
    either side, like a convolution's: (K, n) -> (2, n * HOP)."""
    padded = np.pad(codes.astype(np.float64), ((0, 0), (1, 1)), mode="edge")
    mixed = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]).sum(axis=0) / 8
    wave = np.repeat(mixed, HOP) + np.tile(np.linspace(0, 1, HOP), len(mixed))
    return np.stack([wave, -wave]).astype(np.float32)


@pytest.mark.parametrize("frames", [3, 17, 40, 41, 95])
@pytest.mark.parametrize("steps", [1, 6, 30])
def test_pieces_join_into_the_whole_sequence_decoded_at_once(frames, steps):
    codes = np.random.default_rng(frames).integers(0, 50, (4, frames))
    decoder = CodeDecoder(local_codec, HOP, piece=10, overlap=4)
    for end in range(steps, frames, steps):  # codes arriving a few frames at a time
        decoder.feed(codes[:, :end])
        done = decoder.samples()
        if done.size:  # what is finished never changes afterwards
            assert np.allclose(done, local_codec(codes)[:, : done.shape[1]], atol=1e-5)
    decoder.feed(codes, final=True)
    assert np.allclose(decoder.samples(), local_codec(codes), atol=1e-5)


def test_a_piece_waits_for_the_codes_past_its_end():
    decoder = CodeDecoder(local_codec, HOP, piece=10, overlap=4)
    codes = np.ones((2, 13), np.int64)
    decoder.feed(codes)  # 13 frames: the first piece (0-10) needs frames up to 14
    assert decoder.samples().size == 0
    decoder.feed(np.ones((2, 14), np.int64))
    assert decoder.samples().shape == (2, (10 - 2) * HOP)  # up to where its fade starts


def test_params_out_of_range_are_refused_with_a_sentence(tmp_path):
    good = TextToMusicParams(prompt="a calm piano melody", duration=45.0)
    validate_text_to_music(good)
    cases = {
        "duration": (0.5, "between 1 and 600 seconds"),
        "guidance": (0.5, "Guidance must be between 1"),
        "temperature": (0.0, "Temperature"),
        "top_k": (5000, "Top-k"),
        "melody": (str(tmp_path / "nowhere.wav"), "is not a file"),
        "prompt": ("  ", "Describe the music"),
    }
    for name, (value, words) in cases.items():
        with pytest.raises(ValueError, match=words):
            validate_text_to_music(dataclasses.replace(good, **{name: value}))
