"""The overnight queue in MLflow: its items and its sessions, so a killed driver loses nothing.

Layout: the experiment `<project>.queue` (beside the project's, so no reader of ideas and
runs meets a queue record by surprise) holds
- one run per **item**, tagged `idealoop.kind=queue_item`, FINISHED at creation like an idea.
  What it runs is immutable params `queue.<what|stage|task|set|space|sweep|cpus|gpus|minutes>`;
  its state is tags (`idealoop.queue_state`, `…_reason`, `…_priority`, `idealoop.ray_job`,
  `…_started`, `…_ended`, `…_session`), its failure's log tail an artifact.
- one run per **session** (`queue start --until`), kind `queue_session`: the deadline, the
  budget, the Ray dashboard it submits to, the driver's heartbeat and a stop request.
The stage and sweep runs an item makes live in the project's experiment as usual, nested
under their idea, with the tag `idealoop.queue_item` pointing back at the item.

An item's life: queued → submitted (tagged before its Ray job is submitted, under the
submission id `idealoop-<item id>`, which Ray refuses to take twice) → running → done |
failed | killed | skipped (or removed while queued). Only this module writes those tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mlflow.entities import Param, RunStatus, RunTag

from tracker import keys
from tracker.store import (
    TAG_IDEA,
    TAG_KIND,
    TAG_QUEUE_ENDED,
    TAG_QUEUE_ITEM,
    TAG_QUEUE_PRIORITY,
    TAG_QUEUE_REASON,
    TAG_QUEUE_SESSION,
    TAG_QUEUE_STARTED,
    TAG_QUEUE_STATE,
    TAG_QUEUE_STOPPING,
    TAG_RAY_JOB,
    TAG_STAGE,
    TAG_TASK,
    Store,
)

ITEM = "queue_item"  # the kind tag of an item run
WAITING = ("queued",)
ACTIVE = ("submitted", "running")
ENDED = ("done", "failed", "killed", "skipped", "removed")
LOG_TAIL_ARTIFACT = "logs/tail.txt"  # a failed item's last log lines
JOB_PREFIX = "idealoop-"  # Ray submission id = JOB_PREFIX + item id
LIMITS = {"cpus": (0.0, 1024.0), "gpus": (0.0, 64.0), "minutes": (0.0, 7 * 24 * 60.0)}
_EXPERIMENTS: dict[tuple[str, str], str] = {}


class QueueError(ValueError):
    """Bad input for the queue (one line for the user), or an item that cannot do what was asked."""


@dataclass
class QueueItem:
    id: str
    idea_id: str
    what: str  # a stage name (baseline, overfit, generalize, scale), "sweep" or "climb"
    stage: str  # the stage that runs: `what`, the sweep's trials' stage, or the climb's top rung
    task: str
    overrides: dict = field(default_factory=dict)
    space: dict = field(default_factory=dict)  # sweeps: the search space (as its YAML read)
    sweep: dict = field(default_factory=dict)  # sweeps: num_samples, max_concurrent, ...
    cpus: float = 1.0
    gpus: float = 0.0
    minutes: float | None = None
    priority: float | None = None
    state: str = "queued"
    reason: str = ""
    job_id: str = ""
    session: str = ""
    started_ms: int = 0
    ended_ms: int = 0
    created_ms: int = 0
    stopping: str = ""

    @property
    def job_name(self) -> str:
        return JOB_PREFIX + self.id

    @property
    def held(self) -> tuple[float, float]:
        """(CPUs, GPUs) it holds while it runs: a sweep's are per trial, `max_concurrent` at once."""
        n = float(self.sweep.get("max_concurrent") or 2) if self.what == "sweep" else 1.0
        return self.cpus * n, self.gpus * n


def experiment_id(store: Store) -> str:
    """The queue's experiment `<project>.queue`, created on first use."""
    key = (store.uri, store.project)
    if key not in _EXPERIMENTS:
        name = f"{store.project}.queue"
        exp = store.client.get_experiment_by_name(name)
        if exp is None:
            try:
                _EXPERIMENTS[key] = store.client.create_experiment(name)
            except Exception:  # noqa: BLE001 - created by a concurrent writer
                _EXPERIMENTS[key] = store.client.get_experiment_by_name(name).experiment_id
        else:
            _EXPERIMENTS[key] = exp.experiment_id
    return _EXPERIMENTS[key]


def check_number(name: str, value, *, optional: bool = False) -> float | None:
    """One line naming the field, the value and the range (LIMITS) on bad input."""
    if value in (None, "") and optional:
        return None
    low, high = LIMITS[name]
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise QueueError(f"{name}={value!r} is not a number; allowed: {low:g}-{high:g}") from None
    if not (low <= x <= high) or (name != "gpus" and x == 0):
        raise QueueError(f"{name}={x:g} is out of range; allowed: > {low:g} and <= {high:g}")
    return x


