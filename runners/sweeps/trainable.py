"""The Ray Tune trainable: one trial = the stage's own code, reporting once per epoch.

Thin on purpose (STYLE.md §5): the sampled config dict becomes the stage's frozen
config on the first lines, then the trial runs exactly what `mlflow run . -e
stage_generalize` runs, in a stage run nested under the sweep. The one difference is
where its epoch checkpoints go: to Ray, with the epoch's report (`RayCheckpoints`),
instead of into the run's artifacts. Checkpointing and resuming are the training
loop's (`runners/training/checkpoint.py`); this file only forwards Ray's.

- First start: the trial's run is created RUNNING with its trial tags.
- Ray restarts the trial (`tune --resume` after a killed driver): its run is found by
  the Ray trial id and resumed — from Ray's checkpoint when Ray has one, else from the
  start — storing no step twice (`tracker/resume.py`).
- Every epoch: the telemetry writer is flushed (so everything up to this epoch is
  stored before ASHA can tear the process down), then `ray.tune.report` with the
  epoch's val metrics and the checkpoint. The last epoch's report is held back until
  the run has ended: after Ray has it, the process may be torn down at any moment.

When ASHA stops the trial, `tune.report` raises SystemExit in this thread (Ray 2.60
function trainables); it becomes `StoppedEarly`, so the run ends FINISHED with reason
`stopped_by_asha` and the iteration reached, and is raised again as SystemExit once the
run has ended, so the thread ends without another report — unless Ray tears the process
down first, in which case the driver's reconcile ends the run with the same reason.

Ray reuses a trial's actor for the next trial (`reuse_actors`): the next trial starts in
the same process, with the imports, the task and the MLflow client already there, in
~0.05 s instead of a process start-up (seconds). Ray's reset waits for this thread to end
(`TUNE_FUNCTION_THREAD_TIMEOUT_S`, set long here: ending a run, its telemetry drained,
can take seconds on a busy machine). Failures and
NaN losses end the run FAILED and re-raise, so Ray records the trial as errored too.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

from runners.stages import STAGES
from runners.stages.config import resolve
from runners.tasks.base import load_task
from runners.training import checkpoint
from tracker import keys
from tracker.run_config import trial_name
from tracker.runs import StoppedEarly, stage_run
from tracker.store import Target
from tracker.sweeps import find_trial, trial_tags

THREAD_END_TIMEOUT_S = 600  # how long a reused actor waits for the last trial's thread to end its run


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a sweep shares (passed with `tune.with_parameters`)."""

    target: Target  # the store (absolute URI: trials run in their own directories) and the idea
    sweep_id: str
    stage: str
    base: dict  # fixed config overrides (incl. epochs = the sweep's max iterations)
    sampled: tuple[str, ...] = ()  # the keys the space samples: they name the trial's run


class RayCheckpoints:
    """A trial's epoch checkpoints: loaded from Ray on a restart, saved to Ray with each report."""

    def __init__(self, run, epochs: int) -> None:
        self.run, self.epochs = run, epochs
        self.held: tuple[dict, str] | None = None  # the last epoch's (metrics, folder), reported at the end

    def load(self) -> dict | None:
        from ray import tune

        found = tune.get_checkpoint()
        if found is None:
            return None
        with found.as_directory() as folder:
            return checkpoint.read(os.path.join(folder, checkpoint.STATE_FILE))

    def save(self, state: dict) -> None:
        self.run.writer.flush()  # stored before Ray may tear this process down
        folder = tempfile.mkdtemp(prefix="idealoop-ckpt-")
        with open(os.path.join(folder, checkpoint.STATE_FILE), "wb") as f:
            f.write(checkpoint.to_bytes(state))
        epoch = state["epochs_done"]
        metrics = {
            f"{keys.VAL_PREFIX}{k}": float(v) for k, v in state["history"][-1].items() if k != keys.EPOCH
        }
        for k, v in (state.get("std_history") or [{}])[-1].items():  # seeds > 1: the seeds' spread
            metrics[f"{keys.VAL_STD_PREFIX}{k}"] = float(v)
        self.held = ({**metrics, keys.EPOCH: epoch}, folder)
        if epoch < self.epochs:
            try:
                self.report()
            except SystemExit:  # the scheduler stopped this trial: Ray raises it inside report
                raise StoppedEarly(epoch) from None

    def report(self) -> None:
        """Hand the held metrics and checkpoint to Ray (called once more after the run ended)."""
        from ray import tune

        if self.held is None:
            return
        metrics, folder = self.held
        self.held = None
        try:
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def train_trial(config: dict, setup: TrialSetup) -> None:
    import ray
    from ray import tune

    # Ray reuses this actor for the next trial (reuse_actors) only if this thread ends within
    # TUNE_FUNCTION_THREAD_TIMEOUT_S of the reset (Ray's default: 2 s). A trial ASHA stopped ends
    # its run (drains its telemetry, ends its seed runs) only then, which on a busy machine takes
    # longer; Ray then refused the reuse and the next trial hung, never started. Read in this
    # process at each reset: set here, it holds on a cluster's nodes too.
    os.environ.setdefault("TUNE_FUNCTION_THREAD_TIMEOUT_S", str(THREAD_END_TIMEOUT_S))
    stage = STAGES[setup.stage]
    cfg = resolve(stage.config, None, {**setup.base, **config})
    # One "Checkpoint successfully created" INFO line per trial per epoch drowns the progress.
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    # Local Ray workers inherit the driver's environment: an `mlflow run` launcher there is the
    # sweep's, never a trial's.
    os.environ.pop("MLFLOW_RUN_ID", None)
    # A node started by `ray start` has its own environment, not the driver's: no "View run at
    # URL" lines from MLflow (one per run a trial ends, against a server) in the sweep's output.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    ctx = tune.get_context()
    store = setup.target.store
    trial_id = ctx.get_trial_id()
    node = ray.get_runtime_context().get_node_id()
    try:
        with stage_run(
            setup.target,
            stage=stage.name,
            parent_run_id=setup.sweep_id,
            extra_tags=trial_tags(setup.sweep_id, trial_id, node),
            task=cfg.task,
            run_name=trial_name(config, setup.sampled, ctx.get_trial_name()),
            run_id=find_trial(store, setup.sweep_id, trial_id),  # Ray restarted it: resume its run
            telemetry_process=False,
        ) as run:
            run.log_params({f"{keys.TRIAL_PARAM_PREFIX}{k}": v for k, v in config.items()})
            checkpoints = RayCheckpoints(run, cfg.epochs)
            task = load_task(cfg.task, seed=cfg.seed)  # inside: a task that fails fails the run
            stage.function()(cfg, run, task=task, checkpoints=checkpoints, progress=False)
    except StoppedEarly:
        # Ray's SystemExit, passed on now that the run has ended. Returning instead made Ray's
        # wrapper send a last report that waits for a `train()` call that never comes: harmless
        # when Ray killed the actor, but a reused actor's reset waited on that thread forever
        # (the sweep hung with trials pending: why reuse_actors was once off).
        raise SystemExit(0) from None
    checkpoints.report()  # only now, with the run ended: Ray may tear this process down at once
