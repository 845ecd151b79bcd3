"""Formulas of learning from results, on hand-computed cases, plus a calibration simulation."""

from __future__ import annotations

import random

import pytest

from tracker.learning import (
    MIN_CALIBRATION_HISTORY,
    BetaPrior,
    LikelihoodCalibration,
    brier,
    calibration_weight,
    fit_calibration,
    improves,
    judge,
    observed_impact,
    planning_factor,
    propose,
    reliability,
    shrink_calibration,
    shrink_factor,
    team_prior,
)


@pytest.mark.parametrize(
    "new, old, higher, expected",
    [(0.8, 0.7, True, True), (0.7, 0.8, True, False), (0.7, 0.7, True, False),
     (0.05, 0.06, False, True), (0.06, 0.05, False, False), (0.05, 0.05, False, False)],
)  # fmt: skip
def test_improves_is_strict_and_follows_the_direction(new, old, higher, expected):
    # An accuracy-only implementation (new > old) would get every lower-is-better row wrong.
    assert improves(new, old, higher) is expected


def test_observed_impact_is_signed_so_positive_is_better():
    assert observed_impact(0.95, 0.93) == pytest.approx(0.02)
    assert observed_impact(0.10, 0.12, higher_is_better=False) == pytest.approx(0.02)  # lower L1
    assert observed_impact(0.90, 0.93) == pytest.approx(-0.03)


@pytest.mark.parametrize(
    "impact, seeds, verdict",
    [
        (0.02, None, "succeeded"),  # beats threshold 0.01, no seed noise known
        (0.005, None, "failed"),  # below the threshold
        (0.02, [0.90, 0.92, 0.94], "inconclusive"),  # std 0.02 -> margin 0.04 > gain
        (0.05, [0.90, 0.92, 0.94], "succeeded"),
        (-0.03, [0.90, 0.92], "failed"),
    ],
)
def test_verdict_against_threshold_and_seed_noise(impact, seeds, verdict):
    assert judge(impact, threshold=0.01, seed_values=seeds).verdict == verdict


def test_a_tie_with_the_reference_is_no_success():
    assert judge(0.0, 0.0).verdict == "inconclusive"  # equal to the reference: no gain shown
    assert judge(0.01, 0.01).verdict == "inconclusive"  # exactly the threshold: not beaten
    assert judge(1e-9, 0.0).verdict == "succeeded"


def test_margin_is_two_seed_sigmas():
    v = judge(0.0, 0.01, [1.0, 3.0])  # stdev = sqrt(2)
    assert v.noise == pytest.approx(2**0.5) and v.margin == pytest.approx(2 * 2**0.5)


def test_prior_without_history_is_one_or_two_in_ten():
    p = team_prior([])
    assert (p.alpha, p.beta, p.source) == (1.5, 8.5, "default") and p.mean == pytest.approx(0.15)


def test_prior_uses_the_team_then_the_category_once_it_has_history():
    history = [("data", True), ("data", False), ("arch", True)]
    team = team_prior(history, "data")  # data has 2 < 5 decided ideas: team record
    assert team.source == "team" and (team.alpha, team.beta) == (3.5, 9.5)
    history += [("data", True)] * 4
    cat = team_prior(history, "data")  # 6 data ideas, 5 succeeded
    assert cat.source == "category:data" and (cat.alpha, cat.beta) == (6.5, 9.5)


def test_proposal_posterior_mean_impact_and_hours():
    prior = BetaPrior(1.5, 8.5, "default")
    v = judge(0.03, 0.01)
    p = propose(prior, v, runs_beating=3, runs_total=4, logged_hours=5.0)
    # Beta(1.5 + 3, 8.5 + 1): mean 4.5 / 14
    assert p.likelihood == pytest.approx(4.5 / 14)
    assert p.impact == pytest.approx(0.03) and p.hours == 5.0 and p.status == "succeeded"
    failed = propose(prior, judge(-0.01, 0.01), runs_beating=0, runs_total=2, logged_hours=None)
    assert failed.impact is None and failed.hours is None and failed.status == "failed"
    assert failed.likelihood == pytest.approx(1.5 / 12)


def test_no_logged_hours_keeps_the_estimate_and_names_the_compute():
    # The runs' duration is compute: proposing it as hours made a decided idea 50x cheaper.
    p = propose(BetaPrior(1.5, 8.5, "default"), judge(0.03, 0.01), runs_beating=1, runs_total=1,
                logged_hours=None, compute_hours=0.04)  # fmt: skip
    assert p.hours is None
    assert p.reasons["hours"] == "no hours logged: estimate kept; the runs took 0.04 h of compute"
    zero = propose(BetaPrior(1.5, 8.5, "default"), judge(0.03, 0.01), runs_beating=1, runs_total=1,
                   logged_hours=0.0)  # fmt: skip
    assert zero.hours is None and zero.reasons["hours"] == "no hours logged: estimate kept"


