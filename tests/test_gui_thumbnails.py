"""Selected thumbnails, in the results strip and the Layers panel, show the picture's true
colours (Qt would tint them with the highlight colour) and a selection frame around them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QWidget

from app.model.document import Document
from app.model.layers import RasterLayer
from app.ui.doc_session import DocumentSession
from app.ui.images import rgba_from_qimage
from app.ui.layer_actions import LayerActions
from app.ui.layers_panel import LayersPanel
from app.ui.results_strip import ResultsStrip
from app.ui.theme import SELECTION_FRAME, apply_dark_theme
from app.ui.thumb_icons import FRAME
from engine.protocol import ImageData

ORANGE, BLACK = (255, 128, 0), (0, 0, 0)
FRAME_RGB = tuple(int(SELECTION_FRAME[i : i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(autouse=True)
def dark_theme(qapp):
    """The studio's theme, as the app runs; the test application's own look put back after."""
    style, palette, sheet = qapp.style().name(), qapp.palette(), qapp.styleSheet()
    apply_dark_theme(qapp)
    yield
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setPalette(palette)


def solid(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> np.ndarray:
    pixels = np.empty((size[1], size[0], 4), np.uint8)
    pixels[...] = (*rgb, 255)
    return pixels


def drawn(widget: QWidget) -> np.ndarray:
    """The widget's pixels as it paints them (RGB)."""
    QApplication.processEvents()
    return rgba_from_qimage(widget.grab().toImage())[..., :3]


def box_of(shot: np.ndarray, rgb: tuple[int, int, int], area) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the pixels of exactly `rgb` inside the QRect `area`."""
    part = shot[area.top() : area.bottom() + 1, area.left() : area.right() + 1]
    ys, xs = np.nonzero((part == rgb).all(axis=-1))
    assert xs.size, f"no pixel of {rgb} in {area}: the thumbnail is tinted"
    return (
        xs.min() + area.left(),
        ys.min() + area.top(),
        xs.max() + area.left(),
        ys.max() + area.top(),
    )


def frame_rings(shot: np.ndarray, box: tuple[int, int, int, int], reach: int = 8) -> int:
    """How many one-pixel rings around `box`, within `reach` pixels of it, are wholly of the
    selection frame's colour."""
    left, top, right, bottom = box
    whole = 0
    for d in range(1, reach + 1):
        if min(top, left) < d or bottom + d >= shot.shape[0] or right + d >= shot.shape[1]:
            break
        outer = shot[top - d : bottom + d + 1, left - d : right + d + 1]
        edges = np.concatenate([outer[0], outer[-1], outer[:, 0], outer[:, -1]])
        whole += bool((edges == FRAME_RGB).all())
    return whole


def test_a_selected_result_keeps_its_colours_and_is_framed(qtbot):
    strip = ResultsStrip()
    qtbot.addWidget(strip)
    strip.resize(400, strip.height())
    strip.show()
    strip.add_images([ImageData(solid(ORANGE)), ImageData(solid(BLACK))])
    assert strip.currentRow() == 0  # the batch's first, orange, is selected
    shot = drawn(strip.viewport())

    orange = box_of(shot, ORANGE, strip.visualItemRect(strip.item(0)))
    left, top, right, bottom = orange
    assert right - left > 40 and bottom - top > 30  # the whole thumbnail, untinted
    assert frame_rings(shot, orange) == FRAME

    black = box_of(shot, BLACK, strip.visualItemRect(strip.item(1)))
    assert black[2] - black[0] > 40 and black[3] - black[1] > 30
    assert frame_rings(shot, black) == 0  # not selected: no frame


def test_the_active_layers_thumbnail_keeps_its_colours_and_is_framed(qtbot):
    orange = RasterLayer.from_array(solid(ORANGE, (64, 64)), name="Orange")
    black = RasterLayer.from_array(solid(BLACK, (64, 64)), name="Black")
    session = DocumentSession(Document((64, 64), [black, orange]))
    panel = LayersPanel(session, LayerActions(session))
    qtbot.addWidget(panel)
    panel.resize(300, 300)
    panel.show()
    for layer, other in ((orange, black), (black, orange)):
        session.set_active(layer.id)
        shot = drawn(panel.tree.viewport())
        rows = {lay: panel.tree.visualItemRect(panel.item_of(lay.id)) for lay in (orange, black)}
        colour = {orange: ORANGE, black: BLACK}
        chosen = box_of(shot, colour[layer], rows[layer])
        assert chosen[2] - chosen[0] > 30 and chosen[3] - chosen[1] > 30
        assert frame_rings(shot, chosen) == FRAME
        unchosen = box_of(shot, colour[other], rows[other])
        assert frame_rings(shot, unchosen) == 0
