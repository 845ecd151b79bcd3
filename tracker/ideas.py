"""Ideas as MLflow runs: create, list (ranked), show, and revise without overwriting.

Layout (one idea = one run in the project's experiment, tagged idealoop.kind=idea):
- title → run name and tag `idealoop.title`; description → `mlflow.note.content`;
  category and status → tags.
- Estimates → metrics `estimate/<field>`; revision N is logged at step N, so the
  metric history *is* the revision history, with MLflow's own timestamps.
- Each revision also claims an immutable param `revision.NNNN` holding JSON
  {time, source, author, note, changes}. Params cannot change once written, so two
  people revising at once cannot both claim N: the loser retries with N+1 and
  nothing is lost or overwritten (`tracker.records`).
- Several people: each revision that sets an estimate is its author's estimate; the idea's
  working estimate (what the score uses) pools every person's latest one
  (`tracker.pooling`), computed when the idea is read, so nothing pooled is ever stored
  and two people estimating at once cannot leave a stale pool behind. Comments are
  params `comment.NNNN`, claimed the same way (`tracker.comments`).
The idea run itself is FINISHED right after creation; MLflow still accepts
revisions on it, and nothing idealoop makes is ever left RUNNING.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

from mlflow.entities import Metric, RunStatus, RunTag
from mlflow.exceptions import MlflowException

from tracker import keys, pooling, records
from tracker.estimates import (
    FIELDS,
    Estimates,
    best_first,
    check_field,
    check_status,
    check_text,
    score,
)
from tracker.store import (
    TAG_CATEGORY,
    TAG_DESCRIPTION,
    TAG_IDEA,
    TAG_KIND,
    TAG_RUN_NAME,
    TAG_STATUS,
    TAG_TITLE,
    Store,
    Target,
    redact_uri,
)

Revision = records.Revision  # re-exported: revisions are read and written through this module


class IdeaNotFound(LookupError):
    """No idea with that id (or id prefix) in the project."""


@dataclass
class Idea:
    id: str
    title: str
    hours: float
    complexity: int
    impact: float
    likelihood: float
    score: float
    status: str
    category: str = ""
    description: str = ""
    created_ms: int = 0
    run_ids: list[str] = field(default_factory=list)
    people: dict[str, dict[str, float]] = field(default_factory=dict)  # person -> their latest values
    disagreement: float = math.nan  # highest / lowest of the people's own scores (pooling.disagreement)

    def as_dict(self) -> dict:
        return asdict(self)


def add_idea(
    store: Store,
    title: str,
    estimates: Estimates,
    *,
    category: str = "",
    description: str = "",
    source: str = "cli",
    extra_tags: dict[str, str] | None = None,
    author: str | None = None,
) -> str:
    """Create an idea and its first revision; return its id. Estimates are already validated;
    the texts are bounded here, before anything is written."""
    title = check_text("title", title, required=True)
    category = check_text("category", category)
    description = check_text("description", description)
    who = records.author(author, store.uri)
    tags = {
        TAG_KIND: "idea",
        TAG_TITLE: title,
        TAG_STATUS: "proposed",
        TAG_CATEGORY: category,
        TAG_DESCRIPTION: description,
        **(extra_tags or {}),
    }
    client = store.client
    run = client.create_run(store.experiment_id, run_name=title, tags=tags)
    try:
        values = estimates.as_dict()
        _append_revision(store, run.info.run_id, values, source=source, author=who, note="created")
    finally:
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run.info.run_id


def update_idea(
    store: Store,
    idea_id: str,
    *,
    changes: dict[str, object] | None = None,
    status: str | None = None,
    title: str | None = None,
    category: str | None = None,
    description: str | None = None,
    source: str = "cli",
    note: str = "",
    author: str | None = None,
) -> Revision | None:
    """Append a revision with the changed estimates (validated here) and update text tags. The
    estimates are `author`'s own (`tracker.records.author`): they replace only that person's."""
    checked = {k: check_field(k, v) for k, v in (changes or {}).items() if v is not None}
    if status is not None:
        check_status(status)
    title = None if title is None else check_text("title", title, required=True)
    category = None if category is None else check_text("category", category)
    description = None if description is None else check_text("description", description)
    note = check_text("note", note)
    who = records.author(author, store.uri)
    run_id = resolve_id(store, idea_id)
    tags = {}
    if status is not None:
        tags[TAG_STATUS] = status
    if category is not None:
        tags[TAG_CATEGORY] = category
    if description is not None:
        tags[TAG_DESCRIPTION] = description
    if title is not None:
        tags[TAG_TITLE] = title
        tags[TAG_RUN_NAME] = title
    revision = None
    if checked or status is not None:
        meta = {"status": status} if status is not None else {}
        revision = _append_revision(store, run_id, checked, source=source, author=who, note=note, meta=meta)
    if tags:
        store.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return revision


def _append_revision(
    store: Store,
    run_id: str,
    values: dict[str, float],
    *,
    source: str,
    author: str,
    note: str = "",
    meta: dict | None = None,
) -> Revision:
    client = store.client
    existing = records.numbers(client.get_run(run_id).data.params, keys.REVISION_PREFIX)
    now = int(time.time() * 1000)
    record = {"time": now, "source": source, "author": author, "note": note, "changes": values}
    record.update(meta or {})
    number = records.claim(client, run_id, keys.REVISION_PREFIX, record, max(existing, default=-1) + 1)
    metrics = [Metric(f"{keys.ESTIMATE_PREFIX}{k}", float(v), now, number) for k, v in values.items()]
    if metrics:
        client.log_batch(run_id, metrics=metrics)
    return Revision(number, now, source, author, values, note)


def idea_from_run(run, run_ids: list[str] | None = None, pool: pooling.PoolSettings | None = None) -> Idea:
    """An idea run (from `search_runs` / `get_run`) as an `Idea`; `run_ids`: the runs made for it.

    Its estimates pool the people's latest ones (`pool`: weights and extremizing; default
    everyone the same); a field nobody's readable revision sets keeps its latest metric."""
    m, t = run.data.metrics, run.data.tags
    said = pooling.voices(records.revisions(run.data.params))
    pooled = pooling.pool(said, pool or pooling.PoolSettings())
    values = {f: pooled.get(f, m.get(f"{keys.ESTIMATE_PREFIX}{f}", math.nan)) for f in FIELDS}
    return Idea(
        id=run.info.run_id,
        title=t.get(TAG_TITLE, run.info.run_name or ""),
        hours=values["hours"],
        complexity=int(values["complexity"]) if values["complexity"] == values["complexity"] else 0,
        impact=values["impact"],
        likelihood=values["likelihood"],
        score=score(**values),
        status=t.get(TAG_STATUS, "proposed"),
        category=t.get(TAG_CATEGORY, ""),
        description=t.get(TAG_DESCRIPTION, ""),
        created_ms=run.info.start_time or 0,
        run_ids=run_ids or [],
        people=pooling.people(said),
        disagreement=pooling.disagreement(said, values),
    )