def test_brier_reliability_and_planning_factor():
    assert brier([1.0, 0.0, 0.5], [True, False, True]) == pytest.approx(0.25 / 3)
    rows = reliability([0.1, 0.15, 0.9], [False, True, True], bins=5)
    assert rows[0] == {"bin": "0.0-0.2", "predicted": pytest.approx(0.125), "observed": 0.5, "count": 2}
    assert rows[1]["bin"] == "0.8-1.0" and rows[1]["observed"] == 1.0
    # geometric mean of the ratios 1.5 and 2.5 (the ratio of sums, 8 / 4, would give 2.0)
    assert planning_factor([2, 2], [3, 5]) == pytest.approx(15**0.5 / 2)
    # a 10x overrun and a 10x underrun cancel out on the log scale
    assert planning_factor([1, 10], [10, 1]) == pytest.approx(1.0)
    assert planning_factor([], []) != planning_factor([], [])  # NaN: nothing to learn from


def test_calibration_weight_is_zero_below_the_minimum_then_n_over_n_plus_k():
    k = MIN_CALIBRATION_HISTORY
    assert k == 5
    assert [calibration_weight(n) for n in range(k)] == [0.0] * k
    assert calibration_weight(5) == pytest.approx(0.5) and calibration_weight(20) == pytest.approx(0.8)


def test_shrinking_a_planning_factor_moves_it_towards_one_on_the_log_scale():
    assert shrink_factor(0.02, 0.0) == 1.0  # one decided idea: the factor is not applied
    assert shrink_factor(4.0, 0.5) == pytest.approx(2.0)
    assert shrink_factor(0.25, 0.5) == pytest.approx(0.5)
    assert shrink_factor(float("nan"), 0.8) == 1.0


def test_shrinking_a_recalibration_moves_part_of_the_way_from_the_stated_likelihood():
    cal = LikelihoodCalibration(weight=0.2, base_rate=0.1, n=10)
    half = shrink_calibration(cal, 0.5)
    for p in (0.0, 0.3, 0.9):
        assert half.apply(p) == pytest.approx(0.5 * p + 0.5 * cal.apply(p))
    assert shrink_calibration(cal, 0.0).apply(0.7) == pytest.approx(0.7)  # weight 0: identity
    assert shrink_calibration(cal, 1.0).apply(0.7) == pytest.approx(cal.apply(0.7))


def test_calibration_of_an_overconfident_team_lowers_its_brier_score():
    # Ideas with known true success rates (1-2 in 10 on average); the team states
    # likelihoods that are systematically too high and noisy. Fit on past ideas,
    # judge on new ones: the calibrated likelihoods must predict better.
    rng = random.Random(0)

    def simulate(n):
        stated, outcomes = [], []
        for _ in range(n):
            true = rng.betavariate(1.5, 8.5)
            stated.append(min(0.95, max(0.05, 2.5 * true + 0.2 + rng.gauss(0, 0.1))))
            outcomes.append(rng.random() < true)
        return stated, outcomes

    past_p, past_o = simulate(150)
    new_p, new_o = simulate(150)
    cal = fit_calibration(past_p, past_o)
    raw = brier(new_p, new_o)
    calibrated = brier([cal.apply(p) for p in new_p], new_o)
    assert calibrated < raw * 0.7  # a big improvement, not noise
    assert 0 <= cal.weight < 1 and cal.base_rate < 0.3


def test_calibration_keeps_a_calibrated_team_roughly_as_is():
    rng = random.Random(1)
    p = [rng.random() for _ in range(400)]
    o = [rng.random() < q for q in p]
    cal = fit_calibration(p, o)
    assert cal.weight > 0.8
    assert brier([cal.apply(q) for q in p], o) <= brier(p, o) + 1e-9


def test_a_packed_runs_seed_std_counts_as_noise_the_larger_one_wins():
    assert judge(0.03, 0.01, seed_std=0.02).verdict == "inconclusive"  # margin 0.04
    assert judge(0.03, 0.01, [0.9, 0.9], seed_std=0.01).verdict == "succeeded"  # margin 0.02
    assert judge(0.0, 0.01, [1.0, 3.0], seed_std=0.5).noise == pytest.approx(2**0.5)
    assert judge(0.03, 0.01, seed_std=float("nan")).noise == 0.0  # a one-seed run's NaN: no noise known
