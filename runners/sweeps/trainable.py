"""The Ray Tune trainable: one trial = the stage's own code, reporting once per epoch.

Thin on purpose (STYLE.md §5): the sampled config dict becomes the stage's frozen
config on the first lines, then the trial runs exactly what `mlflow run . -e
stage_generalize` runs, with two callbacks:
- `on_built`: restores model, optimizer, LR scheduler, step count and RNG from the
  trial's Ray checkpoint, when Ray restarts it (`tune --resume`);
- `on_epoch`: logs `best/<target>` so far, flushes the telemetry writer (so everything
  up to this epoch is stored before ASHA can tear the process down), writes a
  checkpoint and calls `ray.tune.report` with the epoch's val metrics. The last
  epoch's report is held back until the run has ended: after Ray has it, the trial's
  process may be torn down at any moment.

Per-batch telemetry goes straight to MLflow through the trial's own writer (a thread:
no shipper process per trial). When ASHA stops the trial, `tune.report` raises
SystemExit in this thread (Ray 2.60 function trainables); the trial turns it into
`StoppedEarly`, so its run ends FINISHED with reason `stopped_by_asha` and the
iteration reached — unless Ray tears the process down first, in which case the
driver's reconcile ends the run with the same reason. Failures and NaN losses end
the run FAILED and re-raise, so Ray records the trial as errored too.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

import torch

from runners.stages import STAGES
from runners.stages.config import resolve
from runners.tasks.base import load_task
from runners.training.fit import FitResult, FitResume
from tracker import keys
from tracker.curves import read_points
from tracker.runs import StoppedEarly, stage_run
from tracker.store import TAG_KIND, TAG_NODE, TAG_SWEEP, TAG_TRIAL, Target
from tracker.sweeps import trial_run

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a sweep shares (passed with `tune.with_parameters`)."""

    target: Target  # the store (absolute URI: trials run in their own directories) and the idea
    sweep_id: str
    stage: str
    base: dict  # fixed config overrides (incl. epochs = the sweep's max iterations)


def train_trial(config: dict, setup: TrialSetup) -> None:
    import ray
    from ray import tune

    # One "Checkpoint successfully created" INFO line per trial per epoch drowns the progress.
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    stage = STAGES[setup.stage]
    cfg = resolve(stage.config, None, {**setup.base, **config})
    ctx = tune.get_context()
    store = setup.target.store
    trial_id = ctx.get_trial_id()
    run_id = trial_run(
        store,
        sweep_id=setup.sweep_id,
        trial_id=trial_id,
        name=ctx.get_trial_name(),
        idea_id=setup.target.idea_id,
        stage=stage.name,
        task=cfg.task,
    )
    built: dict = {}  # the trainer and LR scheduler, once the stage has built them
    final: list = []  # the last epoch's [metrics, checkpoint folder], reported after the run ends

    def on_built(trainer, scheduler) -> FitResume | None:
        built.update(trainer=trainer, scheduler=scheduler)
        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            saved = torch.load(
                os.path.join(folder, STATE_FILE), map_location=trainer.device, weights_only=False
            )
        trainer.model.load_state_dict(saved["model"])
        trainer.opt.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved["scheduler"] is not None:
            scheduler.load_state_dict(saved["scheduler"])
        trainer.gen.set_state(saved["generator"])
        trainer.step_count = saved["step"]
        # The attempt that died may have stored steps past its last checkpoint: this one
        # replays them (same data order, same state) without logging them twice.
        stored, _ = read_points(store, run_id, keys.TRAIN_LOSS)
        trainer.replay_until = int(stored.max()) if len(stored) else -1
        return FitResume(epoch=saved["epoch"], start=saved["start"], history=saved["history"])

    def on_epoch(epoch: int, result: FitResult) -> None:
        trainer, scheduler = built["trainer"], built["scheduler"]
        best = result.best_value(task.target_metric, task.higher_is_better)
        run.writer.log(f"{keys.BEST_PREFIX}{task.target_metric}", best, trainer.step_count)
        run.writer.flush()  # stored before Ray may tear this process down
        folder = tempfile.mkdtemp(prefix="idealoop-ckpt-")
        state = {
            "model": trainer.model.state_dict(),
            "optimizer": trainer.opt.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "generator": trainer.gen.get_state(),
            "step": trainer.step_count,
            "epoch": epoch,
            "start": result.start,
            "history": result.history,
        }
        torch.save(state, os.path.join(folder, STATE_FILE))
        metrics = {f"{keys.VAL_PREFIX}{k}": float(v) for k, v in result.history[-1].items() if k != "epoch"}
        final[:] = [{**metrics, keys.EPOCH: epoch}, folder]
        if epoch >= cfg.epochs:
            return  # the last report waits until the run has ended (below)
        try:
            tune.report(final[0], checkpoint=tune.Checkpoint.from_directory(folder))
        except SystemExit:  # the scheduler stopped this trial: Ray raises it inside report
            raise StoppedEarly(epoch) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            final.clear()

    node = ray.get_runtime_context().get_node_id()
    extra = {TAG_KIND: "trial", TAG_SWEEP: setup.sweep_id, TAG_TRIAL: trial_id, TAG_NODE: node}
    try:
        with stage_run(
            setup.target,
            stage=stage.name,
            parent_run_id=setup.sweep_id,
            extra_tags=extra,
            task=cfg.task,
            run_id=run_id,
            telemetry_process=False,
        ) as run:
            run.log_params({f"trial.{k}": v for k, v in config.items()})
            task = load_task(cfg.task, seed=cfg.seed)  # inside: a task that fails fails the run
            stage.function()(
                cfg,
                run,
                task=task,
                on_epoch=on_epoch,
                on_built=on_built,
                progress=False,
            )
    except StoppedEarly:
        return
    # Reported only now, with the run already ended: once Ray has the last result it
    # may tear this process down at any moment.
    if final:
        try:
            tune.report(final[0], checkpoint=tune.Checkpoint.from_directory(final[1]))
        finally:
            shutil.rmtree(final[1], ignore_errors=True)
