"""The window given hostile files: File > Open and the Verify panel say what is wrong in one
sentence, keep the open document as it was, and never run foreign code."""

from __future__ import annotations

import numpy as np

from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    diffusion_registry,
    qt_loop,
)


def composite(win) -> np.ndarray:
    return win.session.doc.composite()


def test_opening_hostile_pictures_keeps_the_document(canvas_window, hostile, foreign_code_marker):
    win = canvas_window
    before, doc_id = composite(win), win.session.doc.id
    for name, path in hostile.items():
        win.messages.dismiss()
        assert not win.files.open(path), name
        assert win.messages.kind == "error", name
        assert path.name in win.messages.text and "Traceback" not in win.messages.text
        assert len(win.messages.text.splitlines()) == 1, win.messages.text
    assert win.session.doc.id == doc_id
    assert np.array_equal(composite(win), before)
    assert win.isVisible()


def test_the_verify_panel_reports_hostile_files(qtbot, hostile, foreign_code_marker):
    from plugins.provenance.ui_verify import VerifyPanel

    panel = VerifyPanel()
    qtbot.addWidget(panel)
    panel.verify(list(hostile.values()))
    qtbot.waitUntil(lambda: panel.pending == 0, timeout=60_000)
    text = panel.text()
    for path in hostile.values():
        assert path.name in text
    assert "could not be checked" not in text  # that is the panel's catch-all for bugs


def test_opening_hostile_projects_keeps_the_document(canvas_window, tmp_path):
    from tests.fuzz.test_fuzz_projects import HOSTILE

    win = canvas_window
    before, doc_id = composite(win), win.session.doc.id
    for number, (name, make) in enumerate(HOSTILE.items()):
        path = tmp_path / f"hostile-{number}.atelier"
        path.write_bytes(make())
        win.messages.dismiss()
        assert not win.files.open(path), name
        assert win.messages.kind == "error" and path.name in win.messages.text, name
        assert len(win.messages.text.splitlines()) == 1, win.messages.text
    assert win.session.doc.id == doc_id and np.array_equal(composite(win), before)


def test_pictures_with_hostile_settings_open_and_say_what_they_can(canvas_window, tmp_path):
    """The settings offer after File > Open reads another tool's metadata: 10 MB of A1111
    text, a ComfyUI graph nested 100,000 deep, an Atelier recipe with infinities."""
    from tests.fuzz.test_fuzz_images import small_png

    win = canvas_window
    texts = {
        "long": {"parameters": "a castle, " * 1_000_000 + "\nSteps: 99999999999999999999"},
        "deep": {"prompt": "[" * 100_000 + "]" * 100_000},
        "odd": {"atelier": '{"generation": {"steps": 1e999, "width": "wide", "seed": null}}'},
    }
    for name, text in texts.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(small_png(text))
        win.messages.dismiss()
        assert win.files.open(path), name
        assert win.session.doc.size == (16, 16)
        assert path.name in win.messages.text and "Traceback" not in win.messages.text
        if win.messages.kind == "info":  # "Reuse settings" must not break the form
            win.messages.action_button.click()
        assert win.isVisible()
