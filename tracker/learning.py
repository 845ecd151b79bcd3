"""Learning from results: pure formulas that turn an idea's evidence into better estimates.

"The better you are at predicting how well a method will work, the faster you will
generate good results." This module holds the maths, free of I/O, so each formula is
unit-tested on hand-computed cases:

- outcome: observed impact (best value of the idea's runs minus a reference, signed so
  that positive is better), and a verdict against a threshold and the seed noise;
- proposal: a new likelihood from a Beta prior built from the team's own hit rate
  (per category once it has `MIN_CATEGORY_HISTORY` decided ideas, overall otherwise;
  with no history at all, researchers' reported 1-2 successes in 10), updated with the
  idea's runs; a new impact from the observed gain; new hours only from the hours a person
  logged (how long the runs took is compute, not the time to implement the idea);
- calibration: Brier score, reliability bins, planning factor (geometric mean of actual /
  estimated hours), and a likelihood recalibration (shrinkage towards the hit rate, fitted
  on history);
- how much of that calibration the ranking applies: nothing below
  `MIN_CALIBRATION_HISTORY` ideas, then a weight n / (n + MIN_CALIBRATION_HISTORY) — as
  if the stated estimates were backed by that many ideas of their own — so one lucky or
  unlucky idea can never rescale every estimate (see `calibration_weight`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace

from tracker.intervals import ratio_interval

PRIOR_HIT_RATE = 0.15  # "for every ten ideas … only one or two positive results"
PRIOR_STRENGTH = 10.0  # the no-history prior counts as ten ideas' worth of evidence
MIN_CATEGORY_HISTORY = 5  # decided ideas a category needs before it gets its own prior
NOISE_SIGMAS = 2.0  # a gain must exceed this many seed standard deviations
MIN_CALIBRATION_HISTORY = 5  # decided ideas before the ranking applies any calibration


@dataclass(frozen=True)
class Verdict:
    verdict: str  # succeeded | failed | inconclusive
    impact: float  # observed gain (positive = better than the reference)
    margin: float  # what the gain had to exceed: max(threshold, NOISE_SIGMAS * seed std)
    noise: float  # standard deviation of the idea's result across seeds (0 if one seed)


def observed_impact(best: float, reference: float, higher_is_better: bool = True) -> float:
    """Gain over the reference, positive when the idea helped (also for lower-is-better metrics)."""
    return best - reference if higher_is_better else reference - best


def improves(new: float, old: float, higher_is_better: bool = True) -> bool:
    """Is `new` strictly better than `old` in the metric's direction (e.g. lower l1, higher mIoU)?"""
    return observed_impact(new, old, higher_is_better) > 0


def judge(
    impact: float, threshold: float, seed_values: list[float] | None = None, seed_std: float | None = None
) -> Verdict:
    """succeeded: gain beats both the threshold and the seed noise (strictly: a tie with the
    reference is no gain); failed: gain below the threshold; inconclusive: in between.

    The seed noise is the std across `seed_values` (separate runs of one config), or
    `seed_std` (the std across the seeds packed in the best run, `best_std/<target>`),
    whichever is larger: one packed run with seeds > 1 is enough to know it."""
    spread = statistics.stdev(seed_values) if seed_values and len(seed_values) > 1 else 0.0
    packed = seed_std if seed_std is not None and math.isfinite(seed_std) else 0.0
    noise = max(spread, packed)
    margin = max(threshold, NOISE_SIGMAS * noise)
    if impact > margin:
        verdict = "succeeded"
    elif impact < threshold:
        verdict = "failed"
    else:
        verdict = "inconclusive"
    return Verdict(verdict, impact, margin, noise)


@dataclass(frozen=True)
class BetaPrior:
    alpha: float
    beta: float
    source: str  # "category:<name>", "team", or "default"

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def updated(self, successes: float, trials: float) -> BetaPrior:
        return BetaPrior(self.alpha + successes, self.beta + trials - successes, self.source)


def team_prior(history: list[tuple[str, bool]], category: str | None = None) -> BetaPrior:
    """Beta prior from decided ideas [(category, succeeded)]: the category's own record once
    it has MIN_CATEGORY_HISTORY ideas, else the team's, on top of the 15%-of-ten default."""
    a0, b0 = PRIOR_HIT_RATE * PRIOR_STRENGTH, (1 - PRIOR_HIT_RATE) * PRIOR_STRENGTH
    mine = [ok for cat, ok in history if category and cat == category]
    if len(mine) >= MIN_CATEGORY_HISTORY:
        return BetaPrior(a0 + sum(mine), b0 + len(mine) - sum(mine), f"category:{category}")
    if history:
        wins = sum(ok for _, ok in history)
        return BetaPrior(a0 + wins, b0 + len(history) - wins, "team")
    return BetaPrior(a0, b0, "default")


@dataclass(frozen=True)
class Proposal:
    likelihood: float
    impact: float | None  # None: no positive gain was observed, keep the estimate
    hours: float | None
    status: str
    reasons: dict[str, str]


