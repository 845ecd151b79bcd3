"""Each person's calibration: what they said about decided ideas, what happened, and their weight.

For every decided idea (verdict succeeded or failed, `outcome/*` written by
`tracker.outcomes.accept`), the decision is the last `evidence` revision that set that
status. Each person's forecast is what stood for them just before it (`pooling.voices`
over the earlier revisions: their latest likelihood, hours and impact, unless an earlier
accepted outcome replaced them). From those rows: per person, the Brier score with its
decomposition (`forecast_scores.brier_decomposition`) and a 90% interval, a reliability
diagram, the planning factor (actual ÷ their estimated hours, over ideas with logged hours),
the impact ratio (observed ÷ their estimated impact, over succeeded ideas: impact is the
gain *if* the idea works), per category, and the log-odds slope that becomes their weight
in the pooled likelihood (`person_weights`). Everything is read from the idea runs the
search already returns: one query, whatever the number of people.
"""

from __future__ import annotations

import math

from tracker import keys, pooling, records
from tracker.estimates import DECIDED
from tracker.forecast_scores import brier_decomposition, fit_log_odds, person_weight
from tracker.intervals import mean_interval, ratio_interval
from tracker.learning import MIN_CALIBRATION_HISTORY, reliability
from tracker.store import TAG_CATEGORY, TAG_KIND, TAG_TITLE, TAG_VERDICT, Store


def person_rows(store: Store) -> list[dict]:
    """One row per (decided idea, person who estimated its likelihood before the decision)."""
    rows = []
    for run in store.search_all(f"tags.`{TAG_KIND}` = 'idea'"):
        verdict = run.data.tags.get(TAG_VERDICT)
        if verdict not in DECIDED:
            continue
        revs = records.revisions(run.data.params)
        cut = _decision(revs, verdict)
        if cut is None:
            continue
        said = pooling.people(pooling.voices(revs[:cut]))
        m = run.data.metrics
        for person, values in said.items():
            if "likelihood" not in values:
                continue
            rows.append(
                {
                    "person": person,
                    "id": run.info.run_id,
                    "title": run.data.tags.get(TAG_TITLE, run.info.run_name or ""),
                    "category": run.data.tags.get(TAG_CATEGORY, ""),
                    "verdict": verdict,
                    "succeeded": verdict == "succeeded",
                    "likelihood": values["likelihood"],
                    "estimated_hours": values.get("hours"),
                    "actual_hours": m.get(f"{keys.OUTCOME_PREFIX}actual_hours"),
                    "estimated_impact": values.get("impact"),
                    "observed_impact": m.get(f"{keys.OUTCOME_PREFIX}observed_impact"),
                    "decided_ms": revs[cut].time_ms,
                }
            )
    return sorted(rows, key=lambda r: (r["decided_ms"], r["person"]))


def _decision(revs: list, verdict: str) -> int | None:
    """Index of the revision that decided the idea: the last evidence revision setting `verdict`."""
    for i in range(len(revs) - 1, -1, -1):
        if revs[i].source == pooling.EVIDENCE and revs[i].changes.get("status") == verdict:
            return i
    return None


def people_of(rows: list[dict]) -> list[str]:
    return sorted({r["person"] for r in rows})


