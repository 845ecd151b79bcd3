"""Several people's estimates of one idea pooled into the one the score uses (pure logic).

Who said what comes from the idea's revisions (`voices`): each revision that sets an estimate
is its author's estimate of that field, and a person's latest value stands until they give a
new one. An accepted outcome (a revision with source `evidence`) replaces everyone's earlier
numbers for the fields it sets: they were said before the evidence. People who estimate
after it join the evidence's value as one more voice.

How the voices become one number (`pool`); one voice is always taken as it is:
- likelihood: the mean of the people's log-odds, each times the person's weight, times an
  optional extremizing factor (> 1 pushes the pool away from 50%: independent forecasters
  each hold part of the evidence, so their plain average is under-confident — Good Judgment
  Project). Log-odds are taken on [0.01, 0.99] so one "0" or "1" cannot veto the rest.
- hours and impact: the geometric mean. Their errors are ratios ("took twice as long", "a
  third of the gain"), the score divides one by the other, and the planning factor is a
  geometric mean too; with two people the median would be their arithmetic mean, which sides
  with the larger number, and one wild guess moves a geometric mean less than a plain one.
- complexity: the upper median, an integer 1-5: the middle opinion, and on a tie the more
  complex one (complexity taxes every later idea, so a tie is settled on the cost side).

Weights (`tracker.person_calibration.person_weights`) come from each person's calibration
record: a weight multiplies the person's log-odds, so it is a recalibration of their
likelihoods — below 1 for someone whose record shows over-confidence, above 1 for someone
under-confident, 1 for anyone without enough decided ideas (and without weights). The mean
divides by the number of voices, not by the sum of weights: a team of over-confident people
is pulled back towards 50%, not merely re-weighted among itself. `disagreement` is how far
apart the people's own scores are: a reason to talk before spending a week on the idea.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tracker.estimates import FIELDS, score

EVIDENCE = "evidence"  # the voice of an accepted outcome (a revision with source `evidence`)
LOGIT_CLIP = 0.01  # likelihoods are pooled on [LOGIT_CLIP, 1 - LOGIT_CLIP]
DISAGREEMENT_FLAG = 3.0  # people's own scores this many times apart: flagged on the Ideas page


@dataclass(frozen=True)
class PoolSettings:
    """How voices are pooled: per-person likelihood weights (missing people count 1), extremizing."""

    weights: Mapping[str, float] = field(default_factory=dict)
    extremize: float = 1.0  # multiplies the pooled log-odds; 1 = none

    def __post_init__(self) -> None:
        if not (math.isfinite(self.extremize) and 0.5 <= self.extremize <= 3.0):
            raise ValueError(f"extremize={self.extremize!r} is out of range; allowed: [0.5, 3]")
        bad = {k: w for k, w in self.weights.items() if not (math.isfinite(w) and w > 0)}
        if bad:
            raise ValueError(f"weights must be positive numbers; got {bad}")

    def weight(self, person: str) -> float:
        return self.weights.get(person, 1.0)


def voices(revisions: Iterable) -> dict[str, dict[str, float]]:
    """{field: {person: latest value}} from revisions oldest first (objects with `author`,
    `source`, `changes` and `damaged`, as `tracker.records.Revision`)."""
    out: dict[str, dict[str, float]] = {f: {} for f in FIELDS}
    for rev in revisions:
        if rev.damaged:
            continue
        for name, value in rev.changes.items():
            if name not in out or not isinstance(value, (int, float)):
                continue
            if rev.source == EVIDENCE:
                out[name] = {EVIDENCE: float(value)}  # said before the evidence: replaced
            else:
                out[name][rev.author or "?"] = float(value)
    return out


def people(by_field: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """The same voices by person: {person: {field: value}} (the evidence's voice left out)."""
    out: dict[str, dict[str, float]] = {}
    for name, said in by_field.items():
        for person, value in said.items():
            if person != EVIDENCE:
                out.setdefault(person, {})[name] = value
    return dict(sorted(out.items()))


def logit(p: float) -> float:
    p = min(1 - LOGIT_CLIP, max(LOGIT_CLIP, p))
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def pool_likelihood(values: Mapping[str, float], settings: PoolSettings = PoolSettings()) -> float:
    """sigmoid(extremize × mean of weight × log-odds) (see the module docstring)."""
    mean = sum(settings.weight(p) * logit(v) for p, v in values.items()) / len(values)
    return sigmoid(settings.extremize * mean)


def geometric_mean(values: Mapping[str, float], settings: PoolSettings = PoolSettings()) -> float:
    """Geometric mean of positive values (weights are for likelihoods only)."""
    return math.exp(sum(math.log(v) for v in values.values()) / len(values))


def upper_median(values: Mapping[str, float], settings: PoolSettings = PoolSettings()) -> float:
    """The median; of an even number, the upper of the two middle values."""
    ordered = sorted(values.values())
    return ordered[len(ordered) // 2]


POOLERS = {"likelihood": pool_likelihood, "hours": geometric_mean, "impact": geometric_mean,
           "complexity": upper_median}  # fmt: skip


def pool(by_field: Mapping[str, Mapping[str, float]], settings: PoolSettings = PoolSettings()) -> dict:
    """{field: pooled value} for every field somebody estimated; one voice is taken as it is
    (exactly: exp(log(5)) is 4.999999999999999)."""
    return {
        name: POOLERS[name](said, settings) if len(said) > 1 else next(iter(said.values()))
        for name, said in by_field.items()
        if said
    }


@dataclass(frozen=True)
class Spread:
    """How far apart the people are on one field: lowest, highest and, for hours and impact,
    their ratio (a factor), for likelihood and complexity their difference."""

    low: float
    high: float
    n: int

    def describe(self, name: str) -> str:
        if self.n < 2:
            return "one voice"
        if name in ("hours", "impact"):
            return f"{self.low:.3g}–{self.high:.3g} ({self.high / self.low:.2g}× apart)"
        return f"{self.low:.3g}–{self.high:.3g} (±{(self.high - self.low) / 2:.2g})"


def spreads(by_field: Mapping[str, Mapping[str, float]]) -> dict[str, Spread]:
    return {
        name: Spread(min(said.values()), max(said.values()), len(said))
        for name, said in by_field.items()
        if said
    }


def personal_scores(by_field: Mapping[str, Mapping[str, float]], pooled: Mapping[str, float]) -> dict:
    """Each person's own score: their numbers, the pool's where they gave none; likelihoods
    clipped as for pooling, so a "0" is a very low score, not a zero."""
    out = {}
    for person, said in people(by_field).items():
        values = {**pooled, **said}
        if all(f in values for f in FIELDS):
            values["likelihood"] = min(1 - LOGIT_CLIP, max(LOGIT_CLIP, values["likelihood"]))
            out[person] = score(**{f: values[f] for f in FIELDS})
    return out


def disagreement(by_field: Mapping[str, Mapping[str, float]], pooled: Mapping[str, float]) -> float:
    """Highest ÷ lowest of the people's own scores (1 = they agree); NaN with fewer than two."""
    scores = [s for s in personal_scores(by_field, pooled).values() if s > 0]
    return max(scores) / min(scores) if len(scores) >= 2 else math.nan
