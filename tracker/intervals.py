"""Intervals for small samples: how far a calibration number can be trusted.

Calibration numbers come from a handful of decided ideas, and a Brier score or a planning
factor from one idea is mostly noise. So every summary number carries its sample size and
a 90% interval (`LEVEL`), computed here, pure and without scipy:

- a proportion (the hit rate): the Wilson score interval, which stays inside [0, 1] and
  is sensible even for n = 1 or for no successes at all;
- a mean (the Brier score): mean ± t · s / √n with Student's t at n − 1 degrees of freedom,
  clipped to the range the quantity can take; with fewer than two values there is no
  spread to estimate, and the interval is that whole range;
- a ratio (the planning factor, actual ÷ estimated hours): the same t interval on the log
  ratios, exponentiated — a log-normal interval around the geometric mean of the ratios;
  with fewer than two ratios it is (0, ∞).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

LEVEL = 0.90  # two-sided coverage of every interval shown
Z = 1.6448536269514722  # the standard normal's 95th percentile: the 90% two-sided quantile
# Student's t, 95th percentile, for 1..30 degrees of freedom (the 90% two-sided quantile).
T_TABLE = (6.3138, 2.9200, 2.3534, 2.1318, 2.0150, 1.9432, 1.8946, 1.8595, 1.8331, 1.8125,
           1.7959, 1.7823, 1.7709, 1.7613, 1.7531, 1.7459, 1.7396, 1.7341, 1.7291, 1.7247,
           1.7207, 1.7171, 1.7139, 1.7109, 1.7081, 1.7056, 1.7033, 1.7011, 1.6991, 1.6973)  # fmt: skip


@dataclass(frozen=True)
class Interval:
    """A `LEVEL` interval [low, high] from n observations; high may be math.inf (unbounded)."""

    low: float
    high: float
    n: int

    def as_dict(self) -> dict:
        """JSON-safe: an unbounded end is None (json would write the non-standard `Infinity`)."""
        ends = {k: v if math.isfinite(v) else None for k, v in (("low", self.low), ("high", self.high))}
        return {**ends, "n": self.n, "level": LEVEL}


def describe_interval(iv: dict, fmt: str = ".2f") -> str:
    """`n=3, 90% interval 0.41–2.10` from `Interval.as_dict()` (∞ for an unbounded end)."""
    show = lambda x: "∞" if x is None else format(x, fmt)  # noqa: E731
    return f"n={iv['n']}, {iv['level']:.0%} interval {show(iv['low'])}–{show(iv['high'])}"


def t_quantile(df: int) -> float:
    """Student's t 95th percentile at `df` degrees of freedom: the table up to 30, then the
    Cornish-Fisher expansion around the normal quantile (within 1e-4 from 31 on)."""
    if df < 1:
        raise ValueError(f"df={df} is out of range; allowed: an integer >= 1")
    if df <= len(T_TABLE):
        return T_TABLE[df - 1]
    z = Z
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def wilson(successes: int, n: int) -> Interval:
    """Wilson score interval of a proportion successes / n; [0, 1] when n is 0."""
    if n == 0:
        return Interval(0.0, 1.0, 0)
    p, z2 = successes / n, Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(max(0.0, centre - half), min(1.0, centre + half), n)


def mean_interval(
    values: list[float], low: float = -math.inf, high: float = math.inf
) -> tuple[float, Interval]:
    """The mean and its t interval, clipped to [low, high] (the whole range below two values)."""
    n = len(values)
    if n == 0:
        return math.nan, Interval(low, high, 0)
    mean = sum(values) / n
    if n < 2:
        return mean, Interval(low, high, n)
    half = t_quantile(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, Interval(max(low, mean - half), min(high, mean + half), n)


def ratio_interval(numerators: list[float], denominators: list[float]) -> tuple[float, Interval]:
    """Geometric mean of numerator / denominator and its log-normal interval; pairs with a
    non-positive side are skipped (a ratio of them has no logarithm). NaN when none is left."""
    logs = [math.log(a / b) for a, b in zip(numerators, denominators, strict=True) if a > 0 and b > 0]
    if not logs:
        return math.nan, Interval(0.0, math.inf, 0)
    mean, iv = mean_interval(logs)
    return math.exp(mean), Interval(math.exp(iv.low), math.exp(iv.high), iv.n)
