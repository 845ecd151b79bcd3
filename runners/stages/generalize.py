"""stage_generalize: full training data, the small plain model — does it learn anything?

"If your val loss goes down (even just slightly), congrats, you learned something."
The gate `idealoop.gate.generalize` passes when the best full-pass val loss falls
below the val loss before training. The run also reports the gap between its best
target metric and the non-deep-learning baseline (the idea's own baseline run,
else the project's best on the same task), when there is one — signed so that
positive means better than the baseline, whichever way the metric points.

`train_stage` is shared with stage_scale and with Ray Tune trials. It checkpoints
every epoch (`runners/training/checkpoint.py`): into the run's own artifacts by
default, which is what `idealoop run generalize --resume RUN_ID` continues from; a
trial passes Ray's checkpoints instead and otherwise runs exactly the code
`mlflow run . -e stage_generalize` runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

from runners.stages.config import GeneralizeConfig, as_dict
from runners.stages.packed import train_packed
from runners.tasks.base import ModelSpec, Task, load_task
from runners.training.checkpoint import Checkpoints, RunCheckpoints
from runners.training.fit import FitResult, fit
from runners.training.trainer import Trainer, pick_device, seed_everything
from tracker import keys
from tracker.learning import observed_impact
from tracker.runs import StageRun, best_metric
from tracker.store import TAG_BASELINE_RUN, TAG_HIGHER, TAG_TARGET

STAGE = "generalize"


def train_stage(
    cfg: GeneralizeConfig,
    run: StageRun,
    task: Task,
    *,
    stage: str,
    spec: ModelSpec,
    make_optimizer: Callable = lambda params, cfg: torch.optim.Adam(params, lr=cfg.lr),
    make_scheduler: Callable | None = None,
    augment: Callable | None = None,
    train_loss: Callable | None = None,
    wrap_model: Callable | None = None,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> FitResult:
    """Seed, build, log the config, train with the full telemetry contract.

    `wrap_model` (e.g. DistributedDataParallel) wraps the model after it is on its device.
    `checkpoints`: where epoch checkpoints go and, for a resumed run, come back from
    (None: no checkpoints). With `cfg.seeds` > 1 the seeds train packed (runners/stages/packed.py)
    and the result is their mean's.
    """
    if cfg.seeds > 1:  # K seeds in this one process; each in a seed run, the mean on this run
        run.set_tags(target_tags(task))
        return train_packed(
            cfg, run, task, stage=stage, spec=spec, make_optimizer=make_optimizer,
            make_scheduler=make_scheduler, augment=augment, train_loss=train_loss,
            checkpoints=checkpoints, progress=progress,
        )  # fmt: skip
    gen = seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    run.log_params({**as_dict(cfg), "stage": stage, "device_resolved": str(device)})
    run.log_dict(as_dict(cfg), "config.json")
    model = task.build_model(spec).to(device)
    run.log_params({"model_parameters": sum(p.numel() for p in model.parameters())})
    if wrap_model is not None:
        model = wrap_model(model)
    opt = make_optimizer(model.parameters(), cfg)
    trainer = Trainer(
        task, model, opt, run.writer, device=device, generator=gen,
        val_batch_size=cfg.val_batch_size, check_every=cfg.check_every,
        hist_every=cfg.hist_every, hist_budget=cfg.hist_budget, on_flag=run.flag, train_loss=train_loss,
        replay_until=run.last_stored(keys.TRAIN_LOSS),
    )  # fmt: skip
    scheduler = make_scheduler(opt, cfg) if make_scheduler else None
    run.set_tags(target_tags(task))
    return fit(
        trainer, epochs=cfg.epochs, batch_size=cfg.batch_size, augment=augment, scheduler=scheduler,
        n_samples=cfg.n_samples, checkpoints=checkpoints, progress=progress,
    )  # fmt: skip


def target_tags(task: Task) -> dict[str, str]:
    """Which val metric judges this run, and its direction: what learning-from-results reads."""
    return {TAG_TARGET: task.target_metric, TAG_HIGHER: str(task.higher_is_better).lower()}


def run_generalize(
    cfg: GeneralizeConfig,
    run: StageRun,
    *,
    task: Task | None = None,
    checkpoints: Checkpoints | None = None,
    progress: bool = True,
) -> FitResult:
    """Train the small plain model on the full data; set the generalize gate.

    `checkpoints`: where epoch checkpoints go (default: the run's artifacts, `RunCheckpoints`).
    """
    task = task or load_task(cfg.task, seed=cfg.seed)
    result = train_stage(
        cfg, run, task, stage=STAGE, spec=ModelSpec(width=cfg.width, depth=cfg.depth),
        checkpoints=checkpoints or RunCheckpoints(run), progress=progress,
    )  # fmt: skip
    start, best = result.start["loss"], min(h["loss"] for h in result.history)
    run.writer.log_dict({keys.GENERALIZE_VAL_LOSS_START: start, keys.GENERALIZE_VAL_LOSS_BEST: best}, 0)
    passed = best < start
    run.set_gate(STAGE, passed)
    target = task.target_metric
    mine = result.best_value(target, task.higher_is_better)
    line = (
        f"generalize: {'PASSED' if passed else 'FAILED'}  val loss {start:.4g} -> best {best:.4g}; "
        f"best val {target} {mine:.4g}"
    )
    found = _baseline(run, target, cfg.task, task.higher_is_better)
    if found is not None:
        baseline, baseline_run = found
        gap = observed_impact(mine, baseline, task.higher_is_better)  # positive = better than the baseline
        run.writer.log(keys.GAP_TO_BASELINE, gap, 0)
        run.set_tags({TAG_BASELINE_RUN: baseline_run})
        line += f" (gain {gap:+.4g} over the baseline's {baseline:.4g})"
    else:
        line += " (no baseline yet: run `idealoop run baseline` to get the score to beat)"
    print(line, file=sys.stderr)
    return result


def _baseline(run: StageRun, target: str, task: str, higher: bool):
    """(value, run id) of the baseline to beat: the idea's own, else the project's on this task."""
    metric = f"{keys.BASELINE_PREFIX}{target}"
    found = None
    if run.idea_id:
        found = best_metric(run.store, "baseline", metric, idea_id=run.idea_id, higher_is_better=higher)
    return found or best_metric(run.store, "baseline", metric, task=task, higher_is_better=higher)
