"""stage_check, the ladder's first rung: the model's isolated checks, before any training.

A shape bug, a dead branch or a batch-mixing bug used to cost a whole training run to find.
Here each costs a fraction of a second (`runners/training/checks.py`), on the small model the
next stages train:

  outputs             shapes agree with the targets without broadcasting; output, loss, gradients finite
  target_metric       the target metric is produced, finite, and has the task's direction
  init_loss           the loss at init is near ln C (classification, segmentation) or the task's own
  gradients           every parameter gets a non-zero gradient and moves after one optimizer step
  batch_independence  sample i's output does not depend on sample j (eval mode: batchnorm off)
  gradcheck           the task's custom layers pass torch.autograd.gradcheck in float64
  determinism         the same seed gives the same first losses
  <the task's own>    `Task.checks`

Each is a gate `idealoop.gate.check_<name>` with its one-line reason in tag
`idealoop.check.<name>` and what it measured as `check/*` metrics; gate `check` passes when
all do. `preflight_stage` is the cheap part every other stage runs before creating a run.
"""

from __future__ import annotations

import sys
import time

from runners.stages.config import CheckConfig, as_dict
from runners.tasks.base import ModelSpec, Task, load_task
from runners.tasks.first_batch import preflight
from runners.training import checks
from runners.training.trainer import pick_device, seed_everything
from tracker import keys
from tracker.runs import StageRun
from tracker.store import TAG_CHECK_PREFIX

STAGE = "check"


def spec_of(cfg: object) -> ModelSpec:
    """The model a stage's config asks for (its width, depth, dropout, batchnorm where it has them)."""
    return ModelSpec(
        **{k: getattr(cfg, k) for k in ("width", "depth", "dropout", "batchnorm") if hasattr(cfg, k)}
    )


def preflight_stage(cfg: object, task: Task) -> None:
    """The first-batch checks on the model this stage will train: before any run is created."""
    preflight(task, spec_of(cfg))


def run_all(cfg: CheckConfig, task: Task) -> list[checks.CheckResult]:
    """Every check on fresh models built from the seed, on the device the config names."""
    device = pick_device(cfg.device)
    spec = ModelSpec(width=cfg.width, depth=cfg.depth)

    def build():
        return task.build_model(spec).to(device)

    def on(split, n):
        part = split.take(slice(0, min(n, len(split))))
        return type(part)(part.x.to(device), part.y.to(device))

    train, val = on(task.train, cfg.batch_size), on(task.val, max(cfg.batch_size, 64))
    seed_everything(cfg.seed)
    results = [checks.outputs(task, build(), train)]
    if not results[0].passed:  # the rest would only fail again on the same shapes
        return results
    results += [
        checks.target_metric(task, build(), val),
        checks.init_loss(task, build(), val, cfg.init_loss_tolerance),
        checks.gradients(task, build(), train, cfg.lr),
        checks.batch_independence(task, build(), train),
        checks.custom_layers(task),
        checks.determinism(task, build, train, cfg.seed),
        *checks.task_checks(task, build()),
    ]
    return results


def run_check(cfg: CheckConfig, run: StageRun, *, task: Task | None = None, **_: object) -> list:
    """Run every check inside an open stage run; gates, reasons and values on the run."""
    task = task or load_task(cfg.task, seed=cfg.seed)
    run.log_params({**as_dict(cfg), "stage": STAGE})
    run.log_dict(as_dict(cfg), "config.json")
    t0 = time.perf_counter()
    results = run_all(cfg, task)
    values = {k: v for r in results for k, v in r.values.items()}
    run.writer.log_dict({**values, keys.CHECK_SECONDS: time.perf_counter() - t0}, 0)
    run.set_tags({f"{TAG_CHECK_PREFIX}{r.name}": r.reason[:5000] for r in results})
    for r in results:
        run.set_gate(f"{STAGE}_{r.name}", r.passed)
        print(f"check {r.name}: {'PASSED' if r.passed else 'FAILED'}  {r.reason}", file=sys.stderr)
    run.set_gate(STAGE, all(r.passed for r in results))
    return results
