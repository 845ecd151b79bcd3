"""The Task interface: what a stage needs to know about a problem, and how to load one.

A task bundles data splits, a model builder, a loss and metrics. Built-in tasks
are looked up by name (`digits`, `shapes`, `denoise`); a user's own task is `package.module:function`,
where the function takes `seed` and returns a `Task`. The module is looked for in the working
directory first, as `python -m` would (the `idealoop` console script alone would not). Loading
checks every part and names the real problem in one line (not a `Task`, an unknown kind, a
missing part), before any run is created.
"""

from __future__ import annotations

import importlib
import os
import sys
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
    target_metric: str = ""  # the val metric an idea's impact is measured in ("": the kind's, KIND_TARGETS)
    higher_is_better: bool | None = None  # None: the kind's default target's direction
    kind: str = "classification"  # classification | segmentation | image2image | regression
    class_names: list[str] | None = None
    render_samples: Callable | None = None
    baseline: Callable[[Task, int], dict[str, float]] | None = None
    # Train only: augment(x, y, gen) -> (x, y), so that a flip can flip a mask along with its image.
    augment: (
        Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None
    ) = None
    # stage_check (runners/stages/check.py) reads these three; all optional.
    expected_init_loss: float | None = None  # loss at init; None: ln C for classification/segmentation
    # Layers with a hand-written backward, checked with torch.autograd.gradcheck in float64:
    # {name: (module or function, tiny example input or tuple of inputs)}.
    custom_layers: dict[str, tuple[Callable, object]] | None = None
    # Extra checks: check(task, model) -> (passed, one-line reason); each becomes a gate `check_<name>`.
    checks: list[Callable] | None = None

    def __post_init__(self) -> None:
        default = KIND_TARGETS.get(self.kind, ("", True))
        if not self.target_metric:
            self.target_metric = default[0]
        if self.higher_is_better is None:  # by name: losses and errors are minimised
            lower = any(word in self.target_metric for word in LOWER_WORDS)
            self.higher_is_better = default[1] if self.target_metric == default[0] else not lower


# Each kind's default target metric and direction (runners/tasks/kinds.py computes them).
KIND_TARGETS = {
    "classification": ("accuracy", True),
    "segmentation": ("miou", True),
    "image2image": ("l1", False),
    "regression": ("mse", False),
}
KINDS = tuple(KIND_TARGETS)
LOWER_WORDS = ("loss", "l1", "l2", "mse", "mae", "error", "rmse")


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
        _working_directory_importable()
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
    if not isinstance(task, Task):
        got = type(task).__name__
        hint = (
            " (build it with Task(name, train, val, test, build_model, loss, ...))" if got == "dict" else ""
        )
        raise TaskError(
            f"task {spec!r}: {attr_of(spec)} returned a {got}, not a runners.tasks.base.Task{hint}"
        )
    missing = [part for part in REQUIRED if getattr(task, part, None) is None]
    if missing:
        raise TaskError(f"task {spec!r} lacks {', '.join(missing)}; a Task needs {', '.join(REQUIRED)}")
    if task.kind not in KINDS:
        raise TaskError(f"task {spec!r}: unknown kind {task.kind!r}; known: {', '.join(KINDS)}")
    for split in ("train", "val", "test"):
        if len(getattr(task, split)) == 0:
            raise TaskError(f"task {spec!r}: the {split} split is empty")
    return task


def attr_of(spec: str) -> str:
    return f"{spec.partition(':')[2]}()" if ":" in spec else "make_task()"


def _working_directory_importable() -> None:
    """`--task mytask:make_task` finds ./mytask.py as `python -m` would: the working directory goes
    first on sys.path, and into PYTHONPATH so the processes a run starts (Ray trials, data-parallel
    ranks) find it too."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if cwd not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([cwd, *[p for p in paths if p]])


def target_direction(spec: str, metric: str) -> bool:
    """Whether higher is better for a project target on task `spec` in `metric` (its target metric)."""
    task = load_task(spec)
    if metric != task.target_metric:
        raise TaskError(
            f"metric {metric!r}: task {spec!r} is judged by {task.target_metric!r}; "
            "the target is set in that metric (the one every run's best score is kept in)"
        )
    return task.higher_is_better
