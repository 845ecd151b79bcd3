"""The project's target: the score that is "sufficient", progress toward it, and the gap left.

The method says to aim for sufficient performance, not the most. A project (an MLflow
experiment) holds one target: task, metric, value, direction. Each change is a new
experiment tag `idealoop.project_target.<NNNN>` holding the revision as JSON, so the history
is kept (the newest revision is the target). Two people setting it at the very same moment
may pick the same number; the later write wins that revision (rare, and both are said on
the console).

Progress is pure logic over the project's runs (`tracker.queries.RunRow`): per day, the best
score any run on the target's task reached up to that day (`best/<metric>`, else the latest
`val/<metric>`: baselines count, they are results too). The remaining gap is signed so that
positive means still to go; an idea whose impact estimate covers the gap would reach it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import time
from dataclasses import asdict, dataclass

from tracker.queries import RunRow, best_score
from tracker.store import TAG_PROJECT_TARGET_PREFIX, Store


class TargetError(ValueError):
    """A target that cannot be set as given (one line for the user)."""


@dataclass(frozen=True)
class ProjectTarget:
    task: str
    metric: str
    value: float
    higher_is_better: bool
    time_ms: int = 0
    author: str = ""
    revision: int = 0

    def describe(self) -> str:
        arrow = "≥" if self.higher_is_better else "≤"
        return f"{self.task}: val {self.metric} {arrow} {self.value:g}"


def set_target(
    store: Store, *, task: str, metric: str, value: float, higher_is_better: bool
) -> ProjectTarget:
    """Append a revision of the project's target; returns it."""
    import math

    if not math.isfinite(value):
        raise TargetError(f"--value {value} is not a finite number")
    history = target_history(store)
    revision = (history[-1].revision if history else 0) + 1
    target = ProjectTarget(
        task, metric, float(value), higher_is_better, int(time.time() * 1000), _author(), revision
    )
    body = asdict(target)
    store.client.set_experiment_tag(
        store.experiment_id, f"{TAG_PROJECT_TARGET_PREFIX}{revision:04d}", json.dumps(body)
    )
    return target


def target_history(store: Store) -> list[ProjectTarget]:
    """Every revision of the target, oldest first ([] when none was set)."""
    tags = store.client.get_experiment(store.experiment_id).tags or {}
    out = []
    for key, value in tags.items():
        if not key.startswith(TAG_PROJECT_TARGET_PREFIX):
            continue
        try:
            out.append(ProjectTarget(**json.loads(value)))
        except (ValueError, TypeError):  # a hand-edited tag: skipped, the rest still reads
            continue
    return sorted(out, key=lambda t: t.revision)


def current_target(store: Store) -> ProjectTarget | None:
    history = target_history(store)
    return history[-1] if history else None


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a container is no reason to fail
        return ""


# -- progress (pure) -------------------------------------------------------------------
def scored(rows: list[RunRow], target: ProjectTarget) -> list[tuple[float, RunRow]]:
    """(score, run) of every run on the target's task judged in its metric (trials, stages, baselines)."""
    out = []
    for r in rows:
        if r.task != target.task or r.kind not in ("stage", "trial"):
            continue
        value = best_score(r, target.metric)
        if value is not None:
            out.append((value, r))
    return out


def best_so_far(rows: list[RunRow], target: ProjectTarget) -> tuple[float, RunRow] | None:
    found = scored(rows, target)
    if not found:
        return None
    pick = max if target.higher_is_better else min
    return pick(found, key=lambda p: p[0])


def gap(best: float | None, target: ProjectTarget) -> float | None:
    """What is left to gain, positive while the target is not reached (0 or less: reached)."""
    if best is None:
        return None
    return target.value - best if target.higher_is_better else best - target.value


def progress(rows: list[RunRow], target: ProjectTarget) -> list[dict]:
    """Per day (UTC) with a result: that day's best and the project's best up to it, oldest first."""
    days: dict[str, float] = {}
    better = max if target.higher_is_better else min
    for value, r in scored(rows, target):
        when = r.end_time or r.start_time
        day = dt.datetime.fromtimestamp(when / 1000, tz=dt.timezone.utc).date().isoformat()
        days[day] = better(days[day], value) if day in days else value
    out, best = [], None
    for day in sorted(days):
        best = days[day] if best is None else better(best, days[day])
        out.append({"day": day, "day_best": days[day], "best": best})
    return out


def covers_gap(impact: float, remaining: float | None) -> bool:
    """An idea whose impact estimate is at least the remaining gap would reach the target."""
    return remaining is not None and remaining > 0 and impact >= remaining