def person_summary(rows: list[dict], person: str) -> dict:
    """One person's calibration numbers (see the module docstring); NaN where there is no data."""
    mine = [r for r in rows if r["person"] == person]
    p = [r["likelihood"] for r in mine]
    o = [r["succeeded"] for r in mine]
    _, brier_iv = mean_interval([(x - float(y)) ** 2 for x, y in zip(p, o, strict=True)], 0.0, 1.0)
    _, slope = fit_log_odds(p, o)
    timed = [r for r in mine if (r["actual_hours"] or 0) > 0 and (r["estimated_hours"] or 0) > 0]
    factor, factor_iv = ratio_interval(_col(timed, "actual_hours"), _col(timed, "estimated_hours"))
    hits = [r for r in mine if r["succeeded"] and (r["observed_impact"] or 0) > 0 and r["estimated_impact"]]
    ratio, ratio_iv = ratio_interval(_col(hits, "observed_impact"), _col(hits, "estimated_impact"))
    return {
        "person": person,
        "decided": len(mine),
        "min_decided": MIN_CALIBRATION_HISTORY,
        "hit_rate": sum(o) / len(o) if o else math.nan,
        **brier_decomposition(p, o),
        "brier_interval": brier_iv.as_dict(),
        "reliability_bins": reliability(p, o),
        "slope": slope,
        "weight": person_weight(slope, len(mine)),
        "planning_factor": factor,
        "planning_factor_interval": factor_iv.as_dict(),
        "impact_ratio": ratio,
        "impact_ratio_interval": ratio_iv.as_dict(),
        "by_category": _by_category(mine),
    }


def _col(rows: list[dict], name: str) -> list[float]:
    return [r[name] for r in rows]


def _factor(timed: list[dict]) -> float:
    return ratio_interval(_col(timed, "actual_hours"), _col(timed, "estimated_hours"))[0]


def _by_category(mine: list[dict]) -> list[dict]:
    out = []
    for cat in sorted({r["category"] for r in mine}):
        rows = [r for r in mine if r["category"] == cat]
        timed = [r for r in rows if (r["actual_hours"] or 0) > 0 and (r["estimated_hours"] or 0) > 0]
        out.append(
            {
                "category": cat,
                "decided": len(rows),
                "brier": sum((r["likelihood"] - float(r["succeeded"])) ** 2 for r in rows) / len(rows),
                "planning_factor": _factor(timed),
            }
        )
    return out


def people_table(rows: list[dict]) -> list[dict]:
    """One line per person: decided ideas, Brier, planning factor, weight in the pool."""
    out = []
    for person in people_of(rows):
        s = person_summary(rows, person)
        out.append({k: s[k] for k in ("person", "decided", "brier", "reliability", "resolution",
                                       "planning_factor", "impact_ratio", "slope", "weight")})  # fmt: skip
    return out


def person_weights(rows: list[dict]) -> dict[str, float]:
    """{person: weight in the likelihood pool}: 1 until they have MIN_CALIBRATION_HISTORY decided
    ideas (such people are left out: `PoolSettings` counts them 1)."""
    return {line["person"]: line["weight"] for line in people_table(rows) if line["weight"] != 1.0}


def describe_person(s: dict) -> dict[str, str]:
    """One line per number, the same words in the CLI and on the Calibration page."""
    n, floor = s["decided"], s["min_decided"]
    use = (
        f"weight {s['weight']:.2f} in the pooled likelihood (slope {s['slope']:.2f}, applied as "
        f"{s['slope']:.2f} ** ({n}/{n + floor}))"
        if n >= floor
        else f"weight 1 in the pooled likelihood until {floor} decided ideas"
    )
    return {
        "decided": f"{s['person']}: {n} decided idea{'' if n == 1 else 's'} with their likelihood",
        "brier": f"Brier {_num(s['brier'], '.3f')} (n={n}; 0.25 = always saying 50%) = reliability "
        f"{_num(s['reliability'], '.3f')} − resolution {_num(s['resolution'], '.3f')} + uncertainty "
        f"{_num(s['uncertainty'], '.3f')} + within bins {_num(s['within_bin'], '.3f')}",
        "weight": use,
        "planning_factor": f"planning factor {_num(s['planning_factor'], '.2f')} (actual ÷ their "
        f"estimated hours, n={s['planning_factor_interval']['n']})",
        "impact_ratio": f"impact ratio {_num(s['impact_ratio'], '.2f')} (observed ÷ their estimated "
        f"impact on succeeded ideas, n={s['impact_ratio_interval']['n']})",
    }


def _num(value: float, fmt: str) -> str:
    return format(value, fmt) if value == value else "—"
