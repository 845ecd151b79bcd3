"""Histogram summaries and the automatic range checks."""

from __future__ import annotations

import math

import torch

from runners.histograms import Limits, range_checks, summarize


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
