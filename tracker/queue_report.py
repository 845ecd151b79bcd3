"""The queue as a person reads it: what is queued and in what order, and the morning report.

`queue_rows`: every queued item in the order the driver will take it, with its estimate
and why it sits there (`tracker/queue_plan.py` decides; this only asks). `build_report`:
one session's night: each item's fate (done with the gates its runs passed and a sweep's
best trial, failed with the reason and the log tail, killed with why, skipped with why),
the GPU and CPU hours used against the hours the cluster sat idle, and the estimate
updates the evidence now proposes for the ideas that ran (waiting for `idea outcome
--accept` or the Idea page). `render` makes it text for `idealoop queue report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tracker import keys
from tracker import queue_items as qi
from tracker import queue_plan as qp
from tracker import queue_sessions as qs
from tracker.ideas import list_ideas
from tracker.queries import run_row
from tracker.store import Store


def usage(items: list[qi.QueueItem], capacity: dict, start_ms: int, end_ms: int) -> dict[str, float]:
    """Hours the items held the cluster's GPUs/CPUs, and the hours those sat idle, while the queue
    ran them: from the first job's start (a local Ray head the queue starts is not there before)
    to `end_ms`, or to the last job's end once every job has ended (not the driver's teardown)."""
    starts = [i.started_ms for i in items if i.started_ms]
    start_ms = max(start_ms, min(starts)) if starts else start_ms
    if starts and all(i.ended_ms for i in items if i.started_ms):
        end_ms = min(end_ms, max(i.ended_ms for i in items if i.started_ms))
    hours = max(end_ms - start_ms, 0) / 3.6e6
    used = {"cpu": 0.0, "gpu": 0.0}
    for item in items:
        if item.started_ms:
            cpus, gpus = item.held
            span = max((item.ended_ms or end_ms) - item.started_ms, 0) / 3.6e6
            used["cpu"] += cpus * span
            used["gpu"] += gpus * span
    out = {}
    for k, cap in (("cpu", capacity.get("CPU", 0.0)), ("gpu", capacity.get("GPU", 0.0))):
        out[f"{k}_used"] = used[k]
        out[f"{k}_idle"] = max(cap * hours - used[k], 0.0)
    return out


@dataclass
class QueueRow:
    item: qi.QueueItem
    title: str
    minutes: float
    minutes_from: str
    rank_value: float


def queue_rows(store: Store) -> list[QueueRow]:
    """The queued items in the order the driver takes them."""
    ideas = {i.id: i for i in list_ideas(store)}
    history: dict[tuple, list[float]] = {}
    rows, planned = {}, []
    for item in qi.list_items(store, qi.WAITING):
        minutes, source = qs.item_minutes(store, item, history)
        idea = ideas.get(item.idea_id)
        p = qp.Planned(item.id, qp.Need(*item.held), minutes, item.priority, idea.score if idea else 0.0)
        p.created_ms = item.created_ms
        planned.append(p)
        rows[item.id] = QueueRow(item, idea.title if idea else "(no idea)", minutes, source, qp.rank_value(p))
    return [rows[p.id] for p in qp.order(planned)]


def move(store: Store, item_id: str, steps: int) -> None:
    """Move a queued item `steps` places up (negative: down) by giving explicit priorities to the
    whole queue in its new order (what the board's reorder buttons do)."""
    ids = [r.item.id for r in queue_rows(store)]
    if item_id not in ids:
        raise qi.QueueError(f"queue item {item_id} is not queued")
    i = ids.index(item_id)
    j = min(max(i - steps, 0), len(ids) - 1)
    ids.insert(j, ids.pop(i))
    for rank, rid in enumerate(ids):
        qi.set_priority(store, rid, float(len(ids) - rank))


@dataclass
class ItemFate:
    item: qi.QueueItem
    title: str
    runs: list = field(default_factory=list)  # RunRow of each stage/sweep run it made
    log_tail: str = ""


@dataclass
class Report:
    session: qs.Session | None
    fates: list[ItemFate]
    usage: dict[str, float]
    proposals: list[dict]
    still_queued: int = 0


def build_report(store: Store, session_id: str | None = None, proposals: bool = True) -> Report:
    """One session's report (default: the newest)."""
    all_sessions = qs.sessions(store)
    if session_id:
        session = qs.get_session(store, session_id)
    else:
        session = all_sessions[-1] if all_sessions else None
    items = qi.list_items(store)
    ideas = {i.id: i for i in list_ideas(store)}
    if session is None:
        return Report(None, [], {}, [], sum(i.state in qi.WAITING for i in items))
    mine = [i for i in items if i.session == session.id]
    fates = []
    for item in mine:
        idea = ideas.get(item.idea_id)
        runs = [run_row(r) for r in qi.runs_of(store, item.id)] if item.state != "skipped" else []
        tail = qi.log_tail(store, item.id) if item.state == "failed" else ""
        fates.append(ItemFate(item, idea.title if idea else "(no idea)", runs, tail))
    end = session.ended_ms or max([i.ended_ms for i in mine] + [session.heartbeat_ms, session.started_ms])
    use = session_usage(session) or usage(mine, session.capacity, session.started_ms, end)
    waiting = proposals_for(store, {i.idea_id for i in mine if i.state == "done"}) if proposals else []
    return Report(session, fates, use, waiting, sum(i.state in qi.WAITING for i in items))


def session_usage(session: qs.Session) -> dict[str, float]:
    """The hours a finished session logged (empty while it runs)."""
    names = {"gpu_used": keys.QUEUE_GPU_HOURS_USED, "gpu_idle": keys.QUEUE_GPU_HOURS_IDLE}
    names.update({"cpu_used": keys.QUEUE_CPU_HOURS_USED, "cpu_idle": keys.QUEUE_CPU_HOURS_IDLE})
    return {k: session.metrics[v] for k, v in names.items() if v in session.metrics}


def proposals_for(store: Store, idea_ids: set[str]) -> list[dict]:
    """For each idea that ran: the estimates the evidence proposes, where they differ from now."""
    from tracker.outcomes import assess

    out = []
    for idea_id in sorted(i for i in idea_ids if i):
        try:
            a = assess(store, idea_id)
        except Exception:  # noqa: BLE001 - an idea deleted since: nothing to propose
            continue
        if a.proposal is None:
            continue
        p = a.proposal
        changes = {"likelihood": (a.current["likelihood"], p.likelihood)}
        if p.impact is not None:
            changes["impact"] = (a.current["impact"], p.impact)
        changes = {k: v for k, v in changes.items() if abs(v[0] - v[1]) > 1e-9}
        if changes:
            out.append({"idea": idea_id, "verdict": a.verdict.verdict, "changes": changes})
    return out


def item_line(f: ItemFate) -> str:
    """One line per item: what it was, its fate and why, its gates or best trial."""
    it = f.item
    detail = {"sweep": f" ({it.stage} trials)", "climb": f" (to {it.stage})"}.get(it.what, "")
    what = f"{it.what} {it.task}{detail}"
    line = f"{it.state:8} {it.id[:8]}  {f.title[:40]} — {what}"
    if it.started_ms and it.ended_ms:
        took = (it.ended_ms - it.started_ms) / 1000
        line += f", {took / 60:.1f} min" if took >= 60 else f", {took:.0f} s"
    gates = {k: v for r in f.runs for k, v in r.gates.items()}
    if gates:
        line += "; gates " + ", ".join(f"{k} {v}" for k, v in gates.items())
    for r in f.runs:
        if r.kind == "sweep" and r.best_trial:
            best = next((v for k, v in r.metrics.items() if k.startswith(keys.BEST_PREFIX)), None)
            line += f"; best trial {r.best_trial[:8]}" + (f" = {best:.4g}" if best is not None else "")
    if it.state != "done" and it.reason:
        line += f"; {it.reason}"
    return line


def render(report: Report) -> str:
    """The morning report as text."""
    s = report.session
    if s is None:
        queued = report.still_queued
        return f"no queue session yet; {queued} item(s) queued (`idealoop queue start --until HH:MM`)"
    fmt = lambda ms: time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else "-"  # noqa: E731
    out = [f"queue session {s.id}: {s.state}" + (f" ({s.reason})" if s.reason else "")]
    out.append(
        f"  from {fmt(s.started_ms)} to {fmt(s.ended_ms)}, deadline {fmt(s.until_ms)}"
        + (f", budget {s.budget:g} GPU-hours" if s.budget is not None else "")
    )
    counts: dict[str, int] = {}
    for f in report.fates:
        counts[f.item.state] = counts.get(f.item.state, 0) + 1
    out.append("  items: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
    u = report.usage
    if u:
        out.append(
            f"  GPU-hours used {u.get('gpu_used', 0):.3g}, idle {u.get('gpu_idle', 0):.3g}; "
            f"CPU-hours used {u.get('cpu_used', 0):.3g}, idle {u.get('cpu_idle', 0):.3g}"
        )
    out.append("")
    out += [item_line(f) for f in report.fates]
    for f in report.fates:
        if f.item.state == "failed" and f.log_tail:
            out += ["", f"log tail of {f.item.id[:8]}:", *("  " + ln for ln in f.log_tail.splitlines()[-10:])]
    if report.proposals:
        out += ["", "estimate updates waiting (idealoop idea outcome ID --accept, or the Idea page):"]
        for p in report.proposals:
            ch = ", ".join(f"{k} {a:.3g} → {b:.3g}" for k, (a, b) in p["changes"].items())
            out.append(f"  {p['idea'][:8]} {p['verdict']}: {ch}")
    if report.still_queued:
        out += ["", f"{report.still_queued} item(s) still queued"]
    return "\n".join(out)
