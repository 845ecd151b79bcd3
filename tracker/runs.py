"""The life of a stage run: created beside its idea, nested under it, never left RUNNING.

`stage_run(target, ...)` is a context manager around one stage execution. Its `Target`
(tracker/store.py) names the store and the idea, already resolved at the boundary
(`tracker.ideas.target_for`, so an unknown idea fails before any run is created); it
- handles `mlflow run`: MLflow creates a launcher run *before* our entry point
  starts (in `--experiment-name`, `MLFLOW_EXPERIMENT_NAME`, or `Default`). If that
  run is already in the project's experiment it becomes the stage run. Otherwise
  the stage run is created in the project's experiment, beside its idea (the
  MLflow UI only nests runs within one experiment), and the launcher run is tagged
  `idealoop.kind=launcher` with `idealoop.stage_run_id` pointing at the real run;
- resumes an existing run when given `run_id` (`idealoop run STAGE --resume RUN_ID`, a
  sweep trial Ray restarted): the only path that takes over a run it did not create.
  The run is set RUNNING again and written through `tracker.resume.SkipStored`, so
  the new attempt stores no step the earlier one already stored;
- ends the run FINISHED (reason `completed`, or `stopped_by_asha` when the code
  raised `StoppedEarly`), FAILED (reason `failed` or `nan_loss`, with the exception
  as a tag and the traceback as an artifact) or KILLED (Ctrl-C), after the telemetry
  writer has flushed everything.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from mlflow.entities import Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException

from tracker.resume import SkipStored, adopt, stored_steps
from tracker.store import (
    TAG_ASHA_ITERATION,
    TAG_BEST_TRIAL,
    TAG_DESCRIPTION,
    TAG_END_REASON,
    TAG_ERROR,
    TAG_FLAG_PREFIX,
    TAG_FLAGS,
    TAG_GATE_PREFIX,
    TAG_IDEA,
    TAG_KIND,
    TAG_PARENT,
    TAG_REDIRECT,
    TAG_RUN_NAME,
    TAG_STAGE,
    TAG_TASK,
    Store,
    Target,
    redact_uri,
)
from tracker.telemetry import TelemetryWriter

MAX_PARAM_LEN = 6000  # MLflow's limit on a param value


class NonFiniteLoss(FloatingPointError):
    """Training produced a NaN/inf loss: the run ends FAILED with reason `nan_loss`."""


class StoppedEarly(Exception):
    """A scheduler (ASHA) stopped the run between epochs: it ends FINISHED, not FAILED."""

    def __init__(self, iteration: int, reason: str = "stopped_by_asha") -> None:
        super().__init__(f"{reason} after iteration {iteration}")
        self.iteration = iteration
        self.reason = reason


@dataclass
class StageRun:
    """Handle given to stage code: where it logs (`target`), the run id, its writer, its verdicts."""

    target: Target
    run_id: str
    writer: TelemetryWriter
    gates: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    resumed: bool = False  # an earlier attempt of this run exists (its checkpoint may too)
    stored: dict[str, int] = field(default_factory=dict)  # resumed: last stored step per metric key
    params: dict[str, str] = field(default_factory=dict)  # resumed: params the run already holds

    def last_stored(self, key: str) -> int:
        """The last step an earlier attempt stored for `key` (-1: none, or a fresh run)."""
        return self.stored.get(key, -1)

    @property
    def store(self) -> Store:
        return self.target.store

    @property
    def idea_id(self) -> str:
        """The idea's full id ("" for none): what stage code compares against its own evidence."""
        return self.target.idea_id

    def set_gate(self, name: str, passed: bool) -> None:
        verdict = "passed" if passed else "failed"
        self.gates[name] = verdict
        self.set_tags({f"{TAG_GATE_PREFIX}{name}": verdict})

    def void_gates(self) -> None:
        """A FAILED run passes no gate: a check that passed before the run failed (its telemetry
        lost, a later sub-stage crashed) is not evidence the board or the CLI may show as passed."""
        voided = {name: "failed" for name, verdict in self.gates.items() if verdict != "failed"}
        if voided:
            self.gates.update(voided)
            self.set_tags({f"{TAG_GATE_PREFIX}{name}": v for name, v in voided.items()})

    def flag(self, name: str, detail: str) -> None:
        """Record a range-check flag (exploding_grad, dead_activations, ...) as tags."""
        self.flags[name] = detail
        self.set_tags({TAG_FLAGS: ",".join(self.flags), f"{TAG_FLAG_PREFIX}{name}": detail[:5000]})

    def set_tags(self, tags: dict[str, str]) -> None:
        self.store.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, params: dict[str, object]) -> None:
        # Params are immutable: a resumed run keeps the first attempt's (device_resolved may differ now).
        items = [Param(k, str(v)[:MAX_PARAM_LEN]) for k, v in params.items() if k not in self.params]
        for i in range(0, len(items), 100):  # log_batch takes at most 100 params a call
            self.store.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_dict(self, data: dict, artifact_file: str) -> None:
        self.store.client.log_dict(self.run_id, data, artifact_file)


