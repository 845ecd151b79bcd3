"""An idea's evidence read from MLflow, the proposed estimate update, and accepting it.

The formulas live in `tracker.learning`; this module gathers their inputs from the
store and writes the result back as a revision (source `evidence`), so the loop
closes inside MLflow with nothing overwritten:

- evidence: the best `best/<target>` over the idea's finished stage runs and trials,
  the per-seed values of its best configuration, its attempts (a stage run, or a whole
  sweep: ASHA stopping weak variants early is the sweep working, not the idea failing),
  and the reference — the project's
  best on the same task from *other* ideas and any non-DL baseline, the idea's own included
  (default: so the first idea of a project is judged against its baseline), or the best
  non-DL baseline;
- accepting: a revision with the proposed estimates, a note naming the runs, the
  verdict as a tag, and `outcome/*` metrics (observed impact, hours, turnaround and
  the likelihood that was stated before the evidence — what `tracker.calibration` scores).

Hours come only from what a person logged (`--hours`, the Idea page's field): the runs'
duration is compute, not the time it took to implement the idea, and an idea whose hours
were set to its 0.04 h of runs would jump to the top of the ranking. With none logged the
estimate is kept, no `outcome/actual_hours` is written, and the reason names the compute.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from mlflow.entities import Metric, RunTag

from tracker import keys, learning
from tracker.ideas import get_idea, resolve_id, update_idea
from tracker.store import (
    TAG_CATEGORY,
    TAG_HIGHER,
    TAG_IDEA,
    TAG_KIND,
    TAG_STAGE,
    TAG_SWEEP,
    TAG_TARGET,
    TAG_TASK,
    TAG_VERDICT,
    Store,
)

JUDGED_STAGES = ("generalize", "scale")  # stages whose val metric measures an idea's effect


@dataclass
class Evidence:
    idea_id: str
    target: str = ""
    higher_is_better: bool = True
    task: str = ""
    best: float | None = None
    best_run: str = ""
    run_values: dict[str, float] = field(default_factory=dict)  # run id -> its best value
    attempt_values: dict[str, float] = field(default_factory=dict)  # stage run or sweep id -> best
    seed_values: list[float] = field(default_factory=list)
    seed_std: float | None = None  # the best run's std across its packed seeds (best_std/<target>)
    reference: float | None = None
    reference_kind: str = "best"
    reference_run: str = ""
    span_hours: float = 0.0  # from the idea's creation to its last run's end
    compute_hours: float = 0.0  # summed duration of its finished stage runs and trials


def _is_judged(run) -> bool:
    tags = run.data.tags
    return run.info.status == "FINISHED" and (
        tags.get(TAG_STAGE) in JUDGED_STAGES and tags.get(TAG_KIND) in ("stage", "trial")
    )


def _best_of(run) -> float | None:
    target = run.data.tags.get(TAG_TARGET)
    return run.data.metrics.get(f"{keys.BEST_PREFIX}{target}") if target else None


def gather(store: Store, idea_id: str, reference: str = "best") -> Evidence:
    """Read an idea's runs and its reference from the store (see the module docstring)."""
    if reference not in ("best", "baseline"):
        raise ValueError(f"reference={reference!r} is not allowed; allowed: best, baseline")
    idea, _, runs = get_idea(store, idea_id)
    ev = Evidence(idea_id=idea.id, reference_kind=reference)
    judged = [r for r in runs if _is_judged(r) and _best_of(r) is not None]
    ends = [r.info.end_time for r in runs if r.info.end_time]
    ev.span_hours = (max(ends) - idea.created_ms) / 3.6e6 if ends else 0.0
    ev.compute_hours = sum(
        (r.info.end_time - r.info.start_time) / 3.6e6
        for r in runs
        if r.info.end_time and r.info.start_time and r.data.tags.get(TAG_KIND) in ("stage", "trial")
    )
    if not judged:
        return ev
    first = judged[0].data.tags
    ev.target, ev.task = first[TAG_TARGET], first.get(TAG_TASK, "")
    ev.higher_is_better = first.get(TAG_HIGHER, "true") == "true"
    pick = max if ev.higher_is_better else min
    ev.run_values = {r.info.run_id: _best_of(r) for r in judged}
    ev.best_run = pick(ev.run_values, key=ev.run_values.get)
    ev.best = ev.run_values[ev.best_run]
    for r in judged:  # a sweep's trials are one attempt, judged by its best trial
        attempt = r.data.tags.get(TAG_SWEEP) or r.info.run_id
        value = ev.run_values[r.info.run_id]
        if (
            attempt not in ev.attempt_values
            or pick(value, ev.attempt_values[attempt]) != ev.attempt_values[attempt]
        ):
            ev.attempt_values[attempt] = value
    best_params = _config_without_seed(next(r for r in judged if r.info.run_id == ev.best_run))
    ev.seed_values = [ev.run_values[r.info.run_id] for r in judged if _config_without_seed(r) == best_params]
    best_run = next(r for r in judged if r.info.run_id == ev.best_run)
    ev.seed_std = best_run.data.metrics.get(f"{keys.BEST_STD_PREFIX}{ev.target}")
    ev.reference, ev.reference_run = _reference(store, ev, pick)
    return ev


