"""`idealoop tune`: an idea's variants as concurrent Ray Tune trials, ASHA stopping the weak.

The driver, top to bottom:
1. check everything the user gave before Ray starts: the space against the stage's
   config (`runners/sweeps/space.py`), the sweep settings (`runners/sweeps/settings.py`),
   the task, the idea;
2. connect to Ray (`runners/sweeps/cluster.py`): `--address` / `RAY_ADDRESS` (checked
   reachable first, one line if not), else a private local Ray; refuse a trial that asks
   for more CPUs/GPUs than any node has (a warning on a cluster still scaling up);
3. create the sweep run under the idea (`tracker/sweeps.py`), switch a SQLite store
   to WAL, and run a `Tuner`: ASHA on the stage's val target metric in the task's
   direction, `max_concurrent_trials`, `{"cpu": c, "gpu": g}` per trial (fractional
   GPUs allowed), trials from `runners/sweeps/trainable.py`, progress from
   `runners/sweeps/progress.py`;
4. reconcile: any trial run still RUNNING is ended with the reason Ray's record
   implies; the sweep records its best trial and ends.

`--resume SWEEP` restores the Ray experiment whose path the sweep run holds
(`Tuner.restore`), finishes it, and reconciles the same way.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict

from runners.sweeps.settings import SUPPORTED_STAGES, SweepError, SweepSettings

# Tune warns on every forced experiment snapshot; with a checkpoint per epoch that is every epoch.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
# What `tune --resume` restores is Tune's last experiment snapshot, taken every >= 10 s ("auto")
# or when a trial has checkpointed num_to_keep times since: a driver killed right after an epoch
# could restart a trial from scratch although its checkpoint existed (seen under load in the
# killed-driver test). A snapshot a second (a small local JSON; uploads keep their own period).
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
# Ctrl-C / SIGTERM must reach the driver (sweep KILLED, trials reconciled as `killed`, resumable),
# not be swallowed by Tune's graceful stop, whose trials would look like ASHA stops.
os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
# A failed trial's traceback is in its run's artifact; the console gets one line (fail_fast.py).
os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")  # the same, for trials a stopped sweep left
# Ray's own experiment banner and TensorBoard hint: idealoop prints its own progress lines.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

__all__ = ["SweepError", "SweepSettings", "check_inputs", "prepare", "resume_sweep", "run_sweep"]


# -- the sweep ------------------------------------------------------------------
def prepare(store, *, idea: str, space_file: str, settings: dict, task: str | None, overrides: dict) -> tuple:
    """Everything checked before Ray: (settings, space, base overrides, task object, target).

    The sweep's boundary for the idea: `idea` (an id or a prefix) is looked up here, last,
    once; the sweep, every trial and every trial's stage run get the resulting `Target`.
    """
    from runners.stages import STAGES
    from runners.stages.config import resolve
    from runners.tasks.base import load_task
    from tracker.ideas import target_for

    sweep, space, base = check_inputs(
        settings=settings, space_file=space_file, task=task, overrides=overrides
    )
    cfg = resolve(STAGES[sweep.stage].config, None, base)
    task_obj = load_task(cfg.task, seed=cfg.seed)
    from runners.stages.check import preflight_stage

    preflight_stage(cfg, task_obj)  # a broken task: one line in seconds, not a minute inside Ray
    return sweep, space, base, task_obj, target_for(store, idea)


def check_inputs(*, settings: dict, space_file: str, task: str | None, overrides: dict) -> tuple:
    """The sweep's settings, space and fixed overrides checked, without loading the task or torch:
    (settings, space, base overrides). `prepare` then checks the task itself."""
    from runners.stages import STAGES
    from runners.stages.config import resolve
    from runners.sweeps.space import load_space

    stage = settings.get("stage") or "generalize"
    if stage not in SUPPORTED_STAGES:
        raise SweepError(f"stage={stage!r} cannot be swept; allowed: {', '.join(SUPPORTED_STAGES)}")
    cls = STAGES[stage].config
    base = {k: v for k, v in {**overrides, "task": task}.items() if v is not None}
    defaults = resolve(cls, None, base)
    if not settings.get("max_iterations"):
        settings = {**settings, "max_iterations": defaults.epochs}
    sweep = SweepSettings.from_strings({**settings, "stage": stage})
    sweep.validate()
    base["epochs"] = sweep.max_iterations
    if getattr(defaults, "processes", 1) > 1:
        raise SweepError("processes>1 cannot be swept: give trials GPUs with --gpus-per-trial instead")
    return sweep, load_space(space_file, cls, base), base


def run_sweep(
    store,
    *,
    idea: str,
    space_file: str,
    settings: dict,
    task: str | None = None,
    overrides: dict | None = None,
    address: str | None = None,
    storage_path: str | None = None,
    progress_every_s: float = 10.0,
    extra_tags: dict | None = None,
) -> str:
    """Run a new sweep; returns the sweep run id. `extra_tags` go on the sweep run (a queue item's)."""
    from runners.sweeps import cluster
    from runners.sweeps.space import as_jsonable
    from tracker.store import TAG_RAY_PATH
    from tracker.sweeps import create_sweep, set_tags

    sweep, space, base, task_obj, target = prepare(
        store, idea=idea, space_file=space_file, settings=settings, task=task, overrides=overrides or {}
    )
    remote = bool(address or os.environ.get("RAY_ADDRESS"))
    started = cluster.connect(address)
    try:
        cluster.check_resources(sweep, remote)
        sweep_id = create_sweep(
            store,
            idea_id=target.idea_id,
            stage=sweep.stage,
            task=base.get("task") or "digits",
            settings=asdict(sweep),
            space=as_jsonable(space),
            base=base,
            extra_tags=extra_tags,
        )
        os.environ.pop("MLFLOW_RUN_ID", None)  # a launcher run is the sweep's; trials make their own
        storage = storage_path or os.environ.get("IDEALOOP_RAY_STORAGE") or "ray_results"
        storage = storage if "://" in storage else os.path.abspath(storage)  # s3://... stays a URI
        name = f"sweep-{sweep_id}"
        set_tags(store, sweep_id, {TAG_RAY_PATH: f"{storage.rstrip('/')}/{name}"})
        what = f"{sweep.num_samples} samples of {', '.join(space)}"
        say = f"tune: sweep {sweep_id} for idea {target.idea_id}: {what}; Ray experiment {storage}/{name}"
        print(say, file=sys.stderr)
        _execute(
            target,
            sweep_id,
            sweep,
            space,
            base,
            task_obj,
            storage=storage,
            name=name,
            progress_every_s=progress_every_s,
        )
        return sweep_id
    finally:
        if started:
            cluster.shutdown()


def resume_sweep(store, sweep_id: str, *, address: str | None = None, progress_every_s: float = 10.0) -> str:
    """Finish a sweep whose driver died: restore its Ray experiment, then reconcile."""
    from runners.stages import STAGES
    from runners.sweeps import cluster
    from runners.sweeps.space import parse_space
    from tracker.store import Target
    from tracker.sweeps import sweep_info

    info = sweep_info(store, sweep_id)
    sweep = SweepSettings.from_strings({**info["settings"], "stage": info["stage"]})
    cls = STAGES[sweep.stage].config
    space = parse_space(info["space"], cls, info["base"])
    from runners.stages.config import resolve
    from runners.tasks.base import load_task

    cfg = resolve(cls, None, info["base"])
    task_obj = load_task(cfg.task, seed=cfg.seed)
    path = info["ray_path"]
    if not os.path.isdir(path) and "://" not in path:
        raise SweepError(f"sweep {sweep_id}: its Ray experiment {path} is gone; nothing to resume")
    remote = bool(address or os.environ.get("RAY_ADDRESS"))
    started = cluster.connect(address)
    try:
        cluster.check_resources(sweep, remote)
        store.client.update_run(sweep_id, status="RUNNING")
        print(f"tune: resuming sweep {sweep_id} from {path}", file=sys.stderr)
        _execute(
            Target(store, info["idea_id"]),  # the full id the sweep run was tagged with
            sweep_id,
            sweep,
            space,
            info["base"],
            task_obj,
            restore=path,
            progress_every_s=progress_every_s,
        )
        return sweep_id
    finally:
        if started:
            cluster.shutdown()


def _execute(
    target,
    sweep_id,
    sweep: SweepSettings,
    space,
    base,
    task_obj,
    *,
    storage=None,
    name=None,
    restore=None,
    progress_every_s=10.0,
) -> None:
    from ray import tune
    from ray.tune import CheckpointConfig, FailureConfig, RunConfig, TuneConfig, Tuner
    from ray.tune.schedulers import ASHAScheduler

    from runners.sweeps.fail_fast import FailFast
    from runners.sweeps.progress import ProgressCallback
    from runners.sweeps.space import Dist, to_ray
    from runners.sweeps.trainable import TrialSetup, train_trial
    from tracker import keys
    from tracker.store import enable_sqlite_wal
    from tracker.sweeps import finish_sweep

    store = target.store
    enable_sqlite_wal(store.uri)
    sampled = tuple(k for k, v in space.items() if isinstance(v, Dist))
    setup = TrialSetup(target=target, sweep_id=sweep_id, stage=sweep.stage, base=base, sampled=sampled)
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, setup=setup),
        {"cpu": sweep.cpus_per_trial, "gpu": sweep.gpus_per_trial},
    )
    metric = f"{keys.VAL_PREFIX}{task_obj.target_metric}"
    mode = "max" if task_obj.higher_is_better else "min"
    num_trials = sweep.num_samples * math.prod(
        len(v.args) for v in space.values() if isinstance(v, Dist) and v.kind == "grid"
    )
    progress = ProgressCallback(
        [k for k, v in space.items() if isinstance(v, Dist)],
        metric,
        task_obj.higher_is_better,
        sweep.max_iterations,
        num_trials,
        every_s=progress_every_s,
    )
    fail_fast = FailFast(num_trials)  # every trial failing alike stops the sweep (fail_fast.py)
    reason, error = "completed", None
    try:
        if restore:
            tuner = Tuner.restore(restore, trainable=trainable, resume_unfinished=True, resume_errored=False)
            internal = getattr(tuner, "_local_tuner", None)  # the restored run config holds stale callbacks
            if internal is not None:
                internal.get_run_config().callbacks = [progress, fail_fast]
        else:
            asha = ASHAScheduler(
                max_t=sweep.max_iterations,
                grace_period=sweep.grace_period,
                reduction_factor=sweep.reduction_factor,
            )
            tuner = Tuner(
                trainable,
                param_space=to_ray(space),
                tune_config=TuneConfig(
                    metric=metric,
                    mode=mode,
                    scheduler=asha,
                    num_samples=sweep.num_samples,
                    max_concurrent_trials=sweep.max_concurrent,
                    reuse_actors=os.environ.get("IDEALOOP_REUSE_ACTORS", "1") != "0",
                ),
                run_config=RunConfig(
                    name=name,
                    storage_path=storage,
                    callbacks=[progress, fail_fast],
                    stop=fail_fast,
                    verbose=0,
                    # Two, not one: Ray deletes the older checkpoint as soon as a newer one is
                    # registered, but its saved experiment state can still name the older one;
                    # a driver killed in between could then not restore that trial (seen in CI).
                    checkpoint_config=CheckpointConfig(num_to_keep=2),
                    failure_config=FailureConfig(max_failures=0),
                ),
            )
        results = tuner.fit()
        if fail_fast.same.tripped:
            _fail_alike(store, sweep_id, fail_fast.same)
        _wrap_up(store, sweep_id, results, metric, task_obj.higher_is_better, sweep.max_iterations)
    except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C; SIGTERM (Ray's driver handler exits)
        from tracker.sweeps import reconcile

        reason, error = "killed", exc
        reconcile(store, sweep_id, {}, sweep.max_iterations)  # no record: every RUNNING trial was killed
        if isinstance(exc, SystemExit):
            raise KeyboardInterrupt(f"exit {exc.code}") from exc  # the CLI: "interrupted", exit 130
        raise
    except BaseException as exc:
        reason, error = "failed", exc
        raise
    finally:
        finish_sweep(store, sweep_id, reason, error)


class SweepFailed(RuntimeError):
    """Every trial of the sweep failed the same way: the sweep stopped early (one line)."""


def _fail_alike(store, sweep_id: str, same) -> None:
    """The trials a tripped fail-fast stopped end `failed` with the common reason; then say it."""
    from tracker.runs import TRACEBACK_ARTIFACT
    from tracker.sweeps import fail_stopped, find_trial

    fail_stopped(store, sweep_id, f"stopped with the sweep: {same.line()}")
    run_id = find_trial(store, sweep_id, same.first_failed()) or "?"
    raise SweepFailed(f"{same.line()}; trial run {run_id} holds the traceback ({TRACEBACK_ARTIFACT})")


def _wrap_up(store, sweep_id: str, results, metric: str, higher: bool, max_iterations: int) -> None:
    """Reconcile trial runs from Ray's record; record the best trial on the sweep."""
    from tracker.learning import improves
    from tracker.sweeps import TrialOutcome, reconcile, record_best, trial_error

    outcomes, best = {}, None
    for r in results:
        m = r.metrics or {}
        trial_id = m.get("trial_id")
        if not trial_id:
            continue
        outcomes[trial_id] = TrialOutcome(
            trial_id, int(m.get("training_iteration", 0) or 0), error=trial_error(r.error) if r.error else ""
        )
        df = r.metrics_dataframe
        if df is None or metric not in df or df[metric].dropna().empty:
            continue
        value = float(df[metric].max() if higher else df[metric].min())
        if best is None or improves(value, best[0], higher):
            best = (value, trial_id, r.config)
    ended = reconcile(store, sweep_id, outcomes, max_iterations)  # last ASHA stops: routine, no news
    if news := ", ".join(f"{n} {r}" for r, n in ended.items() if r not in ("stopped_by_asha", "completed")):
        print(f"tune: ended trial runs their processes left RUNNING ({news})", file=sys.stderr)
    if best is not None:
        value, trial_id, config = best
        run_id = record_best(
            store, sweep_id, trial_id=trial_id, config=config, metric=metric.split("/", 1)[-1], value=value
        )
        print(
            f"tune: best {metric} {value:.4g} by trial run {run_id} ({json.dumps(config, default=str)})",
            file=sys.stderr,
        )
