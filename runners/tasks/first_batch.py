"""The cheap checks every stage and trial runs on its first batch: a broken task fails in seconds.

A task with a mistake inside (outputs of shape (N, 3) against targets (N, 1), a target metric
its metrics do not produce, a loss that is not a finite scalar) used to train for a whole
run, or a minute inside Ray, before anything said so — if anything did: PyTorch only warns
when a loss broadcasts. These checks turn each into one line naming what to fix:

- `check_first_batch(task, loss_fn, outputs, targets)`: called by the trainer on its first
  step (so on every stage run and sweep trial) and by `preflight`;
- `preflight(task, spec)`: builds the model and runs one training batch on the CPU, before
  any run is created (`idealoop run`, `mlflow run`, `idealoop tune`'s driver before Ray).

`shape_problem` is the kind's contract: classification (N, C) outputs with integer (N,)
targets (or soft (N, C) ones); segmentation (N, C, *S) with (N, *S); image2image and
regression outputs exactly the targets' shape. A broadcast is an error, not a warning.
"""

from __future__ import annotations

import math
import warnings

import torch

from runners.tasks import kinds
from runners.tasks.base import ModelSpec, Task, TaskError

BATCH = 8  # samples in the preflight batch: enough for batch statistics, cheap on any model


class TaskCheckError(TaskError):
    """A task that fails a first-batch check (one line for the user)."""


def shown(t: torch.Tensor) -> str:
    return f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}"


def shape_problem(task: Task, out: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why these outputs and targets do not fit the task's kind (None: they do). Pure."""
    if not isinstance(out, torch.Tensor):
        return f"the model returned a {type(out).__name__}, not a tensor"
    what = f"outputs {shown(out)}, targets {shown(y)}"
    if out.device != y.device:
        return f"outputs on {out.device}, targets on {y.device}"
    if len(out) != len(y):
        return f"{what}: not one output per sample"
    if task.kind == "classification":
        soft = y.shape == out.shape and y.is_floating_point()
        if out.dim() != 2 or out.shape[1] < 2 or not (soft or (y.dim() == 1 and not y.is_floating_point())):
            hint = "; a regression? set kind='regression'" if y.is_floating_point() else ""
            return f"{what}: kind classification needs outputs (N, C >= 2) and integer targets (N,){hint}"
        if not soft and len(y) and (int(y.min()) < 0 or int(y.max()) >= out.shape[1]):
            return f"{what}: target classes run {int(y.min())}..{int(y.max())}, outputs have {out.shape[1]}"
    elif task.kind == "segmentation":
        if out.dim() < 3 or tuple(y.shape) != (out.shape[0], *out.shape[2:]) or y.is_floating_point():
            return f"{what}: kind segmentation needs outputs (N, C, ...) and integer targets (N, ...)"
    elif tuple(out.shape) != tuple(y.shape):
        return f"{what}: kind {task.kind} needs outputs of the targets' shape (the loss would broadcast them)"
    elif not out.is_floating_point():
        return f"{what}: kind {task.kind} needs floating-point outputs"
    return None


def loss_problem(loss: object) -> str | None:
    """Why a loss value cannot train a model (None: a finite scalar tensor). Pure."""
    if not isinstance(loss, torch.Tensor):
        return f"the loss returned a {type(loss).__name__}, not a tensor"
    if loss.numel() != 1:
        return f"the loss returned shape {tuple(loss.shape)}, not a scalar (reduce it, e.g. .mean())"
    value = float(loss.detach())
    if not math.isfinite(value):
        return f"the loss is {value} on the first batch"
    return None


def metric_problem(task: Task, out: torch.Tensor, y: torch.Tensor) -> str | None:
    """Whether the task's metrics produce its target metric, finite. Pure (computes on CPU)."""
    try:
        values = kinds.metrics_fn(task)(out.detach().float().cpu(), y.detach().cpu())
    except Exception as exc:  # noqa: BLE001 - a metric that crashes is the task's to fix
        return f"computing the metrics failed: {type(exc).__name__}: {exc}"
    target = task.target_metric
    if target not in values:
        produced = ", ".join(k for k in values if "/" not in k) or "none"
        return f"target metric {target!r} is not among the metrics the task computes ({produced})"
    if not math.isfinite(values[target]):
        return f"target metric {target!r} is {values[target]} on the first batch"
    return None


def first_batch_problem(task: Task, loss_fn, out, y) -> tuple[torch.Tensor | None, str | None]:
    """(loss, None) when outputs, loss and target metric pass; (loss or None, why) otherwise."""
    problem = shape_problem(task, out, y)
    if problem is None and not torch.isfinite(out.detach()).all():
        problem = "the model's outputs hold NaN or inf on the first batch"
    if problem is not None:
        return None, problem
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        loss = loss_fn(out, y)
    broadcast = next((w for w in seen if "size" in str(w.message) and "broadcast" in str(w.message)), None)
    problem = str(broadcast.message).split(". ")[0] if broadcast is not None else loss_problem(loss)
    return loss, problem or metric_problem(task, out, y)


def check_first_batch(task: Task, loss_fn, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """loss_fn(out, y), after checking outputs, loss and target metric; TaskCheckError otherwise."""
    loss, problem = first_batch_problem(task, loss_fn, out, y)
    if problem is not None:
        raise TaskCheckError(f"task {task.name!r}: {problem}")
    return loss


def preflight(task: Task, spec: ModelSpec | None = None) -> None:
    """Build the model and run one training batch on the CPU: the first-batch checks before any run."""
    torch.manual_seed(0)
    try:
        model = task.build_model(spec or ModelSpec())
    except Exception as exc:  # noqa: BLE001
        raise TaskCheckError(f"task {task.name!r}: build_model failed: {type(exc).__name__}: {exc}") from exc
    batch = task.train.take(slice(0, BATCH))
    model.train()
    try:
        out = model(batch.x)
    except Exception as exc:  # noqa: BLE001
        line = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        raise TaskCheckError(
            f"task {task.name!r}: the model fails on a batch {shown(batch.x)}: {line}"
        ) from exc
    try:
        check_first_batch(task, task.loss, out, batch.y)
    except TaskCheckError:
        raise
    except Exception as exc:  # noqa: BLE001 - the loss or the metrics crashed on the batch
        line = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        raise TaskCheckError(f"task {task.name!r}: the loss fails on the first batch: {line}") from exc
