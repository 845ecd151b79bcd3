"""Bounds of every estimate and the score that ranks ideas."""

from __future__ import annotations

import math

import pytest

from tracker.estimates import (
    EstimateError,
    Estimates,
    check_field,
    check_status,
    score,
    score_breakdown,
)


@pytest.mark.parametrize(
    "name, value",
    [
        ("hours", 0.01),
        ("hours", 10_000),
        ("complexity", 1),
        ("complexity", 5),
        ("complexity", "3"),
        ("impact", 1e-6),
        ("likelihood", 0),
        ("likelihood", 1),
        ("likelihood", "0.5"),
    ],
)
def test_values_on_the_edge_of_the_range_are_accepted(name, value):
    assert check_field(name, value) == float(value)


@pytest.mark.parametrize(
    "name, value",
    [
        ("hours", 0),
        ("hours", -1),
        ("hours", 10_001),
        ("complexity", 0),
        ("complexity", 6),
        ("complexity", 2.5),
        ("impact", 0),
        ("impact", -0.01),
        ("likelihood", -0.01),
        ("likelihood", 1.01),
        ("likelihood", float("nan")),
        ("hours", float("inf")),
        ("impact", "lots"),
    ],
)
def test_values_out_of_range_name_field_value_and_range(name, value):
    with pytest.raises(EstimateError) as err:
        check_field(name, value)
    msg = str(err.value)
    assert msg.startswith(f"{name}=") and "allowed" in msg and "\n" not in msg


def test_complexity_is_stored_as_int():
    est = Estimates.parse(hours=2, complexity="3", impact=0.1, likelihood=0.5)
    assert est.complexity == 3 and isinstance(est.complexity, int)


def test_unknown_status_is_rejected():
    check_status("in_progress")
    with pytest.raises(EstimateError, match="status='done'"):
        check_status("done")


def test_score_is_expected_gain_per_effective_hour():
    # 0.5 * 0.04 / (2 h * (1 + 0.25 * 2)) = 0.02 / 3
    assert score(hours=2, complexity=3, impact=0.04, likelihood=0.5) == pytest.approx(0.02 / 3)
    b = score_breakdown(2, 3, 0.04, 0.5)
    assert b["expected_gain"] == pytest.approx(0.02)
    assert b["effective_hours"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    "better, worse",
    [
        ((1, 1, 0.01, 0.5), (2, 1, 0.01, 0.5)),  # cheaper wins
        ((1, 1, 0.01, 0.5), (1, 3, 0.01, 0.5)),  # simpler wins
        ((1, 1, 0.02, 0.5), (1, 1, 0.01, 0.5)),  # bigger impact wins
        ((1, 1, 0.01, 0.9), (1, 1, 0.01, 0.5)),  # likelier wins
    ],
)
def test_score_prefers_cheap_simple_likely_big_gains(better, worse):
    assert score(*better) > score(*worse)


def test_score_of_missing_estimate_is_nan():
    assert math.isnan(score(1, 1, float("nan"), 0.5))
