"""The overnight queue's decisions, as pure functions: what order, how long, what starts now.

No MLflow and no Ray here (STYLE.md §2): `tracker/queue_items.py` stores the queue and
`runners/queue/driver.py` asks these functions what to do on every tick.

- **Order**: items with an explicit priority first (higher first), then by the idea's score
  per estimated GPU-hour (`rank_value`): an idea's expected gain per hour of a person's
  time, divided by what the item costs the cluster. A CPU-only item costs its CPU-hours at
  `CPU_PER_GPU` CPUs to a GPU, so it is cheap but never free. Ties: the older item first.
- **Estimate**: the item's own `--minutes`, else the median duration of this stage's
  finished runs on this task (the project's history), else `DEFAULT_MINUTES`.
- **Plan** (`plan`): walk the ordered items; skip those that cannot finish before the
  deadline, that would overrun the GPU-hour budget, or that are bigger than the cluster;
  start those that fit in what is free now. Smaller items may pass a blocked bigger one
  only without delaying it (EASY backfilling): they either end, by their estimates, before
  the running items free enough for it, or fit beside it then.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

CPU_PER_GPU = 8.0  # a CPU-hour costs 1/8 GPU-hour when ranking (a CPU-only item is cheap, not free)
DEFAULT_MINUTES = {"sweep": 60.0}  # no --minutes and no history: a sweep's guess
FALLBACK_MINUTES = 30.0  # ... and any stage's
HISTORY_RUNS = 10  # the newest runs of a stage the estimate takes the median of
START_MINUTES = 0.25  # what an item adds to its run's duration: its process and Ray job start
RESOURCES = ("CPU", "GPU")


@dataclass(frozen=True)
class Need:
    """What one item holds while it runs: Ray CPUs and GPUs (fractions allowed)."""

    cpus: float = 1.0
    gpus: float = 0.0

    def fits(self, free: dict[str, float]) -> bool:
        eps = 1e-9
        return self.cpus <= free.get("CPU", 0.0) + eps and self.gpus <= free.get("GPU", 0.0) + eps

    def take(self, free: dict[str, float], sign: float = -1.0) -> dict[str, float]:
        out = dict(free)
        out["CPU"] = out.get("CPU", 0.0) + sign * self.cpus
        out["GPU"] = out.get("GPU", 0.0) + sign * self.gpus
        return out


@dataclass
class Planned:
    """An item as the planner sees it: its id, need, estimated minutes and order key."""

    id: str
    need: Need
    minutes: float
    priority: float | None = None
    idea_score: float = 0.0
    created_ms: int = 0
    label: str = ""


@dataclass
class Running:
    """An item that holds resources now, and when it is expected to end (ms since the epoch)."""

    id: str
    need: Need
    expected_end_ms: float


@dataclass
class Plan:
    start: list[str] = field(default_factory=list)
    skip: dict[str, str] = field(default_factory=dict)  # item id -> why, one line


def gpu_hours(need: Need, minutes: float) -> float:
    return need.gpus * minutes / 60.0


def cost_hours(need: Need, minutes: float) -> float:
    """What an item costs the cluster in GPU-hours, CPUs counted at CPU_PER_GPU to a GPU."""
    return max(need.gpus, need.cpus / CPU_PER_GPU) * minutes / 60.0


def rank_value(item: Planned) -> float:
    """The idea's score per estimated GPU-hour of this item (higher runs first)."""
    score = item.idea_score if item.idea_score == item.idea_score else 0.0  # NaN: unranked
    return score / max(cost_hours(item.need, item.minutes), 1e-9)


def order(items: list[Planned]) -> list[Planned]:
    """Explicit priorities first (higher first), then rank_value, then the older item."""
    return sorted(
        items,
        key=lambda i: (
            i.priority is None,
            -(i.priority or 0.0),
            -rank_value(i),
            i.created_ms,
        ),
    )


def estimate_minutes(
    given: float | None, history: list[float], what: str, *, trials: list[float] = (), rounds: int = 1
) -> tuple[float, str]:
    """(minutes, where from): the item's own estimate, else the median of the stage's history on
    the task (a sweep: of that stage's sweeps), else, for a sweep, `rounds` rounds of trials as
    long as the stage's runs (`trials`), else a default. History is run durations, newest first;
    an item also starts a process (imports, Ray's job), so START_MINUTES is added to them."""
    if given is not None and given > 0:
        return float(given), "given"
    recent = recent_runs(history)
    if recent:
        return float(statistics.median(recent)) + START_MINUTES, f"median of {len(recent)} runs"
    runs = recent_runs(trials)
    if what == "sweep" and runs:
        per = f"{rounds} round{'s' if rounds != 1 else ''} of trials"
        return rounds * float(statistics.median(runs)) + START_MINUTES, f"{per}, median of {len(runs)} runs"
    return DEFAULT_MINUTES.get(what, FALLBACK_MINUTES), "default"


