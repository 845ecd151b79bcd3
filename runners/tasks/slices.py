"""A task's slices: named subsets of the val data (faint digits, points near the boundary) scored apart.

Per-class metrics say which classes a model gets wrong; a slice says which *inputs* it gets
wrong, cut along whatever the task knows matters. `Task.slices(x, y) -> {name: bool mask}`
is optional; a training run computes the masks once on the val split (`masks_of`), and every
full val pass adds, per slice, the kind's headline metrics and the loss on its samples plus its
share of the val data (`slice_metrics`): keys `slice/<name>/<metric>` and `slice/<name>/share`.
They are breakdowns, so they go to the per-class file, not to MLflow's metric table
(tracker/artifacts.py, docs/telemetry.md). Slices may overlap and need not cover the data.
`tracker/weak.py` flags the slices scoring worse than the whole val set as idea seeds.
"""

from __future__ import annotations

import torch

from runners.tasks import kinds
from runners.tasks.base import Split, Task, TaskError
from tracker import keys


def masks_of(task: Task, split: Split) -> dict[str, torch.Tensor]:
    """The task's slices of a split, checked: a bool mask with one entry per sample each.

    A TaskError names the slice and what is wrong; {} when the task defines no slices.
    """
    if task.slices is None:
        return {}
    try:
        got = task.slices(split.x, split.y)
    except Exception as exc:  # noqa: BLE001 - the task's own function: its error, one line
        raise TaskError(f"task {task.name!r}: slices() failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(got, dict):
        raise TaskError(f"task {task.name!r}: slices() returned a {type(got).__name__}, not {{name: mask}}")
    masks = {}
    for name, mask in got.items():
        what = f"task {task.name!r}: slice {name!r}"
        if not isinstance(name, str) or not name:
            raise TaskError(f"{what}: a slice's name must be a non-empty string")
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            kind = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise TaskError(f"{what}: the mask must be a bool tensor, got {kind}")
        if tuple(mask.shape) != (len(split),):
            raise TaskError(
                f"{what}: mask of shape {tuple(mask.shape)}, expected ({len(split)},): one per sample"
            )
        masks[name] = mask.cpu()
    return masks


def slice_metrics(
    task: Task, outputs: torch.Tensor, targets: torch.Tensor, masks: dict[str, torch.Tensor]
) -> dict[str, float]:
    """`slice/<name>/<metric>` (the kind's headline metrics and `loss`) and `slice/<name>/share`.

    Outputs and targets are a whole split's, on the CPU; an empty slice gets its share (0) only.
    Per-class values of a slice (`f1/7` within it) are left out: one row per slice and metric.
    """
    metrics_fn, total = kinds.metrics_fn(task), max(len(targets), 1)
    out: dict[str, float] = {}
    for name, mask in masks.items():
        prefix = f"{keys.SLICE_PREFIX}{name}/"
        n = int(mask.sum())
        out[prefix + keys.SLICE_SHARE] = n / total
        if not n:
            continue
        sub_out, sub_y = outputs[mask], targets[mask]
        values = {"loss": float(task.loss(sub_out, sub_y)), **metrics_fn(sub_out, sub_y)}
        out.update({prefix + k: float(v) for k, v in values.items() if "/" not in k})
    return out
