"""A Ray Tune sweep in MLflow: the sweep run under its idea, one run per trial under it.

Layout (docs/telemetry.md):
- the sweep: a run tagged `idealoop.kind=sweep`, nested under the idea, holding the
  sweep's settings and space (params), the Ray experiment path (tag, for `--resume`),
  and when it ends the best trial (`idealoop.best_trial`, `idealoop.best_config`,
  metric `best/<target>`);
- each trial: a stage run tagged `idealoop.kind=trial` and `idealoop.trial_id` (Ray's
  id), nested under the sweep, with the full telemetry contract. The trial's first
  start creates it RUNNING with these tags (`trial_tags`, through `stage_run`); a trial
  Ray restarts finds it again by its Ray id (`find_trial`) and resumes it.
- why a trial ended: `completed`, `stopped_by_asha` (+ `idealoop.asha_iteration`),
  `failed` / `nan_loss` (+ `idealoop.error`), `killed` (its driver, or its own process,
  was killed: + `idealoop.error`, Ray's words when Ray saw the process die). Trials end their own runs;
  `reconcile` ends whatever is still RUNNING after Ray is done (a trial whose process
  was torn down, a driver that was killed), from what Ray knows about each trial.

The driver switches a SQLite store to WAL first (`tracker.store.enable_sqlite_wal`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlflow.entities import Metric, Param, RunStatus, RunTag

from tracker import keys
from tracker.runs import MAX_PARAM_LEN, create_run, end_run
from tracker.store import (
    TAG_ASHA_ITERATION,
    TAG_BEST_CONFIG,
    TAG_BEST_TRIAL,
    TAG_END_REASON,
    TAG_ERROR,
    TAG_IDEA,
    TAG_KIND,
    TAG_NODE,
    TAG_PARENT,
    TAG_RAY_PATH,
    TAG_RECONCILED,
    TAG_STAGE,
    TAG_SWEEP,
    TAG_TASK,
    TAG_TRIAL,
    Store,
    StoreError,
    redact_uri,
)


@dataclass(frozen=True)
class TrialOutcome:
    """What Ray knows about a trial once it is over (or when the sweep ends)."""

    trial_id: str
    iteration: int  # last reported training_iteration (0: never reported)
    error: str = ""  # set when Ray recorded the trial as errored: `ExcType: message` (`trial_error`)
    finished: bool = True  # False: still pending/running when the driver stopped


# Ray's errors for a trial whose process (or node) died under it, not in its own code: the
# actor's worker was killed (SIGKILL, SIGTERM, the OOM killer, `ray stop`), crashed, or its
# node went away. Ray 2.60 reports a trial process SIGKILLed or SIGTERMed from outside as
# `ActorDiedError: The actor died unexpectedly before finishing this task. ... The actor is
# dead because its worker process has died. Worker exit type: SYSTEM_ERROR ...`; an
# exception the trial raised arrives as `RayTaskError(<its type>)` (`trial_error` unwraps it).
PROCESS_DIED_ERRORS = frozenset(
    {
        "ActorDiedError",
        "RayActorError",
        "WorkerCrashedError",
        "NodeDiedError",
        "LocalRayletDiedError",
        "OutOfMemoryError",
    }
)
# The same, said in words: an error recorded without its type (bare Ray text).
PROCESS_DIED_WORDS = ("actor died", "worker process has died", "killed by signal", "worker crashed")


def trial_error(exc: BaseException) -> str:
    """`ExcType: message` for the error Ray recorded for a trial. Pure.

    A Python exception raised in the trial reaches the driver wrapped in Ray's
    `RayTaskError(<type>)`, whose text starts with Ray's own `ray::ImplicitFunc.train()`
    banner: the trial's own exception (`.cause`) is named instead, first line only. Ray's
    own errors (a dead actor) keep their whole text, whitespace folded: the last line says
    how the worker died.
    """
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and type(exc).__name__.startswith("RayTaskError"):
        lines = str(cause).strip().splitlines()
        return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}".rstrip(": ")


def killed_from_outside(error: str) -> bool:
    """Whether a trial's recorded error says its process was killed, not that its code failed. Pure.

    `error` is `ExcType: message`: Ray's process-death types read killed, any other type
    (an exception of the trial's own, whatever its message says) does not. Text with no
    type name in front is judged by its words.
    """
    head, sep, _ = error.partition(":")
    if sep and head.strip().isidentifier():
        return head.strip() in PROCESS_DIED_ERRORS
    return any(words in error.lower() for words in PROCESS_DIED_WORDS)


def end_reason(outcome: TrialOutcome | None, max_iterations: int) -> tuple[str, str]:
    """(end reason, MLflow status) for a trial whose run was left RUNNING. Pure.

    A terminated trial that reported every iteration completed; one that stopped
    short was stopped by the scheduler (ASHA is the only thing that stops trials).
    A trial Ray recorded as errored failed (`nan_loss` for a non-finite loss), unless
    the error says its process died under it: killed.
    """
    if outcome is None or not outcome.finished:
        return "killed", "KILLED"
    if outcome.error:
        if killed_from_outside(outcome.error):
            return "killed", "KILLED"
        return ("nan_loss" if "NonFiniteLoss" in outcome.error else "failed"), "FAILED"
    if outcome.iteration >= max_iterations:
        return "completed", "FINISHED"
    return "stopped_by_asha", "FINISHED"


def create_sweep(
    store: Store,
    *,
    idea_id: str,
    stage: str,
    task: str,
    settings: dict,
    space: dict,
    base: dict,
    extra_tags: dict | None = None,
) -> str:
    """The sweep run, nested under the idea (adopting an `mlflow run` launcher like a stage run)."""
    tags = {TAG_KIND: "sweep", TAG_STAGE: stage, TAG_TASK: task, TAG_IDEA: idea_id, TAG_PARENT: idea_id}
    tags.update(extra_tags or {})
    run_id = create_run(store, tags, f"sweep-{stage}")
    params = {f"{keys.SWEEP_PARAM_PREFIX}{k}": v for k, v in settings.items()}
    params[f"{keys.SWEEP_PARAM_PREFIX}space"] = json.dumps(space)
    params[f"{keys.SWEEP_PARAM_PREFIX}base"] = json.dumps(base)
    store.client.log_batch(run_id, params=[Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in params.items()])
    return run_id


def set_tags(store: Store, run_id: str, tags: dict[str, str]) -> None:
    store.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def sweep_info(store: Store, sweep_id: str) -> dict:
    """What `tune --resume` needs: settings, space, base config, idea, Ray experiment path."""
    try:
        run = store.client.get_run(sweep_id)
    except Exception as exc:  # noqa: BLE001 - an unknown id is the user's to fix
        raise StoreError(f"no sweep run {sweep_id!r} in {redact_uri(store.uri)}") from exc
    tags, params = run.data.tags, run.data.params
    if tags.get(TAG_KIND) != "sweep":
        raise StoreError(f"run {sweep_id} is not a sweep ({TAG_KIND}={tags.get(TAG_KIND, '')!r})")
    if TAG_RAY_PATH not in tags:
        raise StoreError(f"sweep {sweep_id} never started Ray (no {TAG_RAY_PATH} tag): nothing to resume")
    prefix = keys.SWEEP_PARAM_PREFIX
    settings = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
    return {
        "idea_id": tags.get(TAG_IDEA, ""),
        "stage": tags.get(TAG_STAGE, ""),
        "task": tags.get(TAG_TASK, ""),
        "ray_path": tags[TAG_RAY_PATH],
        "space": json.loads(settings.pop("space")),
        "base": json.loads(settings.pop("base")),
        "settings": settings,
        "status": run.info.status,
    }


def trial_tags(sweep_id: str, trial_id: str, node: str = "") -> dict[str, str]:
    """What makes a stage run a sweep's trial (its parent is the sweep: `stage_run(parent_run_id=...)`)."""
    tags = {TAG_KIND: "trial", TAG_SWEEP: sweep_id, TAG_TRIAL: trial_id}
    return {**tags, TAG_NODE: node} if node else tags


def find_trial(store: Store, sweep_id: str, trial_id: str) -> str | None:
    """The run of a trial that already started once (Ray restarted it), or None."""
    found = trial_runs(store, sweep_id, f"tags.`{TAG_TRIAL}` = '{trial_id}'")
    return found[0].info.run_id if found else None


def trial_runs(store: Store, sweep_id: str, extra: str = "") -> list:
    clause = f"tags.`{TAG_SWEEP}` = '{sweep_id}'" + (f" and {extra}" if extra else "")
    return store.search_all(clause, order_by=["start_time ASC"])


def reconcile(
    store: Store, sweep_id: str, outcomes: dict[str, TrialOutcome], max_iterations: int
) -> dict[str, int]:
    """End every trial run of the sweep still RUNNING, with the reason Ray's record implies.

    Returns how many runs it ended, per end reason. Trials normally end their own runs; this
    catches the ones whose process was torn down first (routinely the last trials ASHA stopped:
    Tune ends their actors with the experiment), or whose driver died.
    """
    ended: dict[str, int] = {}
    for run in trial_runs(store, sweep_id, "attributes.status = 'RUNNING'"):
        outcome = outcomes.get(run.data.tags.get(TAG_TRIAL, ""))
        reason, status = end_reason(outcome, max_iterations)
        tags = {TAG_END_REASON: reason, TAG_RECONCILED: "true"}
        if reason == "stopped_by_asha":
            tags[TAG_ASHA_ITERATION] = str(outcome.iteration)
        if outcome is not None and outcome.error:
            tags[TAG_ERROR] = redact_uri(outcome.error)[:5000]  # for `killed`: how Ray says the process died
        elif reason == "killed":
            tags[TAG_ERROR] = "the trial's process ended without ending its run (driver or node died)"
        # Its seed runs (seeds > 1) were torn down with it: they end the same way.
        seeds = store.search_all(
            f"tags.`{TAG_PARENT}` = '{run.info.run_id}' and attributes.status = 'RUNNING'"
        )
        for one in [run, *seeds]:
            set_tags(store, one.info.run_id, tags)
            store.client.set_terminated(one.info.run_id, status)
        ended[reason] = ended.get(reason, 0) + 1
    return ended


def fail_stopped(store: Store, sweep_id: str, why: str) -> int:
    """End `failed` every trial run of the sweep still RUNNING or stopped early: the sweep was
    stopped because its trials all failed alike, so no trial of it was stopped by ASHA."""
    ended = 0
    for run in trial_runs(store, sweep_id):
        tags = run.data.tags
        if run.info.status != "RUNNING" and tags.get(TAG_END_REASON) != "stopped_by_asha":
            continue
        set_tags(store, run.info.run_id, {TAG_END_REASON: "failed", TAG_ERROR: redact_uri(why)[:5000]})
        store.client.set_terminated(run.info.run_id, "FAILED")
        ended += 1
    return ended


def record_best(
    store: Store, sweep_id: str, *, trial_id: str, config: dict, metric: str, value: float
) -> str:
    """Tag the sweep with its best trial's run and config; log `best/<metric>` (and the trial's
    `best_std/<metric>` when it packed several seeds). Returns the run id."""
    run_id = find_trial(store, sweep_id, trial_id) or ""
    set_tags(store, sweep_id, {TAG_BEST_TRIAL: run_id, TAG_BEST_CONFIG: json.dumps(config, default=str)})
    name = f"{keys.BEST_PREFIX}{metric}"
    points = [Metric(name, float(value), _now_ms(), 0)]
    spread = (
        store.client.get_run(run_id).data.metrics.get(f"{keys.BEST_STD_PREFIX}{metric}") if run_id else None
    )
    if spread is not None:  # the best trial trained several seeds: its std across them, beside the mean
        points.append(Metric(f"{keys.BEST_STD_PREFIX}{metric}", float(spread), _now_ms(), 0))
    store.client.log_batch(sweep_id, metrics=points)
    return run_id


def finish_sweep(store: Store, sweep_id: str, reason: str, error: BaseException | None = None) -> None:
    status = {"completed": RunStatus.FINISHED, "killed": RunStatus.KILLED}.get(reason, RunStatus.FAILED)
    end_run(store, sweep_id, status, reason, error)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
