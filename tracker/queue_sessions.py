"""The overnight queue's sessions in MLflow: one per `queue start`, continued by a restarted driver.

A session is a run of kind `queue_session` in `<project>.queue` (see `tracker/queue_items.py`):
its deadline and GPU-hour budget, the Ray dashboard it submits to (and the pid of a local
head it started), the cluster's capacity, the driver's heartbeat (a second driver refuses
to start while it is fresh), a stop request from `queue stop`, and, once ended, the hours
the cluster's CPUs and GPUs were used and idle. Also here: what the planner learns from
history (`history_minutes`) and how an item's runs are ended with the queue's reason.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field

from mlflow.entities import Metric, RunStatus, RunTag

from tracker import keys
from tracker.ladder import stages_up_to as climb_stages  # what a climb to a rung runs
from tracker.queue_items import experiment_id, runs_of, search_kind
from tracker.store import (
    TAG_END_REASON,
    TAG_KIND,
    TAG_QUEUE_BUDGET,
    TAG_QUEUE_CAPACITY,
    TAG_QUEUE_DRIVER,
    TAG_QUEUE_ENDED,
    TAG_QUEUE_HEARTBEAT,
    TAG_QUEUE_REASON,
    TAG_QUEUE_STARTED,
    TAG_QUEUE_STATE,
    TAG_QUEUE_STOP,
    TAG_QUEUE_UNTIL,
    TAG_RAY_DASHBOARD,
    TAG_RAY_HEAD_PID,
    TAG_STAGE,
    TAG_SWEEP,
    TAG_TASK,
    Store,
    StoreError,
)

KIND = "queue_session"


@dataclass
class Session:
    id: str
    state: str
    until_ms: int
    budget: float | None
    dashboard: str
    head_pid: int
    capacity: dict
    started_ms: int
    ended_ms: int
    heartbeat_ms: int
    driver: str
    stop_requested: bool
    reason: str = ""
    metrics: dict = field(default_factory=dict)


def session_from_run(run) -> Session:
    t = run.data.tags
    num = lambda k: float(t[k]) if t.get(k) else None  # noqa: E731
    return Session(
        id=run.info.run_id,
        state=t.get(TAG_QUEUE_STATE, ""),
        until_ms=int(num(TAG_QUEUE_UNTIL) or 0),
        budget=num(TAG_QUEUE_BUDGET),
        dashboard=t.get(TAG_RAY_DASHBOARD, ""),
        head_pid=int(num(TAG_RAY_HEAD_PID) or 0),
        capacity=json.loads(t.get(TAG_QUEUE_CAPACITY) or "{}"),
        started_ms=int(num(TAG_QUEUE_STARTED) or run.info.start_time or 0),
        ended_ms=int(num(TAG_QUEUE_ENDED) or 0),
        heartbeat_ms=int(num(TAG_QUEUE_HEARTBEAT) or 0),
        driver=t.get(TAG_QUEUE_DRIVER, ""),
        stop_requested=t.get(TAG_QUEUE_STOP) == "requested",
        reason=t.get(TAG_QUEUE_REASON, ""),
        metrics=dict(run.data.metrics),
    )


def sessions(store: Store) -> list[Session]:
    """Every session, oldest first."""
    return [session_from_run(r) for r in search_kind(store, KIND)]


def open_session(store: Store, *, until_ms: int, budget: float | None) -> str:
    now = int(time.time() * 1000)
    tags = {TAG_KIND: KIND, TAG_QUEUE_STATE: "running", TAG_QUEUE_STARTED: str(now)}
    tags.update({TAG_QUEUE_UNTIL: str(until_ms), TAG_QUEUE_BUDGET: "" if budget is None else f"{budget:g}"})
    name = time.strftime("night of %Y-%m-%d %H:%M", time.localtime(now / 1000))
    run = store.client.create_run(experiment_id(store), run_name=name, tags=tags)
    store.client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run.info.run_id


def update_session(store: Store, session_id: str, **tags) -> None:
    """Set session fields: until, budget, dashboard, head_pid, capacity, state, reason, ended, stop."""
    names = {"until": TAG_QUEUE_UNTIL, "budget": TAG_QUEUE_BUDGET, "dashboard": TAG_RAY_DASHBOARD}
    names.update({"head_pid": TAG_RAY_HEAD_PID, "capacity": TAG_QUEUE_CAPACITY, "state": TAG_QUEUE_STATE})
    names.update({"reason": TAG_QUEUE_REASON, "ended": TAG_QUEUE_ENDED, "stop": TAG_QUEUE_STOP})
    text = lambda v: json.dumps(v) if isinstance(v, dict) else str(v)  # noqa: E731
    out = {names[k]: text(v) for k, v in tags.items() if v is not None}
    store.client.log_batch(session_id, tags=[RunTag(k, v) for k, v in out.items()])


def heartbeat(store: Store, session_id: str) -> None:
    me = f"{socket.gethostname()}:{os.getpid()}"
    store.client.log_batch(
        session_id,
        tags=[RunTag(TAG_QUEUE_HEARTBEAT, str(int(time.time() * 1000))), RunTag(TAG_QUEUE_DRIVER, me)],
    )


def get_session(store: Store, session_id: str) -> Session:
    try:
        return session_from_run(store.client.get_run(session_id))
    except Exception as exc:  # noqa: BLE001
        raise StoreError(f"no queue session {session_id!r}") from exc


def history_minutes(store: Store, what: str, stage: str, task: str) -> list[float]:
    """Durations (minutes, newest first) of this stage's finished runs on this task; for a sweep,
    of finished sweeps of that stage. The planner's estimate when an item gives none."""
    kind = "sweep" if what == "sweep" else "stage"
    runs = store.search_all(
        f"tags.`{TAG_KIND}` = '{kind}' and tags.`{TAG_STAGE}` = '{stage}' and tags.`{TAG_TASK}` = '{task}' "
        "and attributes.status = 'FINISHED'",
        order_by=["start_time DESC"],
    )
    spans = [(r.info.start_time, r.info.end_time) for r in runs]
    return [(end - start) / 60_000 for start, end in spans if start and end]


