"""A task's slices: scored by hand on a few samples; a broken `slices()` is one line at preflight."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from runners.tasks.base import Split, Task, TaskError
from runners.tasks.first_batch import TaskCheckError, preflight
from runners.tasks.slices import masks_of, slice_metrics


def _task(slices=None) -> Task:
    x = torch.arange(24, dtype=torch.float32).reshape(12, 2)
    y = torch.tensor([0, 1] * 6)
    split = Split(x, y)
    return Task("toy", split, split, split, lambda spec: nn.Linear(2, 2), nn.functional.cross_entropy,
                slices=slices)  # fmt: skip


def test_slice_metrics_match_a_hand_count():
    task = _task()
    # predictions 0,0,1,1,1,0 against targets 0,1,0,1,0,1: slice "a" (the first three) gets 1 of 3 right
    out = torch.tensor([[2.0, 0], [2, 0], [0, 2], [0, 2], [0, 2], [2, 0]])
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    masks = {
        "a": torch.tensor([True, True, True, False, False, False]),
        "none": torch.zeros(6, dtype=torch.bool),
    }
    got = slice_metrics(task, out, y, masks)
    assert got["slice/a/accuracy"] == pytest.approx(1 / 3) and got["slice/a/share"] == 0.5
    assert got["slice/a/loss"] == pytest.approx(float(nn.functional.cross_entropy(out[:3], y[:3])))
    assert "slice/a/f1_macro" in got
    # Per-class values within a slice would multiply rows by classes: left out.
    assert not [k for k in got if k.count("/") > 2]
    # An empty slice has its share (0), and no metric computed over nothing (NaN or a crash).
    assert got["slice/none/share"] == 0 and "slice/none/accuracy" not in got


@pytest.mark.parametrize(
    ("slices", "says"),
    [
        (lambda x, y: [x[:, 0] > 3], "slices() returned a list, not {name: mask}"),
        (
            lambda x, y: {"big": (x[:, 0] > 3).long()},
            "slice 'big': the mask must be a bool tensor, got torch.int64",
        ),
        (
            lambda x, y: {"big": x[:4, 0] > 3},
            "slice 'big': mask of shape (4,), expected (8,): one per sample",
        ),
        (lambda x, y: {"big": x.missing}, "slices() failed: AttributeError"),
    ],
)
def test_a_broken_slices_function_fails_preflight_in_one_line(slices, says):
    # Without the preflight, the mistake would surface after the run's first val pass, as a traceback.
    task = _task(slices)
    with pytest.raises(TaskCheckError) as err:
        preflight(task)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_masks_are_read_once_per_split_and_kept_on_the_cpu():
    task = _task(lambda x, y: {"odd": y == 1})
    masks = masks_of(task, task.val)
    assert list(masks) == ["odd"] and int(masks["odd"].sum()) == 6
    assert masks_of(_task(), task.val) == {}  # no slices: nothing to score
    with pytest.raises(TaskError):
        masks_of(_task(lambda x, y: {"": y == 1}), task.val)
