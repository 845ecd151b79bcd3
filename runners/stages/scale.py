"""stage_scale: a bigger model with the tricks switched back on — does it beat generalize?

"Finally, it's time to try out bigger architectures … and try out other features which
we removed before (dropout, batchnorm, LR decay, etc.)", plus data engineering:
class weights and augmentation (training data only — never val), and for
image-to-image tasks an adversarial critic on top of L1 (`critic=true`,
runners/training/critic.py); the recipe itself is `scale_recipe.py`, shared with the
data-parallel ranks (`parallel.py`). The gate `idealoop.gate.scale` passes when the
best val target metric beats the best stage_generalize run of the idea (else the
project's best on the same task), in the task's direction (higher mIoU, lower l1).
"""

from __future__ import annotations

import sys

from runners.stages.config import ScaleConfig
from runners.stages.parallel import run_data_parallel
from runners.stages.scale_recipe import STAGE, train_scale
from runners.tasks.base import Task, load_task
from runners.training.checkpoint import Checkpoints, RunCheckpoints
from runners.training.fit import FitResult
from tracker import keys
from tracker.learning import improves
from tracker.runs import StageRun, best_metric
from tracker.store import TAG_SCALE_REFERENCE_RUN


def run_scale(
    cfg: ScaleConfig,
    run: StageRun,
    *,
    task: Task | None = None,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> FitResult:
    """Train the bigger model; set the scale gate. `checkpoints` as in `run_generalize`."""
    task = task or load_task(cfg.task, seed=cfg.seed)
    if cfg.augment and task.augment is None:
        print(f"scale: task {task.name!r} defines no augmentation; training without", file=sys.stderr)
    cfg.check_task(task)
    if cfg.processes > 1:
        result = run_data_parallel(cfg, run, task)
    else:
        result = train_scale(
            cfg, run, task, checkpoints=checkpoints or RunCheckpoints(run), progress=progress
        )
    target = task.target_metric
    mine = result.best_value(target, task.higher_is_better)
    metric = f"{keys.BEST_PREFIX}{target}"  # generalize's best epoch, as `mine` is ours
    higher = task.higher_is_better
    ref = None
    if run.idea_id:
        ref = best_metric(run.store, "generalize", metric, idea_id=run.idea_id, higher_is_better=higher)
    ref = ref or best_metric(run.store, "generalize", metric, task=cfg.task, higher_is_better=higher)
    if ref is None:
        run.set_gate(STAGE, False)
        print(
            f"scale: FAILED  no stage_generalize run to beat yet (best val {target} {mine:.4g})",
            file=sys.stderr,
        )
        return result
    value, ref_run = ref
    passed = improves(mine, value, higher)
    run.writer.log(keys.SCALE_REFERENCE, value, 0)
    run.set_tags({TAG_SCALE_REFERENCE_RUN: ref_run})
    run.set_gate(STAGE, passed)
    print(
        f"scale: {'PASSED' if passed else 'FAILED'}  best val {target} {mine:.4g} "
        f"vs generalize's {value:.4g}",
        file=sys.stderr,
    )
    return result