def _launcher_run_id() -> str | None:
    return os.environ.get("MLFLOW_RUN_ID") or None


def create_run(store: Store, tags: dict[str, str], run_name: str) -> str:
    """Create a run in the project (a stage run, a sweep), adopting an `mlflow run` launcher:
    see the module docstring. Returns the run id."""
    launcher = _launcher_run_id()
    client = store.client
    if launcher:
        try:
            info = client.get_run(launcher).info
        except MlflowException:
            info = None
        if info is not None and info.experiment_id == store.experiment_id:
            client.log_batch(launcher, tags=[RunTag(k, v) for k, v in tags.items()])
            client.set_tag(launcher, TAG_RUN_NAME, run_name)
            return launcher
    run = client.create_run(store.experiment_id, run_name=run_name, tags=tags)
    if launcher:
        _point_launcher(store, launcher, run.info.run_id)
    return run.info.run_id


def _point_launcher(store: Store, launcher: str, run_id: str) -> None:
    """Leave an `mlflow run` launcher run as a pointer to the real stage run."""
    store.client.log_batch(
        launcher,
        tags=[
            RunTag(TAG_KIND, "launcher"),
            RunTag(TAG_REDIRECT, run_id),
            RunTag(
                TAG_DESCRIPTION,
                f"This `mlflow run` launcher only started the stage. The stage run is "
                f"{run_id} in experiment {store.project!r}, beside its idea.",
            ),
        ],
    )


@contextmanager
def stage_run(
    target: Target,
    *,
    stage: str,
    run_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    task: str | None = None,
    run_id: str | None = None,
    telemetry_process: bool | None = None,
) -> Iterator[StageRun]:
    """Create (or resume) the run for one stage execution; see the module docstring.

    `run_id`: resume this existing run instead of creating one. `telemetry_process`:
    store through a shipper process (default: `tracker.telemetry.use_process`, i.e. a
    thread on a SQL store, the shipper against a server); sweep trials use a thread.
    """
    store, idea = target.store, target.idea_id
    tags = {TAG_KIND: "stage", TAG_STAGE: stage, **(extra_tags or {})}
    if task:
        tags[TAG_TASK] = task
    if idea:
        tags[TAG_IDEA] = idea
    parent = parent_run_id or idea
    if parent:
        tags[TAG_PARENT] = parent
    if run_id:
        handle = _resume(target, run_id, tags, telemetry_process)
    else:
        run_id = create_run(store, tags, run_name or stage)
        handle = StageRun(target, run_id, TelemetryWriter(store, run_id, process=telemetry_process))
    writer = handle.writer
    status, reason, error, extra = RunStatus.FINISHED, "completed", None, {}
    try:
        yield handle
    except BaseException as exc:
        status, reason, error, extra = ending(exc)
        raise
    finally:
        lost = None
        try:
            writer.close()
        except Exception as exc:  # noqa: BLE001 - a lost point fails the run, loudly
            if error is None:
                status, reason, error, lost = RunStatus.FAILED, "failed", exc, exc
        if status == RunStatus.FAILED:
            handle.void_gates()
        end_run(store, run_id, status, reason, error, extra)
        if lost is not None:  # the stage code returned, but its run failed: the caller must know
            raise lost


def ending(exc: BaseException) -> tuple[int, str, BaseException | None, dict[str, str]]:
    """(status, end reason, error, extra tags) of a run whose code raised `exc`."""
    if isinstance(exc, StoppedEarly):
        return RunStatus.FINISHED, exc.reason, None, {TAG_ASHA_ITERATION: str(exc.iteration)}
    if isinstance(exc, NonFiniteLoss):
        return RunStatus.FAILED, "nan_loss", exc, {}
    if isinstance(exc, KeyboardInterrupt):
        return RunStatus.KILLED, "killed", exc, {}
    return RunStatus.FAILED, "failed", exc, {}