def propose(
    prior: BetaPrior,
    verdict: Verdict,
    *,
    runs_beating: int,
    runs_total: int,
    logged_hours: float | None,
    compute_hours: float | None = None,
) -> Proposal:
    """New estimates from the evidence. The likelihood is the posterior mean of the team
    prior after the idea's attempts (each stage run or sweep whose best beat the reference by
    the margin counts as a success); impact is the observed gain when there was one; hours
    are the hours a person logged, and with none logged the estimate is kept: how long the
    runs took (`compute_hours`, named in the reason) is not how long the idea took."""
    post = prior.updated(runs_beating, runs_total)
    hours = logged_hours if logged_hours and logged_hours > 0 else None
    impact = verdict.impact if verdict.impact > 0 else None
    status = {"succeeded": "succeeded", "failed": "failed"}.get(verdict.verdict, "in_progress")
    reasons = {
        "likelihood": (
            f"Beta({prior.alpha:g}, {prior.beta:g}) from {prior.source} hit rate, "
            f"+ {runs_beating} of {runs_total} attempt{'' if runs_total == 1 else 's'} (a sweep counts "
            f"once) beating the reference by {verdict.margin:.3g}"
        ),
        "impact": f"observed gain {verdict.impact:+.4g} ({verdict.verdict})",
        "hours": f"logged {hours:g} h" if hours else _no_hours(compute_hours),
    }
    return Proposal(post.mean, impact, hours, status, reasons)


def _no_hours(compute_hours: float | None) -> str:
    took = f"; the runs took {compute_hours:.2g} h of compute" if compute_hours else ""
    return f"no hours logged: estimate kept{took}"


# -- calibration -----------------------------------------------------------------


def brier(predicted: list[float], outcomes: list[bool]) -> float:
    """Mean squared error of probabilities against 0/1 outcomes (0 is perfect, 0.25 is a coin)."""
    if not predicted:
        return math.nan
    return sum((p - float(o)) ** 2 for p, o in zip(predicted, outcomes, strict=True)) / len(predicted)


def reliability(predicted: list[float], outcomes: list[bool], bins: int = 5) -> list[dict]:
    """Per probability bin: mean predicted, observed frequency, count (for a reliability diagram)."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [
            (p, o)
            for p, o in zip(predicted, outcomes, strict=True)
            if lo <= p < hi or (b == bins - 1 and p == 1)
        ]
        if members:
            rows.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "predicted": sum(p for p, _ in members) / len(members),
                    "observed": sum(o for _, o in members) / len(members),
                    "count": len(members),
                }
            )
    return rows


def planning_factor(estimated_hours: list[float], actual_hours: list[float]) -> float:
    """Geometric mean of actual / estimated hours: 1.5 means things take 50% longer than
    planned. A factor multiplies each idea's hours, so the mean is taken of the ratios, on a
    log scale (one idea that took 10x is as far from 1 as one that took a tenth); its
    interval is `tracker.intervals.ratio_interval`'s. NaN without a usable pair."""
    return ratio_interval(actual_hours, estimated_hours)[0]


def calibration_weight(n: int) -> float:
    """How much of a calibration learned from n ideas the ranking applies: 0 below
    MIN_CALIBRATION_HISTORY, then n / (n + MIN_CALIBRATION_HISTORY) (0.5 at 5, 0.8 at 20):
    the stated estimates count as MIN_CALIBRATION_HISTORY ideas' worth of evidence."""
    return 0.0 if n < MIN_CALIBRATION_HISTORY else n / (n + MIN_CALIBRATION_HISTORY)


def shrink_factor(factor: float, weight: float) -> float:
    """A planning factor pulled towards 1 on the log scale: factor ** weight (1 when unknown)."""
    return factor**weight if factor == factor and factor > 0 else 1.0


@dataclass(frozen=True)
class LikelihoodCalibration:
    """p_calibrated = weight * p + (1 - weight) * base_rate, fitted to minimise the Brier score."""

    weight: float
    base_rate: float
    n: int

    def apply(self, p: float) -> float:
        return min(1.0, max(0.0, self.weight * p + (1 - self.weight) * self.base_rate))


def fit_calibration(predicted: list[float], outcomes: list[bool]) -> LikelihoodCalibration:
    """Least-squares shrinkage of stated likelihoods towards the observed hit rate.

    With p̄ and ȳ the means, the Brier-optimal weight is cov(p, y) / var(p), clipped to
    [0, 1]: overconfident teams get pulled towards their hit rate, calibrated ones keep
    their numbers. No history: identity.
    """
    n = len(predicted)
    if n < 2:
        return LikelihoodCalibration(1.0, PRIOR_HIT_RATE, n)
    ys = [float(o) for o in outcomes]
    p_bar, y_bar = sum(predicted) / n, sum(ys) / n
    var = sum((p - p_bar) ** 2 for p in predicted)
    cov = sum((p - p_bar) * (y - y_bar) for p, y in zip(predicted, ys, strict=True))
    weight = min(1.0, max(0.0, cov / var)) if var > 0 else 0.0
    # p_cal = w p + (1 - w) c, with c chosen so the mean prediction equals the hit rate.
    base = (y_bar - weight * p_bar) / (1 - weight) if weight < 1 else y_bar
    return LikelihoodCalibration(weight, min(1.0, max(0.0, base)), n)


def shrink_calibration(cal: LikelihoodCalibration, weight: float) -> LikelihoodCalibration:
    """`cal` applied only `weight` of the way from the stated likelihood:
    (1 - weight) * p + weight * cal(p), which is again weight' * p + (1 - weight') * base
    with weight' = 1 - weight * (1 - cal.weight). weight 0 is the identity."""
    return replace(cal, weight=1.0 - weight * (1.0 - cal.weight))