def add_item(
    store: Store,
    *,
    idea_id: str,
    what: str,
    stage: str,
    task: str,
    overrides: dict | None = None,
    space: dict | None = None,
    sweep: dict | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    minutes: float | None = None,
    priority: float | None = None,
) -> str:
    """Queue one item (checked by the caller: idea, stage, task, config); returns its id."""
    cpus, gpus = check_number("cpus", cpus), check_number("gpus", gpus)
    minutes = check_number("minutes", minutes, optional=True)
    params = {"what": what, "stage": stage, "task": task, "cpus": cpus, "gpus": gpus}
    params.update({"set": json.dumps(overrides or {}), "space": json.dumps(space or {})})
    params.update({"sweep": json.dumps(sweep or {}), "minutes": "" if minutes is None else minutes})
    tags = {TAG_KIND: ITEM, TAG_IDEA: idea_id, TAG_STAGE: stage, TAG_TASK: task, TAG_QUEUE_STATE: "queued"}
    tags[TAG_QUEUE_PRIORITY] = "" if priority is None else f"{float(priority):g}"
    client = store.client
    run = client.create_run(experiment_id(store), run_name=f"{what} {task}", tags=tags)
    rid = run.info.run_id
    client.log_batch(rid, params=[Param(f"{keys.QUEUE_PARAM_PREFIX}{k}", str(v)) for k, v in params.items()])
    client.set_terminated(rid, RunStatus.to_string(RunStatus.FINISHED))
    return rid


def item_from_run(run) -> QueueItem:
    t, p = run.data.tags, run.data.params
    q = {k[len(keys.QUEUE_PARAM_PREFIX) :]: v for k, v in p.items() if k.startswith(keys.QUEUE_PARAM_PREFIX)}
    number = lambda v: float(v) if v not in (None, "") else None  # noqa: E731
    return QueueItem(
        id=run.info.run_id,
        idea_id=t.get(TAG_IDEA, ""),
        what=q.get("what", ""),
        stage=q.get("stage", ""),
        task=q.get("task", ""),
        overrides=json.loads(q.get("set") or "{}"),
        space=json.loads(q.get("space") or "{}"),
        sweep=json.loads(q.get("sweep") or "{}"),
        cpus=number(q.get("cpus")) or 0.0,
        gpus=number(q.get("gpus")) or 0.0,
        minutes=number(q.get("minutes")),
        priority=number(t.get(TAG_QUEUE_PRIORITY)),
        state=t.get(TAG_QUEUE_STATE, "queued"),
        reason=t.get(TAG_QUEUE_REASON, ""),
        job_id=t.get(TAG_RAY_JOB, ""),
        session=t.get(TAG_QUEUE_SESSION, ""),
        started_ms=int(number(t.get(TAG_QUEUE_STARTED)) or 0),
        ended_ms=int(number(t.get(TAG_QUEUE_ENDED)) or 0),
        created_ms=run.info.start_time or 0,
        stopping=t.get(TAG_QUEUE_STOPPING, ""),
    )


def search_kind(store: Store, kind: str) -> list:
    runs, token = [], None
    where = f"tags.`{TAG_KIND}` = '{kind}'"
    while True:
        page = store.client.search_runs(
            [experiment_id(store)], where, max_results=1000, order_by=["start_time ASC"], page_token=token
        )
        runs += page
        token = page.token
        if not token:
            return runs


def list_items(store: Store, states: tuple[str, ...] | None = None) -> list[QueueItem]:
    """Items, oldest first; `states`: only those (default: all but removed)."""
    items = [item_from_run(r) for r in search_kind(store, ITEM)]
    return [i for i in items if (i.state in states if states else i.state != "removed")]


def get_item(store: Store, item_id: str) -> QueueItem:
    """One item by its id or a unique prefix (6+ characters)."""
    item_id = item_id.strip()
    matches = [i for i in list_items(store, ENDED + ACTIVE + WAITING) if i.id.startswith(item_id)]
    exact = [i for i in matches if i.id == item_id]
    if exact or (len(item_id) >= 6 and len(matches) == 1):
        return (exact or matches)[0]
    why = "is ambiguous" if len(matches) > 1 else "matches no item"
    raise QueueError(f"queue item {item_id!r} {why} in project {store.project!r}")


def set_state(store: Store, item_id: str, state: str, reason: str = "", **tags: str) -> None:
    """Move an item to `state` (with its reason, and any of: job, session, started, ended, stopping)."""
    names = {"job": TAG_RAY_JOB, "session": TAG_QUEUE_SESSION, "started": TAG_QUEUE_STARTED}
    names.update({"ended": TAG_QUEUE_ENDED, "stopping": TAG_QUEUE_STOPPING})
    out = {TAG_QUEUE_STATE: state, **{names[k]: str(v) for k, v in tags.items()}}
    if reason or state in ENDED:
        out[TAG_QUEUE_REASON] = " ".join(reason.split())[:500]
    store.client.log_batch(item_id, tags=[RunTag(k, v) for k, v in out.items()])


def set_priority(store: Store, item_id: str, priority: float | None) -> None:
    store.client.set_tag(item_id, TAG_QUEUE_PRIORITY, "" if priority is None else f"{float(priority):g}")


def remove_item(store: Store, item_id: str) -> QueueItem:
    """Take a queued item out (kept as `removed`, for the record); a started one is refused."""
    item = get_item(store, item_id)
    if item.state not in WAITING:
        raise QueueError(f"queue item {item.id} is {item.state}: only a queued item can be removed")
    set_state(store, item.id, "removed", "removed by hand")
    return item


def save_log_tail(store: Store, item_id: str, text: str) -> None:
    store.client.log_text(item_id, text, LOG_TAIL_ARTIFACT)


def log_tail(store: Store, item_id: str) -> str:
    try:
        path = store.client.download_artifacts(item_id, LOG_TAIL_ARTIFACT)
    except Exception:  # noqa: BLE001 - no tail stored (the item did not fail)
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def runs_of(store: Store, item_id: str) -> list:
    """The stage or sweep runs (in the project's experiment) that an item made."""
    return store.search_all(f"tags.`{TAG_QUEUE_ITEM}` = '{item_id}'", order_by=["start_time ASC"])
