"""The video modes in the window and on the command line: text to video and image to video
are Generate modes, their requests take the canvas (or the selection) like image to image
and offer their clips for the timeline, a finished clip goes to the timeline from the
results strip and leaves the window working, and `atelier video` /
`atelier animate` write clips."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.clip_candidates import ClipCandidate
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.requests import RequestError, build_request
from app.model.selection import Selection
from app.model.tiles import Rect
from engine.protocol import VideoData
from plugins.video import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from plugins.video import plugin as video_plugin
from tests.canvas_helpers import small_document
from tests.fixtures.tiny_video import save_tiny_motion_adapter
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)

FORM = {"prompt": "a red circle", "steps": 2, "seed": 5, "frames": 3}


@pytest.fixture
def motion_home(atelier_home):
    save_tiny_motion_adapter(atelier_home / "models" / "motion" / "tiny-motion", {"frames": 8})
    return atelier_home


def test_text_to_video_asks_for_the_panels_size_and_offers_its_clip_for_the_timeline():
    doc = small_document()
    request = build_request(TEXT_TO_VIDEO, FORM, doc, (96, 64))
    assert (request.params.width, request.params.height, request.params.frames) == (96, 64, 3)
    assert request.preview == Rect(0, 0, doc.width, doc.height // 3)  # a strip of 3 frames
    clip = VideoData(np.zeros((3, 64, 96, 3), np.uint8), 8.0)
    (candidate,) = request.candidates([clip])
    assert isinstance(candidate, ClipCandidate) and candidate.output is clip


def test_image_to_video_takes_the_selection_like_image_to_image():
    doc = small_document()
    mask = np.zeros((doc.height, doc.width), np.uint8)
    mask[8:40, 16:48] = 255
    doc.selection = Selection(mask)
    request = build_request(IMAGE_TO_VIDEO, FORM, doc, (64, 64))
    assert request.params.image.shape == (32, 32, 4)
    assert np.array_equal(request.params.image, doc.composite(Rect(16, 8, 32, 32)))
    blank = Document((64, 64), [RasterLayer.blank((64, 64))])
    with pytest.raises(RequestError, match="empty"):
        build_request(IMAGE_TO_VIDEO, FORM, blank, (64, 64))


def test_a_finished_clip_goes_to_the_timeline_and_the_window_keeps_working(
    qtbot,
    qt_loop,  # noqa: F811
    motion_home,
    tiny_config_root,
    tmp_path,
):
    registry = diffusion_registry()
    registry.add(video_plugin)
    window = make_window(qtbot, registry, make_store(motion_home, tmp_path, tiny_config_root))
    try:
        window.files.new(small_document())
        panel = window.prompt_panel
        QTest.mouseClick(mode_button(panel, TEXT_TO_VIDEO.id), Qt.MouseButton.LeftButton)
        panel.form.set_values({"prompt": "a red circle", "steps": 2, "width": 64, "height": 64})
        panel.mode_forms.forms[TEXT_TO_VIDEO.id].set_values({"frames": 3})
        with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS) as finished:
            QTest.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.generation.running, timeout=WAIT_MS)
        (clip,) = finished.args[0].outputs
        assert isinstance(clip, VideoData) and clip.frames.shape == (3, 64, 64, 3)
        assert window.results.current.output is clip
        window.apply_button.click()
        (track,) = window.session.doc.timeline.tracks
        assert track.kind == "video" and len(track.clips) == 1
        assert track.clips[0].duration == Fraction(3) / Fraction(clip.fps)
        window.session.undo()
        assert window.session.doc.timeline.tracks == ()
        QTest.mouseClick(mode_button(panel, "diffusion.txt2img"), Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS):
            QTest.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.results.current is not None, timeout=WAIT_MS)
    finally:
        close_window(window)


def mode_button(panel, task_id: str):
    return next(b for b in panel.mode_buttons.buttons() if b.objectName() == f"mode_{task_id}")


def test_the_cli_writes_a_clip_and_animates_a_still(motion_home, tmp_path, capsys):
    from app.cli import main
    from app.model.image_files import encode_png

    out = tmp_path / "clip.gif"
    common = ["--steps", "2", "--frames", "3", "--seed", "4"]
    assert main(["video", "a red circle", "--size", "64x64", *common, "-o", str(out)]) == 0
    assert out.stat().st_size > 0 and "seed 4" in capsys.readouterr().out
    still = tmp_path / "still.png"
    picture = np.full((64, 64, 4), 255, np.uint8)
    picture[16:48, 16:48, :2] = 0
    still.write_bytes(encode_png(picture))
    animated = tmp_path / "animated.gif"
    assert (
        main(
            [
                "animate",
                str(still),
                "a blue square",
                *common,
                "--work-size",
                "64",
                "-o",
                str(animated),
            ]
        )
        == 0
    )
    assert animated.stat().st_size > 0
