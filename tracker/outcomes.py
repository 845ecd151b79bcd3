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
  the likelihood that was stated before the evidence — what calibration scores).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from mlflow.entities import Metric, RunTag

from tracker import keys, learning
from tracker.estimates import best_first
from tracker.ideas import get_idea, list_ideas, resolve_id, update_idea
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
    reference: float | None = None
    reference_kind: str = "best"
    reference_run: str = ""
    span_hours: float = 0.0  # from the idea's creation to its last run's end


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
    ev.reference, ev.reference_run = _reference(store, ev, pick)
    return ev


def _config_without_seed(run) -> dict:
    skip = {"seed", "device_resolved"}
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
    verdict = learning.judge(impact, threshold, ev.seed_values)
    beating = sum(
        learning.observed_impact(v, ev.reference, ev.higher_is_better) > verdict.margin
        for v in ev.attempt_values.values()
    )
    hours = logged_hours if logged_hours is not None else round(ev.span_hours, 2) or None
    proposal = learning.propose(
        prior, verdict, runs_beating=beating, runs_total=len(ev.attempt_values), logged_hours=hours
    )
    return Assessment(ev, verdict, proposal, prior, current)


def accept(store: Store, idea_id: str, assessment: Assessment) -> int:
    """Append the proposal as a revision (source `evidence`) and record the outcome."""
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
    rev = update_idea(store, run_id, changes=changes, status=p.status, source="evidence", note=note)
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


def calibration_table(store: Store) -> list[dict]:
    """One row per decided idea: what was predicted before the evidence, and what happened."""
    rows = []
    ideas = {i.id: i for i in list_ideas(store)}
    for run in store.search_all(f"tags.`{TAG_KIND}` = 'idea'"):
        m, verdict = run.data.metrics, run.data.tags.get(TAG_VERDICT)
        if verdict is None or f"{keys.OUTCOME_PREFIX}likelihood_before" not in m:
            continue
        idea = ideas.get(run.info.run_id)
        rows.append(
            {
                "id": run.info.run_id,
                "title": idea.title if idea else run.info.run_name,
                "category": run.data.tags.get(TAG_CATEGORY, ""),
                "verdict": verdict,
                "likelihood": m[f"{keys.OUTCOME_PREFIX}likelihood_before"],
                "succeeded": verdict == "succeeded",
                "estimated_impact": m.get(f"{keys.OUTCOME_PREFIX}estimated_impact"),
                "observed_impact": m.get(f"{keys.OUTCOME_PREFIX}observed_impact"),
                "estimated_hours": m.get(f"{keys.OUTCOME_PREFIX}estimated_hours"),
                "actual_hours": m.get(f"{keys.OUTCOME_PREFIX}actual_hours"),
                "turnaround_hours": m.get(f"{keys.OUTCOME_PREFIX}turnaround_hours"),
                "decided_ms": _decided_ms(store, run.info.run_id),
            }
        )
    return sorted(rows, key=lambda r: r["decided_ms"])


def _decided_ms(store: Store, run_id: str) -> int:
    history = store.client.get_metric_history(run_id, f"{keys.OUTCOME_PREFIX}succeeded")
    return max((m.timestamp for m in history), default=0)


def calibrate(idea, summary: dict):
    """An idea re-scored with the team's calibration: hours x planning factor, likelihood
    shrunk towards the hit rate. The stored estimates stay; only the ranking moves."""
    from dataclasses import replace

    from tracker.estimates import score

    factor = summary["planning_factor"]
    factor = factor if factor == factor and factor > 0 else 1.0
    cal = learning.LikelihoodCalibration(**summary["calibration"])
    hours, p = idea.hours * factor, cal.apply(idea.likelihood)
    return replace(idea, hours=hours, likelihood=p, score=score(hours, idea.complexity, idea.impact, p))


def calibrated_ideas(store: Store, summary: dict | None = None) -> list:
    """All ideas, calibrated (see `calibrate`), best score first."""
    summary = summary or calibration_summary(calibration_table(store))
    return best_first(calibrate(i, summary) for i in list_ideas(store))


def calibration_summary(rows: list[dict]) -> dict:
    """Brier score, reliability bins, planning factor and the fitted likelihood calibration."""
    decided = [r for r in rows if r["verdict"] in ("succeeded", "failed")]
    p = [r["likelihood"] for r in decided]
    o = [r["succeeded"] for r in decided]
    timed = [r for r in rows if r["actual_hours"] is not None and r["estimated_hours"]]
    cal = learning.fit_calibration(p, o)
    return {
        "decided": len(decided),
        "brier": learning.brier(p, o),
        "brier_calibrated": learning.brier([cal.apply(x) for x in p], o),
        "reliability": learning.reliability(p, o),
        "planning_factor": learning.planning_factor(
            [r["estimated_hours"] for r in timed], [r["actual_hours"] for r in timed]
        ),
        "calibration": asdict(cal),
    }
