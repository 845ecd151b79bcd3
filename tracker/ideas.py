"""Ideas as MLflow runs: create, list (ranked), show, and revise without overwriting.

Layout (one idea = one run in the project's experiment, tagged idealoop.kind=idea):
- title → run name and tag `idealoop.title`; description → `mlflow.note.content`;
  category and status → tags.
- Estimates → metrics `estimate/<field>`; revision N is logged at step N, so the
  metric history *is* the revision history, with MLflow's own timestamps.
- Each revision also claims an immutable param `revision.NNNN` holding JSON
  {time, source, author, note, changes}. Params cannot change once written, so two
  people revising at once cannot both claim N: the loser retries with N+1 and
  nothing is lost or overwritten.
The idea run itself is FINISHED right after creation; MLflow still accepts
revisions on it, and nothing idealoop makes is ever left RUNNING.
"""

from __future__ import annotations

import getpass
import json
import time
import uuid
from dataclasses import asdict, dataclass, field

from mlflow.entities import Metric, RunStatus, RunTag
from mlflow.exceptions import MlflowException

from tracker import keys
from tracker.estimates import (
    FIELDS,
    EstimateError,
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
    StoreError,
    Target,
    redact_uri,
)

MAX_REVISION_CLAIMS = 50  # retries when concurrent editors race for the same revision number
MAX_RECORD_CHARS = 6_000  # MLflow cuts a longer param value, which would leave broken JSON


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

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Revision:
    number: int
    time_ms: int
    source: str
    author: str
    changes: dict
    note: str = ""
    damaged: bool = False  # the stored record could not be read; its estimates live on in the metrics


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def add_idea(
    store: Store,
    title: str,
    estimates: Estimates,
    *,
    category: str = "",
    description: str = "",
    source: str = "cli",
    extra_tags: dict[str, str] | None = None,
) -> str:
    """Create an idea and its first revision; return its id. Estimates are already validated;
    the texts are bounded here, before anything is written."""
    title = check_text("title", title, required=True)
    category = check_text("category", category)
    description = check_text("description", description)
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
        _append_revision(store, run.info.run_id, estimates.as_dict(), source=source, note="created")
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
) -> Revision | None:
    """Append a revision with the changed estimates (validated here) and update text tags."""
    checked = {k: check_field(k, v) for k, v in (changes or {}).items() if v is not None}
    if status is not None:
        check_status(status)
    title = None if title is None else check_text("title", title, required=True)
    category = None if category is None else check_text("category", category)
    description = None if description is None else check_text("description", description)
    note = check_text("note", note)
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
        revision = _append_revision(store, run_id, checked, source=source, note=note, meta=meta)
    if tags:
        store.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return revision


def _append_revision(
    store: Store,
    run_id: str,
    values: dict[str, float],
    *,
    source: str,
    note: str = "",
    meta: dict | None = None,
) -> Revision:
    client = store.client
    existing = _revision_numbers(client.get_run(run_id).data.params)
    number = max(existing, default=-1) + 1
    now = int(time.time() * 1000)
    record = {
        "time": now,
        "source": source,
        "author": _author(),
        "note": note,
        "changes": values,
        "nonce": uuid.uuid4().hex[:8],  # two identical edits must still conflict
        **(meta or {}),
    }
    # ensure_ascii=False: a non-ASCII note would otherwise grow six-fold as \\uXXXX escapes.
    text = json.dumps(record, ensure_ascii=False)
    if len(text) > MAX_RECORD_CHARS:  # the note is bounded, so only an odd author name gets here
        raise EstimateError(
            f"revision record is {len(text):,} characters; MLflow keeps at most {MAX_RECORD_CHARS:,}"
        )
    for _ in range(MAX_REVISION_CLAIMS):
        try:
            client.log_param(run_id, f"{keys.REVISION_PREFIX}{number:04d}", text)
            break
        except MlflowException as exc:
            if "INVALID_PARAMETER_VALUE" not in str(exc.error_code) and "Changing" not in str(exc):
                raise
            number += 1  # someone else claimed it first
    else:
        raise StoreError(f"could not claim a revision number for idea {run_id}")
    metrics = [Metric(f"{keys.ESTIMATE_PREFIX}{k}", float(v), now, number) for k, v in values.items()]
    if metrics:
        client.log_batch(run_id, metrics=metrics)
    return Revision(number, now, source, record["author"], values, note)


def _revision_numbers(params: dict[str, str]) -> list[int]:
    return [int(k[len(keys.REVISION_PREFIX) :]) for k in params if k.startswith(keys.REVISION_PREFIX)]


def idea_from_run(run, run_ids: list[str] | None = None) -> Idea:
    """An idea run (from `search_runs` / `get_run`) as an `Idea`; `run_ids`: the runs made for it."""
    m, t = run.data.metrics, run.data.tags
    values = {f: m.get(f"{keys.ESTIMATE_PREFIX}{f}", float("nan")) for f in FIELDS}
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
    )


def _idea_runs(store: Store) -> list:
    return store.search_all(f"tags.`{TAG_KIND}` = 'idea'")


def list_ideas(store: Store, *, status: str | None = None) -> list[Idea]:
    """All ideas, best score first, each with the ids of the runs made for it."""
    linked: dict[str, list[str]] = {}
    for run in store.search_all(f"tags.`{TAG_IDEA}` LIKE '%'", order_by=["start_time ASC"]):
        linked.setdefault(run.data.tags[TAG_IDEA], []).append(run.info.run_id)
    ideas = [idea_from_run(r, linked.get(r.info.run_id)) for r in _idea_runs(store)]
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


def get_idea(store: Store, idea_id: str) -> tuple[Idea, list[Revision], list]:
    """One idea, its revisions (oldest first) and the runs made for it (oldest first)."""
    run_id = resolve_id(store, idea_id)
    run = store.client.get_run(run_id)
    linked = store.search_all(f"tags.`{TAG_IDEA}` = '{run_id}'", order_by=["start_time ASC"])
    idea = idea_from_run(run, [r.info.run_id for r in linked])
    revisions = [
        _revision(key, value)
        for key, value in sorted(run.data.params.items())
        if key.startswith(keys.REVISION_PREFIX)
    ]
    return idea, revisions, linked


def _revision(key: str, value: str) -> Revision:
    """One stored revision record; a malformed one (e.g. cut by an older idealoop) reads as damaged
    instead of making the whole idea unreadable."""
    number = int(key[len(keys.REVISION_PREFIX) :])
    try:
        rec = json.loads(value)
        status = {"status": rec["status"]} if "status" in rec else {}
        return Revision(
            number=number,
            time_ms=int(rec["time"]),
            source=str(rec.get("source", "")),
            author=str(rec.get("author", "")),
            changes={**dict(rec.get("changes", {})), **status},
            note=str(rec.get("note", "")),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        note = f"damaged revision record ({len(value):,} characters stored); its estimates are kept"
        return Revision(number, 0, "?", "?", {}, note, damaged=True)
