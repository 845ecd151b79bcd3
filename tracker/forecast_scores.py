"""How good one person's likelihoods were, and how much their voice counts in the pool (pure).

- `brier_decomposition`: Murphy's split of the Brier score over probability bins,
  Brier = reliability − resolution + uncertainty + within-bin term. Reliability (lower is
  better) is how far each bin's stated likelihood sits from what happened in it;
  resolution (higher is better) is how far the bins' outcomes sit from the overall hit
  rate — whether the person tells good ideas from bad ones at all; uncertainty is the hit
  rate's own variance, the same for everyone. The within-bin term is what binning leaves
  over (0 when the likelihoods in each bin are equal), so the four add up exactly.
- `fit_log_odds`: the recalibration of a person's log-odds, outcome ~ a + b · logit(p),
  fitted by maximum likelihood. The slope b says how far their log-odds should be
  stretched: about 0.5 for someone over-confident (their 90% means 75%), about 2 for
  someone under-confident, below 1 also for someone whose numbers are noisy.
- `person_weight`: that slope as the person's weight in the likelihood pool, applied only
  as far as their record supports it (none below `learning.MIN_CALIBRATION_HISTORY`
  decided ideas, then b ** (n / (n + that minimum)), as the team's calibration is shrunk).
  In a weighted mean of log-odds an over-confident voice then counts less and a careful
  one more; tests/tracker/test_pooling.py simulates three people to check it pays.
"""

from __future__ import annotations

import math

from tracker.learning import calibration_weight, reliability
from tracker.pooling import logit, sigmoid

SLOPE_RANGE = (0.25, 4.0)  # a fitted slope outside this is a tiny or separable record, not a person
RIDGE = 0.1  # pulls (a, b) towards (0, 1): a record where every forecast "was right" stays finite


def brier_decomposition(predicted: list[float], outcomes: list[bool], bins: int = 5) -> dict:
    """{brier, reliability, resolution, uncertainty, within_bin, n}; NaN with no forecast."""
    n = len(predicted)
    if not n:
        nan = math.nan
        return {"brier": nan, "reliability": nan, "resolution": nan, "uncertainty": nan,
                "within_bin": nan, "n": 0}  # fmt: skip
    ys = [float(o) for o in outcomes]
    base = sum(ys) / n
    brier = sum((p - y) ** 2 for p, y in zip(predicted, ys, strict=True)) / n
    rows = reliability(predicted, outcomes, bins)
    rel = sum(r["count"] * (r["predicted"] - r["observed"]) ** 2 for r in rows) / n
    res = sum(r["count"] * (r["observed"] - base) ** 2 for r in rows) / n
    unc = base * (1 - base)
    return {"brier": brier, "reliability": rel, "resolution": res, "uncertainty": unc,
            "within_bin": brier - (rel - res + unc), "n": n}  # fmt: skip


def fit_log_odds(predicted: list[float], outcomes: list[bool]) -> tuple[float, float]:
    """(a, b) maximising Σ log-likelihood of outcome ~ sigmoid(a + b · logit(p)) minus a small
    ridge towards (0, 1) (Newton's method); b kept in SLOPE_RANGE. (0, 1) with no forecast."""
    xs, ys = [logit(p) for p in predicted], [float(o) for o in outcomes]
    a, b = 0.0, 1.0
    for _ in range(100):
        ga, gb = -RIDGE * a, -RIDGE * (b - 1)
        haa = hbb = RIDGE
        hab = 0.0
        for x, y in zip(xs, ys, strict=True):
            p = sigmoid(a + b * x)
            w = p * (1 - p)
            ga, gb = ga + (y - p), gb + (y - p) * x
            haa, hab, hbb = haa + w, hab + w * x, hbb + w * x * x
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, min(SLOPE_RANGE[1], max(SLOPE_RANGE[0], b + db))
        if abs(da) + abs(db) < 1e-10:
            break
    return a, b


def person_weight(slope: float, decided: int) -> float:
    """A person's weight in the likelihood pool: 1 below the minimum record, then their fitted
    slope pulled towards 1 on the log scale by n / (n + minimum)."""
    return slope ** calibration_weight(decided)
