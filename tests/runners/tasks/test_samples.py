"""Sample grids are read on the board: their labels must be large enough to read there."""

from __future__ import annotations

import numpy as np
import torch

from runners.tasks import kinds, samples
from runners.tasks.base import load_task

BOARD_COLUMN_PX = 350  # the narrowest the board's half-page column draws a grid (1400 px window)


def _text_height(img, box) -> int:
    """Rows of dark (text) pixels inside `box` (left, top, right, bottom), first to last."""
    a = np.asarray(img.convert("L").crop(box))
    rows = np.nonzero((a < 100).any(axis=1))[0]
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def test_classification_labels_are_readable_where_the_board_shows_them():
    # Pillow's default bitmap font draws `p:9 t:9` ~9 px high; scaled into the board's column
    # it was ~7 px. Measured on the drawn pixels, after the scale the board applies.
    task = load_task("digits")
    x, y = task.val.x[:16], task.val.y[:16]
    grid = kinds.samples_fn(task)(x, torch.nn.functional.one_hot(y, 10).float(), y)
    label = (0, samples.CELL + 4, samples.CELL + 4, samples.CELL + 4 + samples.LABEL_H)
    shown = min(1.0, BOARD_COLUMN_PX / grid.width)  # the board stretches the grid to its column
    assert _text_height(grid, label) * shown >= 14
    assert grid.size == (4 * (samples.CELL + 4), 4 * (samples.CELL + 4 + samples.LABEL_H))  # 4 x 4


def test_column_titles_and_legend_are_readable_too():
    task = load_task("shapes")
    x, y = task.val.x[:2], task.val.y[:2]
    grid = kinds.samples_fn(task)(x, torch.nn.functional.one_hot(y, 4).permute(0, 3, 1, 2).float(), y)
    shown = min(1.0, BOARD_COLUMN_PX / grid.width)
    title = (0, 0, samples.CELL, samples.LABEL_H)  # "input"
    legend = (0, grid.height - samples.LABEL_H, grid.width, grid.height)  # "triangle", the last class
    assert _text_height(grid, title) * shown >= 12  # x-height letters: "input" has no ascender but "t"
    assert _text_height(grid, legend) * shown >= 14


def test_a_long_label_is_cut_to_its_cell():
    assert samples.fit_text("p:1 t:2", samples.CELL) == "p:1 t:2"
    cut = samples.fit_text("a_very_long_class_name_indeed", samples.CELL)
    assert cut.endswith("…") and samples.font().getlength(cut) <= samples.CELL
