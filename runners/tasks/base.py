"""The Task interface: what a stage needs to know about a problem, and how to load one.

A task bundles data splits, a model builder, a loss and metrics. Built-in tasks
are looked up by name (`digits`, `shapes`, `denoise`); a user's own task is `package.module:function`,
where the function takes `seed` and returns a `Task`. Loading checks every part
and names what is missing in one line, before any run is created.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """Knobs a stage may turn on a task's model. Defaults: small and plain (the method's start)."""

    width: int = 128  # hidden units per layer
    depth: int = 2  # hidden layers
    dropout: float = 0.0  # off until the scale stage
    batchnorm: bool = False  # off until the scale stage


@dataclass
class Split:
    """One data split held as tensors: inputs and targets, first dimension = samples."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: torch.Tensor | slice) -> Split:
        return Split(self.x[index], self.y[index])


@dataclass
class Task:
    """A problem a stage can train on. See README "Your own task" for a full example.

    Required: the three splits, `build_model(ModelSpec) -> nn.Module` and
    `loss(outputs, targets) -> scalar`. Optional parts have defaults chosen by `kind`:
    `metrics(outputs, targets) -> {name: value}` (names without the `val/` prefix),
    `render_samples(x, outputs, targets) -> PIL.Image`, and `baseline(task, seed)
    -> {name: value}`, a non-deep-learning model scored on the val split.
    """

    name: str
    train: Split
    val: Split
    test: Split
    build_model: Callable[[ModelSpec], nn.Module]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metrics: Callable[[torch.Tensor, torch.Tensor], dict[str, float]] | None = None
    target_metric: str = "accuracy"  # the val metric an idea's impact is measured in
    higher_is_better: bool = True
    kind: str = "classification"  # classification | segmentation | image2image
    class_names: list[str] | None = None
    render_samples: Callable | None = None
    baseline: Callable[[Task, int], dict[str, float]] | None = None
    # Train only: augment(x, y, gen) -> (x, y), so that a flip can flip a mask along with its image.
    augment: (
        Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None
    ) = None


REQUIRED = ("train", "val", "test", "build_model", "loss")


class TaskError(ValueError):
    """A task that cannot be loaded or is incomplete (one line for the user)."""


BUILTIN_TASKS = ("digits", "shapes", "denoise")  # each is runners/tasks/<name>.py:make_task


def _builtin(name: str) -> Callable[..., Task] | None:
    if name not in BUILTIN_TASKS:
        return None
    return importlib.import_module(f"runners.tasks.{name}").make_task


def load_task(spec: str, seed: int = 0) -> Task:
    """Load a built-in task by name, or a user's task from `module:function`."""
    factory = _builtin(spec)
    if factory is None:
        if ":" not in spec:
            raise TaskError(
                f"unknown task {spec!r}; built-in: {', '.join(BUILTIN_TASKS)}, "
                "or give your own as 'package.module:function'"
            )
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix
            raise TaskError(f"task {spec!r}: cannot import module {module_name!r}: {exc}") from exc
        factory = getattr(module, attr, None)
        if factory is None or not callable(factory):
            raise TaskError(f"task {spec!r}: module {module_name!r} has no function {attr!r}")
    try:
        task = factory(seed=seed)
    except TaskError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TaskError(f"task {spec!r}: building it failed: {type(exc).__name__}: {exc}") from exc
    missing = [part for part in REQUIRED if getattr(task, part, None) is None]
    if missing:
        raise TaskError(f"task {spec!r} lacks {', '.join(missing)}; a Task needs {', '.join(REQUIRED)}")
    for split in ("train", "val", "test"):
        if len(getattr(task, split)) == 0:
            raise TaskError(f"task {spec!r}: the {split} split is empty")
    return task