def item_minutes(store: Store, item, cache: dict) -> tuple[float, str]:
    """The planner's estimate of a queue item (`queue_plan.estimate_minutes`) from the store's
    history; `cache` keeps each (kind, stage, task)'s history for the caller's lifetime."""
    from tracker import queue_plan as qp

    wanted = [] if item.minutes else [(item.what, item.stage, item.task)]
    if wanted and item.what == "sweep":  # no sweep history yet: its trials are runs of its stage
        wanted.append(("stage", item.stage, item.task))
    if wanted and item.what == "climb":  # its rungs' runs, one after another
        wanted = [("stage", name, item.task) for name in climb_stages(item.stage)]
    for key in wanted:
        if key not in cache:
            cache[key] = history_minutes(store, *key)
    if item.what == "climb":
        return qp.climb_minutes(item.minutes, [cache[k] for k in wanted])
    return qp.estimate_minutes(
        item.minutes,
        cache.get((item.what, item.stage, item.task), []),
        item.what,
        trials=cache.get(("stage", item.stage, item.task), []),
        rounds=qp.sweep_rounds(item.sweep),
    )


def log_usage(store: Store, session_id: str, usage: dict[str, float]) -> None:
    """The session's hours used and idle, per resource: {"gpu_used": h, "gpu_idle": h, ...}."""
    names = {"gpu_used": keys.QUEUE_GPU_HOURS_USED, "gpu_idle": keys.QUEUE_GPU_HOURS_IDLE}
    names.update({"cpu_used": keys.QUEUE_CPU_HOURS_USED, "cpu_idle": keys.QUEUE_CPU_HOURS_IDLE})
    now = int(time.time() * 1000)
    store.client.log_batch(session_id, metrics=[Metric(names[k], float(v), now, 0) for k, v in usage.items()])


def end_item_runs(store: Store, item_id: str, reason: str) -> int:
    """After the queue stopped an item's job (deadline, budget, `queue stop`): its runs and a
    sweep's trials that ended `killed`, or were left RUNNING, end KILLED with `reason`."""
    client, done = store.client, 0
    for run in runs_of(store, item_id):
        family = [run]
        if run.data.tags.get(TAG_KIND) == "sweep":
            family += store.search_all(f"tags.`{TAG_SWEEP}` = '{run.info.run_id}'")
        for r in family:
            if r.info.status == "RUNNING":
                client.set_terminated(r.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            elif r.info.status != "KILLED" or r.data.tags.get(TAG_END_REASON) not in (None, "killed"):
                continue
            client.set_tag(r.info.run_id, TAG_END_REASON, reason)
            done += 1
    return done