def _idea_runs(store: Store) -> list:
    return store.search_all(f"tags.`{TAG_KIND}` = 'idea'")


def list_ideas(
    store: Store, *, status: str | None = None, pool: pooling.PoolSettings | None = None
) -> list[Idea]:
    """All ideas, best score first, each with the ids of the runs made for it (`pool`: how the
    people's estimates are pooled, see `idea_from_run`)."""
    linked: dict[str, list[str]] = {}
    for run in store.search_all(f"tags.`{TAG_IDEA}` LIKE '%'", order_by=["start_time ASC"]):
        linked.setdefault(run.data.tags[TAG_IDEA], []).append(run.info.run_id)
    ideas = [idea_from_run(r, linked.get(r.info.run_id), pool) for r in _idea_runs(store)]
    if status:
        ideas = [i for i in ideas if i.status == status]
    return best_first(ideas)


def resolve_id(store: Store, idea_id: str) -> str:
    """Accept a full run id or a unique prefix (>= 6 chars) of an idea's id."""
    idea_id = idea_id.strip()
    try:
        run = store.client.get_run(idea_id)
        if run.data.tags.get(TAG_KIND) == "idea" and run.info.experiment_id == store.experiment_id:
            return run.info.run_id
        if run.data.tags.get(TAG_KIND) == "idea":
            raise IdeaNotFound(f"idea {idea_id} belongs to another project")
        raise IdeaNotFound(f"run {idea_id} is not an idea ({TAG_KIND}={run.data.tags.get(TAG_KIND)})")
    except MlflowException:
        pass
    if len(idea_id) >= 6:
        matches = [r.info.run_id for r in _idea_runs(store) if r.info.run_id.startswith(idea_id)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise IdeaNotFound(f"idea id prefix {idea_id!r} is ambiguous ({len(matches)} ideas)")
    raise IdeaNotFound(f"no idea {idea_id!r} in project {store.project!r} at {redact_uri(store.uri)}")


def target_for(store: Store, idea: str | None) -> Target:
    """The one lookup of an idea a run is for, at the boundary: `idea` (a full id or a unique
    prefix, as the user typed it; "" or None for no idea) → a `Target` holding its full id.

    Raises `IdeaNotFound` before anything is created. Everything downstream (the stage
    run, a sweep and its trials, data-parallel ranks) takes the `Target` as it is.
    """
    return Target(store, resolve_id(store, idea) if idea else "")


def get_idea(
    store: Store, idea_id: str, pool: pooling.PoolSettings | None = None
) -> tuple[Idea, list[Revision], list]:
    """One idea (its estimates pooled with `pool`), its revisions (oldest first) and the runs
    made for it (oldest first)."""
    run_id = resolve_id(store, idea_id)
    run = store.client.get_run(run_id)
    linked = store.search_all(f"tags.`{TAG_IDEA}` = '{run_id}'", order_by=["start_time ASC"])
    idea = idea_from_run(run, [r.info.run_id for r in linked], pool)
    revisions = records.revisions(run.data.params)
    return idea, revisions, linked
