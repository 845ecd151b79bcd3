"""Histogram summaries and the automatic range checks."""

from __future__ import annotations

import math

import torch

from runners.training.histograms import Limits, SnapshotSchedule, range_checks, summarize, summarize_all


def test_summary_counts_every_finite_value_and_reports_the_rest():
    t = torch.tensor([0.0, 0.0, 1.0, 2.0, float("nan"), float("inf"), 3.0, 4.0])
    h = summarize(t, bins=4)
    assert sum(h["counts"]) == 6 and len(h["edges"]) == 5
    assert h["frac_nonfinite"] == 2 / 8 and h["frac_zero"] == 2 / 8
    assert (h["min"], h["max"]) == (0.0, 4.0)


def test_constant_and_empty_tensors_do_not_crash():
    assert sum(summarize(torch.ones(10))["counts"]) == 10
    assert math.isnan(summarize(torch.tensor([float("nan")]))["mean"])


def _snap(**tensors):
    return {"step": 5, "tensors": {k: summarize(v) for k, v in tensors.items()}}


def test_flags_exploding_gradients_dead_relus_and_out_of_range_values():
    snap = _snap(**{"acts/1": torch.zeros(100), "weights/0.weight": torch.tensor([5000.0, 1.0])})
    flags = dict(range_checks(snap, norm=1e6, limits=Limits(), relu_layers={"1"}))
    assert set(flags) == {"exploding_grad", "dead_activations", "out_of_range"}
    assert "1: 100.0% of activations are zero at step 5" in flags["dead_activations"]


def test_healthy_values_raise_no_flag():
    snap = _snap(**{"acts/1": torch.rand(100), "weights/0.weight": torch.randn(50)})
    assert range_checks(snap, norm=3.0, limits=Limits(), relu_layers={"1"}) == []


def test_batched_summaries_match_one_tensor_at_a_time():
    gen = torch.Generator().manual_seed(0)
    tensors = {"a": torch.randn(300, generator=gen), "b": torch.relu(torch.randn(40, 7, generator=gen)),
               "c": torch.tensor([3.0]), "empty": torch.zeros(0), "ints": torch.arange(5)}  # fmt: skip
    together = summarize_all(tensors, bins=8)
    assert list(together) == list(tensors)
    for name, t in tensors.items():
        alone = summarize(t, bins=8)
        assert together[name]["counts"] == alone["counts"]
        assert together[name]["frac_zero"] == alone["frac_zero"]
    b = tensors["b"]
    assert together["b"]["frac_zero"] == (b == 0).sum().item() / b.numel() > 0.3
    assert math.isclose(together["a"]["std"], tensors["a"].std().item(), rel_tol=1e-5)
    assert together["c"]["std"] == 0.0 and sum(together["c"]["counts"]) == 1
    assert sum(together["ints"]["counts"]) == 5 and together["ints"]["max"] == 4.0


def test_schedule_keeps_the_exact_cadence_without_a_budget():
    s = SnapshotSchedule(every=10, budget=0)
    taken = []
    for step in range(35):
        if s.due(step, now=step * 0.001):
            s.taken(step, seconds=1.0)  # far over any budget: ignored
            taken.append(step)
    assert taken == [0, 10, 20, 30] and not s.stretched


def test_schedule_spaces_snapshots_to_stay_within_the_time_budget():
    # 1 ms steps, 10 ms snapshots, 2% budget. The first 5 follow the cadence; then the
    # next waits until 50 ms / 0.02 = 2.5 s of training have passed, and so on.
    s = SnapshotSchedule(every=10, budget=0.02, exempt=5)
    taken = []
    for step in range(10_000):
        if s.due(step, now=step * 0.001):
            s.taken(step, seconds=0.010)
            taken.append(step)
    assert taken[:5] == [0, 10, 20, 30, 40] and s.stretched
    assert [round(t, -2) for t in taken[5:8]] == [2500, 3000, 3500]  # (float rounding: 3001)
    assert s.spent_s <= 0.02 * 10.0 + 0.010  # the budget holds over the run (plus one snapshot)
    cheap = SnapshotSchedule(every=10, budget=0.02)  # 0.1 ms snapshots fit: the cadence holds
    assert [st for st in range(40) if cheap.due(st, st * 0.001) and not cheap.taken(st, 0.0001)] == [
        0,
        10,
        20,
        30,
    ]
