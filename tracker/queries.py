"""Read models for the board: runs as plain rows, the runs tree, baselines and bests.

The board's pages only render; everything they show about runs comes from here, in
plain dataclasses (picklable, so `st.cache_data` can keep them). The layout being
read is docs/telemetry.md: runs are tagged with their kind, idea, stage, gates, end
reason, ASHA rung and range-check flags; trials nest under their sweep, stage runs
and sweeps under the idea.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker import keys
from tracker.estimates import best_first
from tracker.ideas import Idea, idea_from_run
from tracker.pooling import PoolSettings
from tracker.run_config import config_of
from tracker.store import (
    TAG_ASHA_ITERATION,
    TAG_BEST_TRIAL,
    TAG_CHECK_PREFIX,
    TAG_END_REASON,
    TAG_ERROR,
    TAG_FLAG_PREFIX,
    TAG_FLAGS,
    TAG_GATE_PREFIX,
    TAG_HIGHER,
    TAG_IDEA,
    TAG_KIND,
    TAG_PARENT,
    TAG_STAGE,
    TAG_TARGET,
    TAG_TASK,
    TAG_TITLE,
    Store,
)

RUN_KINDS = ("stage", "sweep", "trial")  # runs made for an idea (not the idea, not launchers)
LOWER_IS_BETTER = ("loss", "l1", "error")  # names minimised when no run's target tag says otherwise


@dataclass
class RunRow:
    """One MLflow run as the board shows it."""

    id: str
    name: str
    kind: str
    stage: str
    status: str
    idea_id: str = ""
    parent_id: str = ""
    gates: dict[str, str] = field(default_factory=dict)
    end_reason: str = ""
    error: str = ""
    asha_iteration: str = ""
    flags: dict[str, str] = field(default_factory=dict)  # flag -> detail
    best_trial: str = ""
    start_time: int = 0
    end_time: int = 0
    metrics: dict[str, float] = field(default_factory=dict)  # latest value of each key
    target: str = ""  # the val metric that judges the run (tag idealoop.target_metric)
    higher_is_better: bool = True  # the target's direction (tag idealoop.higher_is_better)
    params: dict[str, str] = field(default_factory=dict)  # as logged: the config, trial.<key>, sweep.<k>
    task: str = ""  # the task it trained on (tag idealoop.task)
    check_reason: str = ""  # stage_check: the first failed check and its reason ("" when none failed)

    @property
    def best(self) -> float | None:
        """Its best score on its own target metric (`best_score`); None untagged (sweeps, overfit)."""
        return best_score(self, self.target) if self.target else None

    @property
    def config(self) -> dict[str, str]:
        """The hyperparameters the run was given (`tracker.run_config.config_of`)."""
        return config_of(self.params)

    @property
    def running(self) -> bool:
        return self.status in ("RUNNING", "SCHEDULED")

    @property
    def why_ended(self) -> str:
        """One line: the end reason, with the ASHA rung or the error where there is one."""
        if self.running:
            return "running"
        why = self.end_reason or self.status.lower()
        if self.asha_iteration:
            why += f" at iteration {self.asha_iteration}"
        if self.error:
            why += f": {self.error}"
        return why


def run_row(run) -> RunRow:
    tags = run.data.tags
    flags = {f.strip(): "" for f in tags.get(TAG_FLAGS, "").split(",") if f.strip()}
    for key, value in tags.items():
        if key.startswith(TAG_FLAG_PREFIX):
            flags[key[len(TAG_FLAG_PREFIX) :]] = value
    return RunRow(
        id=run.info.run_id,
        name=run.info.run_name or "",
        kind=tags.get(TAG_KIND, ""),
        stage=tags.get(TAG_STAGE, ""),
        status=run.info.status,
        idea_id=tags.get(TAG_IDEA, ""),
        parent_id=tags.get(TAG_PARENT, ""),
        gates={k[len(TAG_GATE_PREFIX) :]: v for k, v in tags.items() if k.startswith(TAG_GATE_PREFIX)},
        end_reason=tags.get(TAG_END_REASON, ""),
        error=tags.get(TAG_ERROR, ""),
        asha_iteration=tags.get(TAG_ASHA_ITERATION, ""),
        flags=flags,
        best_trial=tags.get(TAG_BEST_TRIAL, ""),
        start_time=run.info.start_time or 0,
        end_time=run.info.end_time or 0,
        metrics=dict(run.data.metrics),
        target=tags.get(TAG_TARGET, ""),
        higher_is_better=tags.get(TAG_HIGHER, "true") == "true",
        params=dict(run.data.params),
        task=tags.get(TAG_TASK, ""),
        check_reason=failed_check(tags),
    )


def failed_check(tags: dict[str, str]) -> str:
    """`<check>: <reason>` of the first check a stage_check run failed ("" if none). Pure."""
    for key, verdict in tags.items():
        name = key[len(TAG_GATE_PREFIX) :]
        if key.startswith(TAG_GATE_PREFIX) and verdict == "failed" and name.startswith("check_"):
            return f"{name[len('check_') :]}: {tags.get(TAG_CHECK_PREFIX + name[len('check_') :], '')}"
    return ""


def idea_runs(store: Store, idea_id: str) -> list[RunRow]:
    """Every run made for one idea (stage runs, sweeps, trials), oldest first."""
    runs = store.search_all(f"tags.`{TAG_IDEA}` = '{idea_id}'", order_by=["start_time ASC"])
    return [run_row(r) for r in runs if r.data.tags.get(TAG_KIND) in RUN_KINDS]


def get_run_row(store: Store, run_id: str) -> RunRow:
    return run_row(store.client.get_run(run_id))


def runs_tree(rows: list[RunRow]) -> list[tuple[int, RunRow]]:
    """Rows in tree order with their depth: stage runs and sweeps, each sweep's trials under it.

    A trial whose sweep is missing from `rows` is shown at the top level rather than lost.
    """
    ids = {r.id for r in rows}
    children: dict[str, list[RunRow]] = {}
    top: list[RunRow] = []
    for r in sorted(rows, key=lambda r: (r.start_time, r.id)):
        if r.kind == "trial" and r.parent_id in ids:
            children.setdefault(r.parent_id, []).append(r)
        else:
            top.append(r)
    out: list[tuple[int, RunRow]] = []

    def walk(row: RunRow, depth: int) -> None:
        out.append((depth, row))
        for child in children.get(row.id, []):
            walk(child, depth + 1)

    for r in top:
        walk(r, 0)
    return out


def project_runs(store: Store) -> tuple[list[RunRow], dict[str, str]]:
    """All stage runs, sweeps and trials of the project, newest first, and idea titles by id."""
    runs = store.search_all(f"tags.`{TAG_IDEA}` LIKE '%'", order_by=["start_time DESC"])
    rows = [run_row(r) for r in runs if r.data.tags.get(TAG_KIND) in RUN_KINDS]
    ideas = store.search_all(f"tags.`{TAG_KIND}` = 'idea'")
    titles = {r.info.run_id: r.data.tags.get(TAG_TITLE, r.info.run_name or "") for r in ideas}
    return rows, titles


def run_counts(store: Store) -> dict[str, int]:
    """How many runs were made for each idea (idea id -> count), in one query.

    On a SQL store this is a GROUP BY over the tags table (~0.05 s for 10,000 runs);
    loading the runs through `search_runs` to count them takes ~11 s at that size.
    Elsewhere (an HTTP server) it falls back to `search_runs`.
    """
    from tracker.curves import raw_query
    from tracker.sql_metrics import sql_backend

    backend = sql_backend(store.client)
    if backend is None:
        counts: dict[str, int] = {}
        for run in store.search_all(f"tags.`{TAG_IDEA}` LIKE '%'"):
            counts[run.data.tags[TAG_IDEA]] = counts.get(run.data.tags[TAG_IDEA], 0) + 1
        return counts
    with backend.ManagedSessionMaker() as session:
        rows = raw_query(
            session,
            "SELECT t.value, COUNT(*) FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid "
            "WHERE t.key = {p} AND r.experiment_id = {p} AND r.lifecycle_stage = 'active' GROUP BY t.value",
            (TAG_IDEA, int(store.experiment_id)),
        )
    return {idea: int(n) for idea, n in rows}


def ranked_ideas(store: Store, pool: PoolSettings | None = None) -> list[tuple[Idea, int]]:
    """Ideas best score first (the people's estimates pooled with `pool`), each with its number of
    runs: `list_ideas` without loading every run."""
    counts = run_counts(store)
    runs = store.search_all(f"tags.`{TAG_KIND}` = 'idea'")
    return [(i, counts.get(i.id, 0)) for i in best_first(idea_from_run(r, None, pool) for r in runs)]


def lower_is_better(key: str, rows: list[RunRow] = ()) -> bool:
    """Is `key` minimised? The runs' own target tag decides for their target metric (e.g. `l1`
    with higher_is_better=false); other keys go by name (losses, errors, l1)."""
    name = key.split("/", 1)[-1]
    for r in rows:
        if r.target and r.target == name:
            return not r.higher_is_better
    return any(word in name.rsplit("/", 1)[-1] for word in LOWER_IS_BETTER)


def baseline_key(key: str) -> str:
    """The baseline stage's metric for an epoch metric: `val/accuracy` → `baseline/accuracy`."""
    return keys.BASELINE_PREFIX + key.split("/", 1)[-1]