def _resume(target: Target, run_id: str, tags: dict[str, str], telemetry_process: bool | None) -> StageRun:
    """The handle of a resumed run: RUNNING again, writing only steps it does not hold yet."""
    store = target.store
    launcher = _launcher_run_id()
    if launcher and launcher != run_id:  # `mlflow run` started this attempt: its run points here
        _point_launcher(store, launcher, run_id)
    run = adopt(store, run_id, tags)
    stored = stored_steps(run)
    writer = SkipStored(TelemetryWriter(store, run_id, process=telemetry_process), stored)
    handle = StageRun(target, run_id, writer, resumed=True, stored=stored, params=dict(run.data.params))
    old = run.data.tags  # the earlier attempts' flags stay listed when this one raises another
    handle.flags.update(
        {f: old.get(f"{TAG_FLAG_PREFIX}{f}", "") for f in old.get(TAG_FLAGS, "").split(",") if f}
    )
    return handle


TRACEBACK_ARTIFACT = "error/traceback.txt"  # a failed run's whole traceback


def end_run(
    store: Store,
    run_id: str,
    status: int,
    reason: str,
    error: BaseException | None,
    extra: dict | None = None,
) -> None:
    """End a run with its reason (+ `extra` tags); an error is tagged and its traceback stored."""
    tags = {TAG_END_REASON: reason, **(extra or {})}
    if error is not None:
        tags[TAG_ERROR] = redact_uri(f"{type(error).__name__}: {error}")[:5000]
        tb = redact_uri("".join(traceback.format_exception(type(error), error, error.__traceback__)))
        try:
            store.client.log_text(run_id, tb, TRACEBACK_ARTIFACT)
            saved = TRACEBACK_ARTIFACT
        except Exception:  # noqa: BLE001 - the tag above already says why it failed
            saved = None
        try:  # the CLI's one error line names the run, and the traceback artifact if it was saved
            error.idealoop_run_id, error.idealoop_traceback = run_id, saved
        except AttributeError:
            pass
    store.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    store.client.set_terminated(run_id, RunStatus.to_string(status))


def config_params(config: dict) -> dict[str, str]:
    """Flatten a resolved config for `log_params` (values as JSON where not scalar)."""
    return {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in config.items()}


def describe_run(run) -> dict:
    """A run as the CLI and board show it: ids, kind, stage, status, gates, why it ended."""
    tags = run.data.tags
    return {
        "id": run.info.run_id,
        "name": run.info.run_name,
        "kind": tags.get(TAG_KIND, ""),
        "stage": tags.get(TAG_STAGE, ""),
        "status": run.info.status,
        "parent_id": tags.get(TAG_PARENT, ""),
        "gates": {k[len(TAG_GATE_PREFIX) :]: v for k, v in tags.items() if k.startswith(TAG_GATE_PREFIX)},
        "end_reason": tags.get(TAG_END_REASON, ""),
        "asha_iteration": tags.get(TAG_ASHA_ITERATION, ""),
        "best_trial": tags.get(TAG_BEST_TRIAL, ""),
        "error": tags.get(TAG_ERROR, ""),
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
    }


def best_metric(
    store: Store,
    stage: str,
    metric: str,
    *,
    idea_id: str | None = None,
    task: str | None = None,
    higher_is_better: bool = True,
) -> tuple[float, str] | None:
    """Best value of a metric over finished runs of a stage (of one idea, and/or one task).

    Returns (value, run_id), or None when no such run has the metric. Used for the
    gates that compare against earlier evidence: the baseline to beat, the best
    generalize run the scale stage must improve on.
    """

    clauses = [f"tags.`{TAG_STAGE}` = '{stage}'", "attributes.status = 'FINISHED'"]
    if idea_id:
        clauses.append(f"tags.`{TAG_IDEA}` = '{idea_id}'")
    if task:
        clauses.append(f"tags.`{TAG_TASK}` = '{task}'")
    found = [
        (r.data.metrics[metric], r.info.run_id)
        for r in store.search_all(" and ".join(clauses))
        if metric in r.data.metrics
    ]
    if not found:
        return None
    return (max if higher_is_better else min)(found)
