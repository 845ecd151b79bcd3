"""tracker.curves: min/max downsampling keeps every spike; the fast read equals MLflow's own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.board.seed import log_metrics, make_run
from tracker.curves import minmax_downsample, read_curve, read_points, read_sampled_mlflow, summarize


def test_short_curves_are_untouched():
    steps, values = np.arange(10), np.linspace(1, 0, 10)
    out_s, out_v = minmax_downsample(steps, values, 100)
    assert out_s is steps and out_v is values


def test_every_spike_survives_and_the_size_is_bounded():
    rng = np.random.default_rng(0)
    n = 200_000
    steps, values = np.arange(n), rng.normal(1.0, 0.01, n)
    spikes = np.arange(50) * 4000 + 123  # one per 400-point bucket of a 2000-point budget
    values[spikes] = 100.0
    values[7] = -100.0  # a dip is an extreme too
    out_s, out_v = minmax_downsample(steps, values, 2000)
    assert len(out_s) <= 2000
    assert set(spikes) <= set(out_s[out_v == 100.0])
    assert out_v.max() == 100.0 and out_v.min() == -100.0
    assert out_s[0] == 0 and out_s[-1] == n - 1  # the ends are kept
    assert np.all(np.diff(out_s) > 0)  # still in step order, no duplicates


def test_min_and_max_of_each_bucket_are_kept():
    values = np.array([5, 1, 9, 3, 4, 0, 8, 2], dtype=float)  # 2 buckets of 4
    out_s, out_v = minmax_downsample(np.arange(8), values, 4)  # max_points 4 -> 1 bucket of 8
    assert list(out_s) == [0, 2, 5, 7]  # first, max (9), min (0), last
    assert list(out_v) == [5, 9, 0, 2]


def test_random_dropping_would_fail_this():
    # one spike in a long flat curve: an evenly spaced sample of 1000 points misses it
    values = np.zeros(100_001)
    values[12_345] = 1.0
    _, out_v = minmax_downsample(np.arange(len(values)), values, 1000)
    assert out_v.max() == 1.0


def test_nan_points_are_kept():
    values = np.ones(1000)
    values[500] = np.nan
    out_s, out_v = minmax_downsample(np.arange(1000), values, 40)
    assert 500 in out_s and np.isnan(out_v[list(out_s).index(500)])


def test_too_few_points_is_refused():
    with pytest.raises(ValueError, match="max_points=3"):
        minmax_downsample(np.arange(10), np.arange(10.0), 3)


def test_fast_read_matches_get_metric_history(store, make_idea):
    idea = make_idea()
    values = [float((i * 37) % 11) for i in range(2500)]
    run = make_run(store, idea_id=idea, metrics={"train/loss": list(enumerate(values))})
    steps, got = read_points(store, run, "train/loss")
    history = store.client.get_metric_history(run, "train/loss")
    assert list(steps) == sorted(m.step for m in history) == list(range(2500))
    assert list(got) == values
    curve = read_curve(store, run, "train/loss", max_points=400)
    assert curve.total_points == 2500 and curve.downsampled and len(curve.steps) <= 400
    assert curve.values.max() == 10.0 and curve.values.min() == 0.0


def test_read_of_a_missing_key_is_empty(store, make_idea):
    run = make_run(store, idea_id=make_idea())
    curve = read_curve(store, run, "train/loss")
    assert curve.total_points == 0 and len(curve.steps) == 0


def test_nan_is_read_back_as_nan(store, make_idea):
    run = make_run(store, idea_id=make_idea())
    log_metrics(store.client, run, {"train/loss": [(0, 1.0), (1, float("nan")), (2, 0.5)]})
    _, values = read_points(store, run, "train/loss")
    assert values[0] == 1.0 and np.isnan(values[1]) and values[2] == 0.5


def test_summarize_totals_the_timing(store, make_idea):
    run = make_run(store, idea_id=make_idea(), metrics={"time/data_s": [(i, 0.25) for i in range(8)]})
    got = summarize(store, run, "time/data_s")
    assert (got.count, got.total, got.mean) == (8, 2.0, 0.25)


def test_mlflow_sampled_read_loses_the_spike_that_read_curve_keeps(store, make_idea):
    # why the board does not use MLflow's own sampled read (what the MLflow UI draws)
    values = [1.0] * 5000
    values[1234] = 99.0
    run = make_run(store, idea_id=make_idea(), metrics={"train/loss": list(enumerate(values))})
    sampled = read_sampled_mlflow(store, run, "train/loss", max_points=200)
    assert len(sampled.steps) <= 200 and 99.0 not in sampled.values
    assert 99.0 in read_curve(store, run, "train/loss", max_points=200).values
