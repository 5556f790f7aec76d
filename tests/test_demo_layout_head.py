"""The demo trainer's side task: targets follow what a caption says, and the head can learn
to read a layout from text features that carry it."""

from __future__ import annotations

import torch

from demo_model.layout_head import IGNORE, LayoutHead, layout_targets
from demo_model.scenes import KINDS, PALETTE, POSITIONS, Scene, Shape

COLORS = list(PALETTE)


def test_targets_put_each_said_shape_in_its_cell():
    scene = Scene(
        "blue",
        (Shape("star", "red", position="top left"), Shape("square", "pink", position="bottom")),
    )
    targets = layout_targets(scene)
    colors, kinds, background = targets[:9], targets[9:18], targets[18]
    top_left, bottom = list(POSITIONS).index("top left"), list(POSITIONS).index("bottom")
    assert colors[top_left] == 1 + COLORS.index("red") and kinds[top_left] == 1 + KINDS.index(
        "star"
    )
    assert colors[bottom] == 1 + COLORS.index("pink") and kinds[bottom] == 1 + KINDS.index("square")
    assert sum(c != 0 for c in colors) == 2 and sum(k != 0 for k in kinds) == 2
    assert background == COLORS.index("blue")


def test_cells_are_unknown_when_a_shape_is_not_placed_and_all_is_unknown_for_no_caption():
    scene = Scene("white", (Shape("circle", "red", position="left"), Shape("star", "black")))
    targets = layout_targets(scene)
    assert targets[:18] == [IGNORE] * 18 and targets[18] == COLORS.index("white")
    assert layout_targets(None) == [IGNORE] * 19


def test_the_head_learns_a_layout_that_the_features_carry_and_ignores_unknowns():
    torch.manual_seed(0)
    scenes = [
        Scene(COLORS[i % 9], (Shape(KINDS[i % 4], COLORS[(i + 1) % 9], position=p),))
        for i, p in enumerate(list(POSITIONS) * 4)
    ]
    targets = torch.tensor([layout_targets(s) for s in scenes])
    features = torch.nn.functional.one_hot(torch.arange(len(scenes))).float()[:, None, :]
    head = LayoutHead(features.shape[-1])
    optimizer = torch.optim.Adam(head.parameters(), lr=0.1)
    first = head.loss(features, targets).item()
    for _ in range(200):
        loss = head.loss(features, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 * first
    unknown = torch.full_like(targets, IGNORE)
    assert head.loss(features, unknown).item() == 0.0
