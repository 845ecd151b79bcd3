"""A stage run with `seeds` = K > 1: the K seeds' models trained packed in this one process.

Seeds are `seed`, `seed + 1`, … `seed + K - 1`; each builds its model, orders its data and
draws its val batches exactly as a run with that one seed would (the task's split stays
the one `seed` fixes, so the seeds differ only in what a seed should vary). The models
are vmapped where possible, else looped in this process (`runners/training/pack.py`;
the console and the tag `idealoop.seed_packing` say which, and why). Each seed gets a
seed run nested under the stage run or trial (`tracker/seed_runs.py`); the run itself
gets the mean and the std across seeds (`runners/training/packed_fit.py`), and seed 0's
histogram snapshots (`runners/training/packed_snapshots.py`).

`packed_trainer` is the shared set-up (generalize, scale and trials through
`train_packed`; overfit drives the trainer itself); neither needs a process per seed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from runners.stages.config import as_dict
from runners.tasks.base import ModelSpec, Task
from runners.training.checkpoint import Checkpoints
from runners.training.pack import build_pack
from runners.training.packed_fit import PackedResult, fit_packed
from runners.training.packed_trainer import PackedTrainer
from runners.training.trainer import pick_device
from tracker import keys
from tracker.runs import StageRun
from tracker.seed_runs import seed_runs
from tracker.store import TAG_PACKING


def seed_list(cfg) -> list[int]:
    return [cfg.seed + i for i in range(cfg.seeds)]


@contextmanager
def packed_trainer(
    cfg,
    run: StageRun,
    task: Task,
    *,
    stage: str,
    spec: ModelSpec,
    make_optimizer: Callable,  # (parameters, cfg) -> optimizer, as train_stage takes it
    make_scheduler: Callable | None = None,
    train_loss: Callable | None = None,
) -> Iterator[PackedTrainer]:
    """Log the config, build the K models, open the seed runs; yields the trainer."""
    device = pick_device(cfg.device)
    seeds = seed_list(cfg)
    run.log_params({**as_dict(cfg), "stage": stage, "device_resolved": str(device)})
    run.log_dict(as_dict(cfg), "config.json")
    pack, gens, why = build_pack(
        task, spec, seeds, device,
        make_opt=lambda params: make_optimizer(params, cfg),
        make_sched=(lambda opt: make_scheduler(opt, cfg)) if make_scheduler else (lambda opt: None),
        train_loss=train_loss,
    )  # fmt: skip
    run.log_params({"model_parameters": sum(p.numel() for p in pack.model(0).parameters())})
    run.set_tags({TAG_PACKING: pack.kind if why is None else f"loop: {why}"})
    how = "vmapped" if why is None else f"looped, not vmapped ({why})"
    print(f"{stage}: seeds {seeds[0]}..{seeds[-1]} trained together in this process, {how}", file=sys.stderr)
    with seed_runs(run, seeds, cfg.task) as writers:
        yield PackedTrainer(
            task, pack, gens, run.writer, writers, seeds, device=device,
            val_batch_size=cfg.val_batch_size, check_every=cfg.check_every, hist_every=cfg.hist_every,
            hist_budget=cfg.hist_budget, on_flag=run.flag,
            replay_until=run.last_stored(keys.TRAIN_LOSS),  # resumed: its stored snapshots not taken again
        )  # fmt: skip


def train_packed(
    cfg,
    run: StageRun,
    task: Task,
    *,
    stage: str,
    spec: ModelSpec,
    make_optimizer: Callable,
    make_scheduler: Callable | None = None,
    augment: Callable | None = None,
    train_loss: Callable | None = None,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> PackedResult:
    """`train_stage` for K seeds: the epoch loop of every seed at once; returns the mean's result."""
    with packed_trainer(
        cfg, run, task, stage=stage, spec=spec, make_optimizer=make_optimizer,
        make_scheduler=make_scheduler, train_loss=train_loss,
    ) as pt:  # fmt: skip
        return fit_packed(
            pt, epochs=cfg.epochs, batch_size=cfg.batch_size, augment=augment,
            n_samples=cfg.n_samples, checkpoints=checkpoints, progress=progress,
        )  # fmt: skip
