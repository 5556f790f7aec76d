"""The Audio panel's edit model without Qt (app/model/audio_clips.py, audio_edits.py): trim,
fades, gain and normalise as numbers on the rendered sound, the source never changed,
undo and redo on the document's History, placing a sound on the timeline, and the
project round trip."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from app.model.audio_clips import AudioClip, AudioError, AudioLibrary, meta_text, on_samples
from app.model.audio_edits import (
    AddSound,
    DeleteSound,
    SetSoundFades,
    SetSoundGain,
    TrimSound,
    normalise,
    place_on_timeline,
    render,
)
from app.model.audio_loudness import integrated_loudness
from app.model.document import Document
from app.model.history import History
from app.model.project_file import load_project, read_manifest, save_project
from app.model.timeline_edits import AddTrack
from app.model.timeline_media import add_output, audio_item
from app.model.timeline_render import mix_audio
from engine.protocol import AudioData

RATE = 8000
SECONDS = 2


def tone() -> np.ndarray:
    """Two seconds of stereo: 330 Hz left, 550 Hz right, at 0.4."""
    t = np.arange(RATE * SECONDS) / RATE
    left, right = np.sin(2 * np.pi * 330 * t), np.sin(2 * np.pi * 550 * t)
    return (0.4 * np.stack([left, right])).astype(np.float32)


PROVENANCE = {"task": "music.generate", "watermark": {"id": "abc123"}}
RECIPE = {"task": "music.generate", "params": {"prompt": "a calm piano", "seed": 7}}


@pytest.fixture
def doc() -> Document:
    return Document((64, 64))


@pytest.fixture
def history(doc) -> History:
    return History(doc)


def add_sound(doc: Document, history: History, samples: np.ndarray | None = None) -> str:
    samples = tone() if samples is None else samples
    meta = {"provenance": PROVENANCE, "recipe": RECIPE, "licence": "MIT"}
    item = add_output(doc.media, AudioData(samples, RATE, meta), "Music: a calm piano")
    clip = AudioClip("s1", item, meta=meta_text(meta))
    history.push(AddSound(clip))
    return clip.id


def sound(doc: Document, clip_id: str = "s1") -> AudioClip:
    return doc.audio.find(clip_id)


def test_a_new_sound_renders_its_source_exactly(doc, history):
    add_sound(doc, history)
    clip = sound(doc)
    assert clip.duration == SECONDS and clip.start == 0 and clip.end == SECONDS
    np.testing.assert_array_equal(render(clip, doc.media), tone())
    assert clip.provenance() == PROVENANCE
    assert clip.output_meta() == {"provenance": PROVENANCE, "recipe": RECIPE, "licence": "MIT"}


def test_trim_keeps_the_samples_between_its_edges_and_the_source_whole(doc, history):
    add_sound(doc, history)
    history.push(TrimSound("s1", Fraction(1, 2), Fraction(3, 2)))
    clip = sound(doc)
    rendered = render(clip, doc.media)
    assert rendered.shape == (2, RATE)
    np.testing.assert_array_equal(rendered, tone()[:, RATE // 2 : RATE * 3 // 2])
    np.testing.assert_array_equal(doc.media.data(clip.item), tone())  # non-destructive


def test_trim_lands_on_samples_and_refuses_to_keep_nothing(doc, history):
    add_sound(doc, history)
    history.push(TrimSound("s1", Fraction(1, 3), Fraction(2)))
    assert sound(doc).start == on_samples(Fraction(1, 3), RATE) == Fraction(2667, RATE)
    before = doc.audio
    for start, end in ((Fraction(1), Fraction(1)), (Fraction(0), Fraction(3))):
        with pytest.raises(AudioError):
            history.push(TrimSound("s1", start, end))
    assert doc.audio is before and history.position == 2


def test_fades_ramp_linearly_from_and_to_silence(doc, history):
    add_sound(doc, history)
    history.push(SetSoundFades("s1", Fraction(1, 4), Fraction(1, 2)))
    rendered, source = render(sound(doc), doc.media), tone()
    fade_in, fade_out = RATE // 4, RATE // 2
    k = np.arange(fade_in)
    np.testing.assert_allclose(rendered[:, :fade_in], source[:, :fade_in] * k / fade_in, atol=1e-6)
    middle = slice(fade_in, RATE * SECONDS - fade_out)
    np.testing.assert_array_equal(rendered[:, middle], source[:, middle])
    tail = (RATE * SECONDS - np.arange(RATE * SECONDS - fade_out, RATE * SECONDS)) / fade_out
    np.testing.assert_allclose(rendered[:, -fade_out:], source[:, -fade_out:] * tail, atol=1e-6)
    assert rendered[:, 0].tolist() == [0.0, 0.0]


def test_fades_must_fit_and_a_trim_shortens_them(doc, history):
    add_sound(doc, history)
    with pytest.raises(AudioError, match="fades must fit"):
        history.push(SetSoundFades("s1", Fraction(3, 2), Fraction(1)))
    history.push(SetSoundFades("s1", Fraction(1), Fraction(1, 2)))
    history.push(TrimSound("s1", Fraction(0), Fraction(1, 2)))
    clip = sound(doc)
    assert (clip.fade_in, clip.fade_out) == (Fraction(1, 2), Fraction(0))


def test_gain_in_db_scales_the_samples(doc, history):
    add_sound(doc, history)
    history.push(SetSoundGain("s1", -6.0))
    np.testing.assert_allclose(render(sound(doc), doc.media), tone() * 10 ** (-6 / 20), rtol=1e-6)
    with pytest.raises(AudioError, match="gain"):
        history.push(SetSoundGain("s1", 30.0))


def test_rendering_clips_to_full_scale(doc, history):
    add_sound(doc, history)
    history.push(SetSoundGain("s1", 12.0))
    assert np.abs(render(sound(doc), doc.media)).max() == pytest.approx(1.0)


@pytest.mark.parametrize("target", [-14.0, -23.0])
def test_normalise_hits_the_loudness_target_within_a_tenth(doc, history, target):
    add_sound(doc, history)
    history.push(TrimSound("s1", Fraction(1, 4), Fraction(7, 4)))
    history.push(SetSoundFades("s1", Fraction(1, 10), Fraction(1, 10)))
    history.push(normalise(sound(doc), doc.media, target))
    clip = sound(doc)
    assert clip.loudness_target == target
    assert integrated_loudness(render(clip, doc.media), RATE) == pytest.approx(target, abs=0.1)
    history.push(SetSoundGain("s1", clip.gain_db - 1))
    assert sound(doc).loudness_target is None  # the gain no longer says it


def test_normalise_refuses_silence_and_what_is_too_short(doc, history):
    add_sound(doc, history, np.zeros((1, RATE), np.float32))
    with pytest.raises(AudioError, match="silence"):
        normalise(sound(doc), doc.media)
    history.push(TrimSound("s1", Fraction(0), Fraction(1, 10)))
    with pytest.raises(AudioError, match="shorter than 0.4 s"):
        normalise(sound(doc), doc.media)


def test_undo_and_redo_give_back_each_state_exactly(doc, history):
    add_sound(doc, history)
    states = [doc.audio]
    for edit in (
        TrimSound("s1", Fraction(1, 8), Fraction(15, 8)),
        SetSoundFades("s1", Fraction(1, 5), Fraction(0)),
        SetSoundGain("s1", 3.5),
    ):
        history.push(edit)
        states.append(doc.audio)
    history.push(normalise(sound(doc), doc.media))
    states.append(doc.audio)
    assert history.undo_label == "Normalise sound"
    for state in reversed(states[:-1]):
        history.undo()
        assert doc.audio == state
    history.undo()
    assert doc.audio == AudioLibrary()
    for state in states:
        history.redo()
        assert doc.audio == state


def test_the_steps_of_one_drag_are_one_undo_step(doc, history):
    add_sound(doc, history)
    for gain in (-1.0, -2.0, -3.0):
        history.push(SetSoundGain("s1", gain, merge_key="drag-1"))
    assert sound(doc).gain_db == -3.0 and history.position == 2
    history.undo()
    assert sound(doc).gain_db == 0.0


def test_delete_takes_it_out_of_the_list_and_undo_puts_it_back(doc, history):
    add_sound(doc, history)
    kept = sound(doc)
    history.push(DeleteSound("s1"))
    assert doc.audio.clips == ()
    history.undo()
    assert doc.audio.clips == (kept,)


# ---- onto the timeline -----------------------------------------------------------------------


def test_a_sound_on_the_timeline_mixes_as_the_panel_renders_it(doc, history):
    add_sound(doc, history)
    history.push(TrimSound("s1", Fraction(1, 2), Fraction(2)))
    history.push(SetSoundFades("s1", Fraction(1, 4), Fraction(1, 4)))
    history.push(SetSoundGain("s1", -3.0))
    clip = sound(doc)
    command, clip_id = place_on_timeline(doc.timeline, clip)
    history.push(command)
    track, placed = doc.timeline.find(clip_id)
    assert track.kind == "audio" and placed.start == 0 and placed.duration == clip.duration
    mixed = mix_audio(doc.timeline, doc.media, RATE, 2)
    np.testing.assert_allclose(mixed, render(clip, doc.media), atol=1e-7)
    history.undo()  # one step: the track, the media, the clip and its settings
    assert doc.timeline.tracks == () and doc.timeline.media == ()


def test_a_dropped_sound_goes_where_it_was_dropped_or_where_there_is_room(doc, history):
    add_sound(doc, history)
    clip = sound(doc)
    history.push(AddTrack("video", track_id="v"))
    history.push(AddTrack("audio", track_id="a1"))
    history.push(AddTrack("audio", track_id="a2"))
    command, first = place_on_timeline(doc.timeline, clip, "a2", Fraction(3))
    history.push(command)
    assert doc.timeline.find(first)[0].id == "a2" and doc.timeline.find(first)[1].start == 3
    command, second = place_on_timeline(doc.timeline, clip, "a2", Fraction(4))  # overlaps
    history.push(command)
    assert doc.timeline.find(second)[0].id == "a1" and doc.timeline.find(second)[1].start == 4
    command, third = place_on_timeline(doc.timeline, clip, "v", Fraction(4))  # no room
    history.push(command)
    assert doc.timeline.find(third)[0].id == "a1"
    assert doc.timeline.find(third)[1].start == 4 + clip.duration  # at the track's end


# ---- the project -----------------------------------------------------------------------------


def test_sounds_and_their_settings_are_saved_and_reopened_identically(doc, history, tmp_path):
    add_sound(doc, history)
    second = audio_item(tone()[:1] * np.float32(0.5), RATE, "Mono")
    doc.media.add(second, tone()[:1] * np.float32(0.5))
    history.push(AddSound(AudioClip("s2", second)))
    history.push(TrimSound("s1", Fraction(1, 3), Fraction(5, 3)))
    history.push(SetSoundFades("s1", Fraction(1, 7), Fraction(1, 5)))
    history.push(normalise(sound(doc), doc.media))
    history.push(SetSoundGain("s2", -4.25))
    command, _ = place_on_timeline(doc.timeline, sound(doc))  # its source shared
    history.push(command)
    path = save_project(doc, tmp_path / "sounds.atelier")
    manifest = read_manifest(path)
    assert manifest["version"] == 4
    assert [m["id"] for m in manifest["audio"]["media"]] == [second.id]  # the other's: timeline
    opened = load_project(path)
    assert opened.audio == doc.audio
    assert opened.timeline == doc.timeline
    for clip in doc.audio.clips:
        np.testing.assert_array_equal(
            render(opened.audio.find(clip.id), opened.media), render(clip, doc.media)
        )
    assert opened.audio.find("s1").output_meta() == doc.audio.find("s1").output_meta()


def test_a_project_without_sounds_keeps_its_older_version(doc, tmp_path):
    manifest = read_manifest(save_project(doc, tmp_path / "plain.atelier"))
    assert manifest["version"] == 1 and "audio" not in manifest