def baseline_value(rows: list[RunRow], key: str) -> tuple[float, str] | None:
    """The most recent baseline run's score for `key` (value, run id), if any run recorded one."""
    found = [r for r in rows if r.stage == "baseline" and baseline_key(key) in r.metrics]
    if not found:
        return None
    run = max(found, key=lambda r: r.start_time)
    return run.metrics[baseline_key(key)], run.id


def project_best(rows: list[RunRow], key: str) -> tuple[float, str] | None:
    """The best final value of `key` over the given runs (value, run id), in the metric's direction."""
    found = [(r.metrics[key], r.id) for r in rows if key in r.metrics and r.metrics[key] == r.metrics[key]]
    if not found:
        return None
    return min(found) if lower_is_better(key, rows) else max(found)


def judged_by(rows: list[RunRow]) -> tuple[str, bool] | None:
    """(target metric, higher is better) the runs are judged by: the first run tagged with one."""
    for r in rows:
        if r.target:
            return r.target, r.higher_is_better
    return None


def best_score(row: RunRow, target: str) -> float | None:
    """A run's best target value: `best/<target>` (generalize, scale, trials, sweeps), else its
    latest `val/<target>` (overfit and baseline runs have neither: None)."""
    for key in (keys.BEST_PREFIX + target, keys.VAL_PREFIX + target):
        value = row.metrics.get(key)
        if value is not None and value == value:
            return value
    return None


def best_trial(sweep: RunRow, trials: list[RunRow], target: str, higher: bool) -> RunRow | None:
    """The sweep's best trial: the one its tag names, else (a sweep still going, or one that
    ended before naming it) the trial with the best score so far."""
    mine = [t for t in trials if t.parent_id == sweep.id]
    named = next((t for t in mine if t.id == sweep.best_trial), None)
    if named is not None:
        return named
    scored = [(s, t) for t in mine if (s := best_score(t, target)) is not None]
    if not scored:
        return None
    pick = max if higher else min
    return pick(scored, key=lambda p: p[0])[1]
