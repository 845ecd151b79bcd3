"""Interval maths for small samples, on hand-computed cases and against scipy where it exists."""

from __future__ import annotations

import math
import random

import pytest

from tracker.intervals import (
    T_TABLE,
    Interval,
    describe_interval,
    mean_interval,
    ratio_interval,
    t_quantile,
    wilson,
)


def test_t_quantile_matches_known_values_and_approaches_the_normal():
    assert t_quantile(1) == pytest.approx(6.3138, abs=1e-4)
    assert t_quantile(4) == pytest.approx(2.1318, abs=1e-4)
    assert t_quantile(30) == pytest.approx(1.6973, abs=1e-4)
    assert t_quantile(31) == pytest.approx(1.6955, abs=2e-4)  # past the table: the expansion
    assert t_quantile(10_000) == pytest.approx(1.6449, abs=1e-3)
    with pytest.raises(ValueError, match="df=0"):
        t_quantile(0)


def test_t_quantile_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in [*range(1, len(T_TABLE) + 1), 31, 40, 60, 120, 1000]:
        assert t_quantile(df) == pytest.approx(stats.t.ppf(0.95, df), abs=2e-4), df


def test_wilson_interval_by_hand():
    # 1 success of 1: centre (1 + z²/2) / (1 + z²), half-width (z²/2) / (1 + z²), so low = 1 / (1 + z²)
    iv = wilson(1, 1)
    z2 = 1.6448536269514722**2
    assert iv.low == pytest.approx(1 / (1 + z2)) and iv.high == pytest.approx(1.0)
    assert iv.low == pytest.approx(0.2699, abs=1e-4) and iv.n == 1
    none = wilson(0, 4)  # never succeeded: the interval still leaves room above 0
    assert none.low == 0.0 and 0.3 < none.high < 0.5
    assert (wilson(0, 0).low, wilson(0, 0).high) == (0.0, 1.0)


def test_wilson_interval_covers_about_ninety_percent():
    # A broken interval (e.g. the Wald p ± z·sqrt(p(1-p)/n), zero width at 0 or n successes)
    # covers far less at small n and extreme p.
    rng = random.Random(0)
    hits = 0
    for _ in range(2000):
        k = sum(rng.random() < 0.15 for _ in range(10))
        iv = wilson(k, 10)
        hits += iv.low <= 0.15 <= iv.high
    assert 0.85 < hits / 2000 < 0.97


def test_mean_interval_by_hand_and_with_too_few_values():
    mean, iv = mean_interval([0.0, 1.0, 0.5, 0.5])
    # sd = sqrt(1/6), t(3) = 2.3534: half-width 2.3534 * 0.40825 / 2 = 0.48039
    assert mean == 0.5 and iv.low == pytest.approx(0.5 - 0.48039, abs=1e-4) and iv.n == 4
    clipped = mean_interval([0.81, 0.01], 0.0, 1.0)[1]  # the Brier score cannot leave [0, 1]
    assert (clipped.low, clipped.high) == (0.0, 1.0)
    one, iv1 = mean_interval([0.25], 0.0, 1.0)
    assert one == 0.25 and (iv1.low, iv1.high, iv1.n) == (0.0, 1.0, 1)  # no spread from one value
    nothing, iv0 = mean_interval([])
    assert math.isnan(nothing) and iv0.n == 0


def test_ratio_interval_is_log_normal_around_the_geometric_mean():
    factor, iv = ratio_interval([2.0, 8.0], [1.0, 1.0])
    assert factor == pytest.approx(4.0)  # sqrt(2 * 8)
    # logs ln 2, ln 8: mean ln 4, sd ln 4 / √2, half-width t(1) · sd / √2 = 6.3138 · ln 4 / 2
    half = 6.3138 * math.log(4) / 2
    assert iv.low == pytest.approx(4 * math.exp(-half), rel=1e-3)
    assert iv.high == pytest.approx(4 * math.exp(half), rel=1e-3)
    one, iv1 = ratio_interval([0.04], [2.0])  # the one-idea case the reviewer saw: 0.02, unbounded
    assert one == pytest.approx(0.02) and (iv1.low, iv1.high, iv1.n) == (0.0, math.inf, 1)
    skipped, iv2 = ratio_interval([0.0, 3.0], [1.0, 1.0])  # no logarithm of 0 hours
    assert skipped == pytest.approx(3.0) and iv2.n == 1


def test_intervals_serialize_without_infinity_and_read_as_one_line():
    d = Interval(0.0, math.inf, 1).as_dict()
    assert d == {"low": 0.0, "high": None, "n": 1, "level": 0.9}
    assert describe_interval(d) == "n=1, 90% interval 0.00–∞"
    assert describe_interval(Interval(0.123, 0.456, 7).as_dict(), ".3f") == "n=7, 90% interval 0.123–0.456"
