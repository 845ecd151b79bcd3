"""stage_scale: a bigger model with the tricks switched back on — does it beat generalize?

"Finally, it's time to try out bigger architectures … and try out other features which
we removed before (dropout, batchnorm, LR decay, etc.)", plus data engineering:
class weights and augmentation (training data only — never val), and for
image-to-image tasks an adversarial critic on top of L1 (`critic=true`,
runners/training/critic.py). The gate `idealoop.gate.scale` passes when the best val target
metric beats the best stage_generalize run of the idea (else the project's best on
the same task), in the task's direction (higher mIoU, lower l1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

from runners.stages.config import ScaleConfig
from runners.stages.generalize import train_stage
from runners.tasks.base import ModelSpec, Task, load_task
from runners.training.checkpoint import Checkpoints, RunCheckpoints
from runners.training.fit import FitResult
from tracker import keys
from tracker.learning import improves
from tracker.runs import StageRun, best_metric
from tracker.store import TAG_SCALE_REFERENCE_RUN

STAGE = "scale"


def class_weighted_loss(task: Task) -> Callable:
    """Cross-entropy weighted by inverse class frequency of the training targets (labels or pixels)."""
    counts = torch.bincount(task.train.y.flatten()).float().clamp(min=1)
    weight = counts.sum() / (len(counts) * counts)

    def loss(out, y):
        return torch.nn.functional.cross_entropy(out, y, weight=weight.to(out.device))

    return loss


def train_loss(cfg: ScaleConfig, task: Task) -> Callable | None:
    """The training loss when it differs from the task's: class-weighted, or L1 + critic."""
    if cfg.critic:
        from runners.training.critic import CriticLoss

        return CriticLoss(task.loss, weight=cfg.critic_weight, steps=cfg.critic_steps, lr=cfg.critic_lr)
    return class_weighted_loss(task) if cfg.class_weights else None


def model_spec(cfg: ScaleConfig) -> ModelSpec:
    return ModelSpec(width=cfg.width, depth=cfg.depth, dropout=cfg.dropout, batchnorm=cfg.batchnorm)


def _optimizer(params, cfg: ScaleConfig):
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _scheduler(opt, cfg: ScaleConfig):
    if cfg.lr_decay == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return None


def run_scale(
    cfg: ScaleConfig,
    run: StageRun,
    *,
    task: Task | None = None,
    idea_id: str | None = None,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> FitResult:
    """Train the bigger model; set the scale gate. `checkpoints` as in `run_generalize`."""
    task = task or load_task(cfg.task, seed=cfg.seed)
    if cfg.augment and task.augment is None:
        print(f"scale: task {task.name!r} defines no augmentation; training without", file=sys.stderr)
    cfg.check_task(task)
    if cfg.processes > 1:
        from runners.stages.parallel import run_data_parallel

        result = run_data_parallel(cfg, run, task)
    else:
        result = train_stage(
            cfg, run, task, stage=STAGE,
            spec=model_spec(cfg),
            make_optimizer=_optimizer, make_scheduler=_scheduler,
            augment=task.augment if cfg.augment else None,
            train_loss=train_loss(cfg, task),
            checkpoints=checkpoints or RunCheckpoints(run), progress=progress,
        )  # fmt: skip
    target = task.target_metric
    mine = result.best_value(target, task.higher_is_better)
    metric = f"{keys.BEST_PREFIX}{target}"  # generalize's best epoch, as `mine` is ours
    higher = task.higher_is_better
    ref = None
    if idea_id:
        ref = best_metric(run.store, "generalize", metric, idea_id=idea_id, higher_is_better=higher)
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
