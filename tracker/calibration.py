"""Calibration: how well the team predicts, with how sure that is, and the ranking it corrects.

Decided ideas carry `outcome/*` metrics (written by `tracker.outcomes.accept`): the
likelihood stated before the evidence, whether it worked, estimated and logged hours. From
those this module computes the Brier score, reliability bins, the hit rate and the planning
factor — each with its sample size and a 90% interval (`tracker.intervals`), because a
number from one or two ideas is mostly noise.

The calibrated ranking (`calibrate`) applies these only as far as the history supports:
nothing below `learning.MIN_CALIBRATION_HISTORY` ideas, then with weight n / (n + that
minimum) (`learning.calibration_weight`) — a planning factor shrunk towards 1, stated
likelihoods moved only part of the way towards the recalibrated ones. The planning factor
counts ideas with logged hours, the likelihood recalibration decided ideas. Stored
estimates never change; only the ranking moves.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace

from tracker import keys, learning
from tracker.estimates import DECIDED, best_first, score
from tracker.ideas import Idea, list_ideas
from tracker.intervals import describe_interval, mean_interval, ratio_interval, wilson
from tracker.pooling import PoolSettings
from tracker.store import TAG_CATEGORY, TAG_KIND, TAG_VERDICT, Store


def calibration_table(store: Store) -> list[dict]:
    """One row per judged idea: what was predicted before the evidence, and what happened."""
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
                "actual_hours": m.get(f"{keys.OUTCOME_PREFIX}actual_hours"),  # logged by a person
                "turnaround_hours": m.get(f"{keys.OUTCOME_PREFIX}turnaround_hours"),
                "decided_ms": _decided_ms(store, run.info.run_id),
            }
        )
    return sorted(rows, key=lambda r: r["decided_ms"])


def _decided_ms(store: Store, run_id: str) -> int:
    history = store.client.get_metric_history(run_id, f"{keys.OUTCOME_PREFIX}succeeded")
    return max((m.timestamp for m in history), default=0)


def calibration_summary(rows: list[dict]) -> dict:
    """Every calibration number with its n and 90% interval, and what the ranking applies.

    Keys: `decided`; `hit_rate`, `brier`, `brier_calibrated`, `planning_factor`, each with
    an `<name>_interval` (low, high — None when unbounded —, n, level); `reliability`;
    `timed` (ideas with logged hours); `calibration_fitted` (the recalibration the history
    suggests), `likelihood_weight` and `calibration` (the part the ranking applies);
    `planning_weight` and `planning_factor_applied`; `min_decided`.
    """
    decided = [r for r in rows if r["verdict"] in DECIDED]
    p = [r["likelihood"] for r in decided]
    o = [r["succeeded"] for r in decided]
    fitted = learning.fit_calibration(p, o)
    likelihood_weight = learning.calibration_weight(len(decided))
    applied = learning.shrink_calibration(fitted, likelihood_weight)
    brier, brier_iv = mean_interval([(x - float(y)) ** 2 for x, y in zip(p, o, strict=True)], 0.0, 1.0)
    brier_cal, brier_cal_iv = mean_interval(
        [(applied.apply(x) - float(y)) ** 2 for x, y in zip(p, o, strict=True)], 0.0, 1.0
    )
    timed = [r for r in rows if (r["actual_hours"] or 0) > 0 and (r["estimated_hours"] or 0) > 0]
    factor, factor_iv = ratio_interval(
        [r["actual_hours"] for r in timed], [r["estimated_hours"] for r in timed]
    )
    planning_weight = learning.calibration_weight(factor_iv.n)
    return {
        "decided": len(decided),
        "min_decided": learning.MIN_CALIBRATION_HISTORY,
        "hit_rate": sum(o) / len(o) if o else math.nan,
        "hit_rate_interval": wilson(sum(o), len(o)).as_dict(),
        "brier": brier,
        "brier_interval": brier_iv.as_dict(),
        "brier_calibrated": brier_cal,
        "brier_calibrated_interval": brier_cal_iv.as_dict(),
        "reliability": learning.reliability(p, o),
        "timed": factor_iv.n,
        "planning_factor": factor,
        "planning_factor_interval": factor_iv.as_dict(),
        "planning_weight": planning_weight,
        "planning_factor_applied": learning.shrink_factor(factor, planning_weight),
        "calibration_fitted": asdict(fitted),
        "likelihood_weight": likelihood_weight,
        "calibration": asdict(applied),
    }


def calibrate(idea: Idea, summary: dict) -> Idea:
    """An idea re-scored with the part of the team's calibration the history supports (see the
    module docstring): hours x the applied planning factor, likelihood recalibrated."""
    factor = summary["planning_factor_applied"]
    cal = learning.LikelihoodCalibration(**summary["calibration"])
    hours, p = idea.hours * factor, cal.apply(idea.likelihood)
    return replace(idea, hours=hours, likelihood=p, score=score(hours, idea.complexity, idea.impact, p))


def calibrated_ideas(
    store: Store, summary: dict | None = None, pool: PoolSettings | None = None
) -> list[Idea]:
    """All ideas (the people's estimates pooled with `pool`), calibrated (see `calibrate`), best
    score first."""
    summary = summary or calibration_summary(calibration_table(store))
    return best_first(calibrate(i, summary) for i in list_ideas(store, pool=pool))


def with_interval(summary: dict, name: str, fmt: str) -> str:
    """`0.250 (n=4, 90% interval 0.061–0.439)`: a summary number with its n and interval."""
    value = summary[name]
    shown = format(value, fmt) if value == value else "—"
    return f"{shown} ({describe_interval(summary[f'{name}_interval'], fmt)})"


def describe(summary: dict) -> dict[str, str]:
    """One line per summary number, each with its n and interval, and what the ranking does
    with it — the same words in the CLI, on the Ideas page and on the Calibration page."""
    floor, n, timed = summary["min_decided"], summary["decided"], summary["timed"]
    fitted, applied = summary["calibration_fitted"], summary["calibration"]
    if summary["likelihood_weight"]:
        likelihood_use = (
            f"applied with weight {n}/{n + floor}: likelihood → {applied['weight']:.2f} × stated "
            f"+ {1 - applied['weight']:.2f} × {applied['base_rate']:.2f}"
        )
    else:
        likelihood_use = f"not applied below {floor} decided ideas"
    if summary["planning_weight"]:
        factor_use = (
            f"applied as {summary['planning_factor_applied']:.2f} (weight {timed}/{timed + floor}, "
            f"shrunk towards 1)"
        )
    else:
        factor_use = f"not applied below {floor} ideas with logged hours"
    return {
        "decided": f"{n} decided idea{'' if n == 1 else 's'}",
        "hit_rate": f"hit rate {with_interval(summary, 'hit_rate', '.2f')}",
        "brier": f"Brier {with_interval(summary, 'brier', '.3f')}; 0.25 = always saying 50%",
        "brier_calibrated": "Brier after the applied recalibration "
        + with_interval(summary, "brier_calibrated", ".3f"),
        "likelihood": f"likelihood recalibration {fitted['weight']:.2f} × stated + "
        f"{1 - fitted['weight']:.2f} × {fitted['base_rate']:.2f} (n={n}) — {likelihood_use}",
        "planning_factor": f"planning factor {with_interval(summary, 'planning_factor', '.2f')} "
        f"— {factor_use}",
    }
