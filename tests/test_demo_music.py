"""The built-in music model's data, captions, tokenizer, scorer and delay pattern: pieces
sound like their captions (as the scorer hears them), and the scorer can tell."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from demo_model.music_captions import INSTRUMENT_WORDS, caption, full_caption
from demo_model.music_pieces import INSTRUMENTS, RATE, Piece, random_piece, render
from demo_model.music_scoring import (
    chroma,
    features,
    fit,
    is_minor,
    seam_clicks,
    tempo,
)
from demo_model.music_tokenizer import build_tokenizer
from demo_model.music_training import delayed


def pieces(seed: int, count: int) -> list[Piece]:
    rng = np.random.default_rng(seed)
    return [random_piece(rng) for _ in range(count)]


def test_a_piece_renders_the_same_samples_at_the_exact_length_and_level():
    piece = Piece("piano", 120, 9, True, True, 5)
    first, again = render(piece, 3.25), render(piece, 3.25)
    assert first.dtype == np.float32 and first.shape == (round(3.25 * RATE),)
    assert np.array_equal(first, again)
    assert np.abs(first).max() <= 1.0 and np.sqrt(np.mean(first**2)) > 0.05
    other = render(Piece("piano", 120, 9, True, True, 6), 3.25)
    assert not np.array_equal(first, other)


def test_drums_add_noise_above_4_khz_and_a_beat_at_the_tempo():
    quiet = render(Piece("flute", 100, 0, False, False, 1), 4.0)
    drums = render(Piece("flute", 100, 0, False, True, 1), 4.0)

    def high(audio):
        spectrum = np.abs(np.fft.rfft(audio)) ** 2
        hz = np.fft.rfftfreq(len(audio), 1 / RATE)
        return spectrum[hz > 4000].sum() / spectrum.sum()

    assert high(drums) > 5 * high(quiet)
    assert tempo(drums) == pytest.approx(100, rel=0.05)


def test_the_key_note_and_the_mode_show_in_the_chroma():
    minor = render(Piece("strings", 90, 2, True, False, 3), 6.0)  # D minor
    major = render(Piece("strings", 90, 2, False, False, 3), 6.0)  # D major
    assert np.argmax(chroma(minor)) in (2, 5, 9)  # D, F or A: the triad
    assert is_minor(minor, 2) and not is_minor(major, 2)


def test_captions_name_the_instrument_and_the_drums_and_the_full_one_says_everything():
    rng = np.random.default_rng(0)
    for piece in pieces(1, 50):
        text = caption(piece, rng)
        assert any(word in text for word in INSTRUMENT_WORDS[piece.instrument])
        assert ("no drums" in text or "without drums" in text) != piece.drums
        assert str(piece.bpm) in text or any(w in text for w in ("slow", "fast", "steady"))
    piece = Piece("chiptune", 150, 7, False, True, 0)
    assert full_caption(piece) == "a happy chiptune melody in G major at 150 bpm with drums"


def test_the_tokenizer_keeps_caption_words_whole_and_reloads_the_same(tmp_path):
    rng = np.random.default_rng(0)
    texts = [caption(piece, rng) for piece in pieces(2, 2000)]
    tokenizer = build_tokenizer(texts)
    text = full_caption(Piece("flute", 75, 1, True, False, 0))
    words = tokenizer.convert_ids_to_tokens(tokenizer(text).input_ids)
    assert words[-1] == "</s>" and len(words) == len(text.split()) + 1
    unknown = tokenizer.convert_ids_to_tokens(tokenizer("zebra").input_ids)
    assert "".join(unknown[:-1]) == "\u2581zebra" and len(unknown) > 2
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert again(text).input_ids == tokenizer(text).input_ids
    assert (again.pad_token_id, again.eos_token_id, again.unk_token_id) == (0, 1, 2)


def test_the_scorer_tells_instrument_and_drums_on_pieces_it_never_saw():
    train, test = pieces(3, 150), pieces(4, 30)
    rows = np.stack([features(render(p, 3.0)) for p in train])
    kinds = fit(rows, np.array([INSTRUMENTS.index(p.instrument) for p in train]), 6)
    drums = fit(rows, np.array([p.drums for p in train], dtype=int), 2)
    seen = np.stack([features(render(p, 3.0)) for p in test])
    assert np.mean(kinds.predict(seen) == [INSTRUMENTS.index(p.instrument) for p in test]) >= 0.8
    assert np.mean(drums.predict(seen) == [p.drums for p in test]) >= 0.9
    silent = features(np.zeros(3 * RATE, np.float32))[None]
    assert kinds.predict(silent).shape == (1,)
    quieter = np.stack([features(0.03 * render(p, 3.0)) for p in test])  # about -30 dB
    assert np.array_equal(kinds.predict(quieter), kinds.predict(seen))  # level is no timbre
    assert np.array_equal(drums.predict(quieter), drums.predict(seen))


def test_tempo_is_heard_on_most_pieces():
    heard = [abs(tempo(render(p, 6.0)) - p.bpm) <= 0.05 * p.bpm for p in pieces(5, 20)]
    assert np.mean(heard) >= 0.6
    assert tempo(np.zeros(RATE, np.float32)) == 0.0


def test_a_click_at_a_seam_is_counted_and_a_smooth_join_is_not():
    t = np.arange(4 * RATE) / RATE
    smooth = 0.3 * np.sin(2 * np.pi * 220 * t)
    assert seam_clicks(smooth, RATE, [1.0, 2.0, 3.0], 640) == 0
    broken = smooth.copy()
    broken[2 * RATE :] *= -1  # a jump in phase at 2 s
    broken[2 * RATE :] += 0.2
    assert seam_clicks(broken, RATE, [1.0, 2.0, 3.0], 640) == 1


def test_the_delay_pattern_shifts_codebook_k_by_k_frames():
    codes = torch.arange(2 * 4 * 5).reshape(2, 4, 5)
    out = delayed(codes)
    assert out.shape == (2, 4, 8)
    for k in range(4):
        assert torch.equal(out[:, k, k : k + 5], codes[:, k])
        assert (out[:, k, :k] == 1024).all() and (out[:, k, k + 5 :] == 1024).all()