def climb_minutes(given: float | None, rungs: list[list[float]]) -> tuple[float, str]:
    """(minutes, where from) of a climb: its own estimate, else the sum of its rungs' medians
    (each rung's history as in `estimate_minutes`) once every rung has run before, else a default."""
    if given is not None and given > 0:
        return float(given), "given"
    recent = [recent_runs(history) for history in rungs]
    if rungs and all(recent):
        total = sum(float(statistics.median(r)) for r in recent)
        return total + START_MINUTES, f"sum of its {len(rungs)} rungs' medians"
    return DEFAULT_MINUTES.get("climb", FALLBACK_MINUTES), "default"


def recent_runs(history: list[float]) -> list[float]:
    """The durations an estimate trusts: the newest HISTORY_RUNS that took any time."""
    return [h for h in history if h > 0][:HISTORY_RUNS]


def sweep_rounds(sweep: dict) -> int:
    """How many trials each concurrent slot runs one after another (ASHA stops make it fewer)."""
    samples = int(sweep.get("num_samples") or 8)
    return max(1, math.ceil(samples / max(1, int(sweep.get("max_concurrent") or 2))))


def plan(
    now_ms: float,
    until_ms: float,
    queued: list[Planned],
    running: list[Running],
    capacity: dict[str, float],
    budget_left_gpu_h: float | None = None,
) -> Plan:
    """What to start now and what to give up on; `queued` in queue order (see `order`).

    `budget_left_gpu_h`: GPU-hours not yet spent (None: no budget). The running items' estimates
    are promised out of it: an item that fits the budget only once they end under their
    estimates waits; one that would overrun it even then is skipped.
    """
    promised = sum(gpu_hours(r.need, max(r.expected_end_ms - now_ms, 0) / 60_000) for r in running)
    out = Plan()
    free = dict(capacity)
    for r in running:
        free = r.need.take(free)
    minutes_left = (until_ms - now_ms) / 60_000
    shadow_ms: float | None = None  # when the first blocked item can start (EASY backfilling)
    spare: dict[str, float] = {}  # what is free beside it then
    for item in queued:
        if item.minutes > minutes_left:
            out.skip[item.id] = (
                f"deadline: needs ~{item.minutes:.3g} min, {max(minutes_left, 0):.3g} min left"
            )
            continue
        cost = gpu_hours(item.need, item.minutes)
        if budget_left_gpu_h is not None and cost > budget_left_gpu_h + 1e-12:
            out.skip[item.id] = f"budget: needs ~{cost:.3g} GPU-hours, {max(budget_left_gpu_h, 0):.3g} left"
            continue
        if budget_left_gpu_h is not None and cost > budget_left_gpu_h - promised + 1e-12:
            continue  # fits once the running items end: wait for them
        if not item.need.fits(capacity):
            out.skip[item.id] = (
                f"too big: needs {item.need.cpus:g} CPUs {item.need.gpus:g} GPUs, the cluster has "
                f"{capacity.get('CPU', 0):g} CPUs {capacity.get('GPU', 0):g} GPUs"
            )
            continue
        if not item.need.fits(free):
            if shadow_ms is None:
                shadow_ms, spare = shadow(item.need, free, running)
            continue
        end_ms = now_ms + item.minutes * 60_000
        if shadow_ms is not None:
            if end_ms <= shadow_ms:
                pass  # ends before the blocked item could start: delays nothing
            elif item.need.fits(spare):
                spare = item.need.take(spare)
            else:
                continue
        out.start.append(item.id)
        free = item.need.take(free)
        running = [*running, Running(item.id, item.need, end_ms)]
        promised += cost
    return out


def shadow(need: Need, free: dict[str, float], running: list[Running]) -> tuple[float, dict[str, float]]:
    """(when `need` fits, by the running items' expected ends; what is left beside it then)."""
    for r in sorted(running, key=lambda r: r.expected_end_ms):
        free = r.need.take(free, sign=1.0)
        if need.fits(free):
            return r.expected_end_ms, need.take(free)
    return math.inf, {}


def overdue(now_ms: float, until_ms: float) -> bool:
    return now_ms >= until_ms
