"""A training-only side task for the text encoder: read the described layout back from it.

Trained from scratch on the diffusion loss alone, the text encoder learned colours but
never the place words: "top" and "bottom" came out nearly the same vector, so the UNet
had nothing to place a shape by, and without a UNet that places shapes there was no
gradient to tell the words apart. A model given the layout as clean vectors instead of
text learned placement in about 250 steps. This head asks the encoder's mean output to
predict, for each of the nine grid cells, the colour and kind of the shape the caption
puts there (and the background colour), so place words get their own directions from
the first step. It is not part of the exported model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .scenes import KINDS, PALETTE, POSITIONS, Scene

_COLORS, _CELLS, _POSITIONS = list(PALETTE), len(POSITIONS), list(POSITIONS)
IGNORE = -100  # cross_entropy's ignore_index: nothing is known about this target


class LayoutHead(nn.Module):
    """Linear read-out of per-cell colour and kind (index 0: empty) and the background."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.cell_colors = nn.Linear(width, _CELLS * (len(_COLORS) + 1))
        self.cell_kinds = nn.Linear(width, _CELLS * (len(KINDS) + 1))
        self.background = nn.Linear(width, len(_COLORS))

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the read-out of `hidden` (N, tokens, width) against
        layout_targets rows (N, 19)."""
        pooled = hidden.mean(dim=1)
        colors = self.cell_colors(pooled).view(len(pooled), _CELLS, -1)
        kinds = self.cell_kinds(pooled).view(len(pooled), _CELLS, -1)
        losses = [
            F.cross_entropy(colors.flatten(0, 1), targets[:, :_CELLS].flatten()),
            F.cross_entropy(kinds.flatten(0, 1), targets[:, _CELLS : 2 * _CELLS].flatten()),
            F.cross_entropy(self.background(pooled), targets[:, -1]),
        ]
        # A batch may hold no known target of a kind (e.g. all captions dropped): nan -> 0.
        return sum(torch.nan_to_num(loss) for loss in losses)


def layout_targets(described: Scene | None) -> list[int]:
    """The 19 class targets for a caption's described scene (None: a dropped caption).

    Cells are only known when the caption places every shape; otherwise they are IGNORE.
    """
    if described is None:
        return [IGNORE] * (2 * _CELLS + 1)
    colors, kinds = [0] * _CELLS, [0] * _CELLS
    if any(shape.position is None for shape in described.shapes):
        colors, kinds = [IGNORE] * _CELLS, [IGNORE] * _CELLS
    else:
        for shape in described.shapes:
            cell = _POSITIONS.index(shape.position)
            colors[cell] = 1 + _COLORS.index(shape.color)
            kinds[cell] = 1 + KINDS.index(shape.kind)
    return [*colors, *kinds, _COLORS.index(described.background)]
