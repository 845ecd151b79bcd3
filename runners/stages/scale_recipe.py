"""What stage_scale trains, in one place for its two paths: one process, or data-parallel ranks.

`scale.py` (the stage: one process, then the gate) and `parallel.py` (each rank of
`processes=N`) both call `train_scale`, so a rank trains exactly what the single
process trains: the bigger model of `model_spec`, AdamW with weight decay, cosine LR
decay when asked, train-only augmentation, and a class-weighted or critic loss.
Neither of those modules imports the other's internals; both import this one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from runners.stages.config import ScaleConfig
from runners.stages.generalize import train_stage
from runners.tasks.base import ModelSpec, Task
from runners.training.fit import FitResult
from tracker.runs import StageRun

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


def make_optimizer(params, cfg: ScaleConfig):
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(opt, cfg: ScaleConfig):
    if cfg.lr_decay == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return None


def train_scale(cfg: ScaleConfig, run: StageRun, task: Task, **hooks) -> FitResult:
    """`train_stage` with the scale recipe; `hooks`: its wrap_model / checkpoints / progress."""
    return train_stage(
        cfg, run, task, stage=STAGE,
        spec=model_spec(cfg),
        make_optimizer=make_optimizer, make_scheduler=make_scheduler,
        augment=task.augment if cfg.augment else None,
        train_loss=train_loss(cfg, task),
        **hooks,
    )  # fmt: skip