def _config_without_seed(run) -> dict:
    skip = {"seed", "seeds", "device_resolved"}
    return {k: v for k, v in run.data.params.items() if k not in skip}


def _reference(store: Store, ev: Evidence, pick) -> tuple[float | None, str]:
    task_clause = f" and tags.`{TAG_TASK}` = '{ev.task}'" if ev.task else ""
    if ev.reference_kind == "baseline":
        runs = store.search_all(f"tags.`{TAG_STAGE}` = 'baseline'{task_clause}")
        values = {r.info.run_id: r.data.metrics.get(f"{keys.BASELINE_PREFIX}{ev.target}") for r in runs}
    else:
        runs = store.search_all(f"tags.`{TAG_TARGET}` = '{ev.target}'{task_clause}")
        values = {
            r.info.run_id: _best_of(r) if r.data.tags.get(TAG_STAGE) != "baseline" else
            r.data.metrics.get(f"{keys.BASELINE_PREFIX}{ev.target}")
            for r in runs
            if r.info.status == "FINISHED"
            and (r.data.tags.get(TAG_IDEA) != ev.idea_id or r.data.tags.get(TAG_STAGE) == "baseline")
        }  # fmt: skip
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return None, ""
    run = pick(values, key=values.get)
    return values[run], run


def team_history(store: Store, exclude: str | None = None) -> list[tuple[str, bool]]:
    """Decided ideas as (category, succeeded), for the Beta prior."""
    out = []
    for run in store.search_all(f"tags.`{TAG_KIND}` = 'idea'"):
        verdict = run.data.tags.get(TAG_VERDICT)
        if verdict in ("succeeded", "failed") and run.info.run_id != exclude:
            out.append((run.data.tags.get(TAG_CATEGORY, ""), verdict == "succeeded"))
    return out


@dataclass
class Assessment:
    evidence: Evidence
    verdict: learning.Verdict | None
    proposal: learning.Proposal | None
    prior: learning.BetaPrior
    current: dict

    def as_dict(self) -> dict:
        return {
            "evidence": asdict(self.evidence),
            "verdict": asdict(self.verdict) if self.verdict else None,
            "proposal": asdict(self.proposal) if self.proposal else None,
            "prior": asdict(self.prior),
            "current": self.current,
        }


def assess(
    store: Store,
    idea_id: str,
    *,
    reference: str = "best",
    threshold: float = 0.0,
    logged_hours: float | None = None,
) -> Assessment:
    """Evidence → verdict → proposed estimates (nothing is written)."""
    idea, _, _ = get_idea(store, idea_id)
    ev = gather(store, idea.id, reference)
    prior = learning.team_prior(team_history(store, exclude=idea.id), idea.category)
    current = {"hours": idea.hours, "complexity": idea.complexity, "impact": idea.impact,
               "likelihood": idea.likelihood, "status": idea.status}  # fmt: skip
    if ev.best is None or ev.reference is None:
        return Assessment(ev, None, None, prior, current)
    impact = learning.observed_impact(ev.best, ev.reference, ev.higher_is_better)
    verdict = learning.judge(impact, threshold, ev.seed_values, ev.seed_std)
    beating = sum(
        learning.observed_impact(v, ev.reference, ev.higher_is_better) > verdict.margin
        for v in ev.attempt_values.values()
    )
    proposal = learning.propose(
        prior,
        verdict,
        runs_beating=beating,
        runs_total=len(ev.attempt_values),
        logged_hours=logged_hours,  # never the runs' duration: see the module docstring
        compute_hours=ev.compute_hours,
    )
    return Assessment(ev, verdict, proposal, prior, current)


def accept(store: Store, idea_id: str, assessment: Assessment, *, author: str | None = None) -> int:
    """Append the proposal as a revision (source `evidence`, by `author`) and record the outcome."""
    p, v, ev = assessment.proposal, assessment.verdict, assessment.evidence
    if p is None or v is None:
        raise ValueError("no proposal to accept: the idea has no judged runs or no reference yet")
    run_id = resolve_id(store, idea_id)
    changes = {"likelihood": p.likelihood}
    if p.impact is not None:
        changes["impact"] = p.impact
    if p.hours is not None:
        changes["hours"] = p.hours
    note = json.dumps({"runs": list(ev.run_values), "reference_run": ev.reference_run, "verdict": v.verdict})
    rev = update_idea(
        store, run_id, changes=changes, status=p.status, source="evidence", note=note, author=author
    )
    idea, _, _ = get_idea(store, run_id)
    now = int(time.time() * 1000)
    before = assessment.current
    outcome = {
        "observed_impact": v.impact,
        "estimated_impact": before["impact"],
        "likelihood_before": before["likelihood"],
        "estimated_hours": before["hours"],
        "turnaround_hours": (now - idea.created_ms) / 3.6e6,
        "succeeded": 1.0 if v.verdict == "succeeded" else 0.0,
    }
    if p.hours is not None:
        outcome["actual_hours"] = p.hours
    store.client.log_batch(
        run_id,
        metrics=[Metric(f"{keys.OUTCOME_PREFIX}{k}", float(x), now, rev.number) for k, x in outcome.items()],
        tags=[RunTag(TAG_VERDICT, v.verdict)],
    )
    return rev.number
