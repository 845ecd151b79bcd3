"""tracker.range_checks: one meaning and one threshold per flag, pinned at each edge."""

from __future__ import annotations

import math

import pytest

from tracker import range_checks as rc
from tracker.range_checks import Limits

NAN, INF = math.nan, math.inf


def _stats(lo=-1.0, hi=1.0, frac_zero=0.0, frac_nonfinite=0.0, mean=0.0, std=0.5, n=10):
    """A tensor summary as runners/training/histograms.py writes it (counts only sum to n here)."""
    return {"edges": [lo, hi], "counts": [n], "mean": mean, "std": std, "min": lo, "max": hi,
            "frac_zero": frac_zero, "frac_nonfinite": frac_nonfinite}  # fmt: skip


def _snap(grad_norm=1.0, relu_layers=("2",), step=5, **tensors):
    snap = {"step": step, "grad_norm": grad_norm, "relu_layers": list(relu_layers)}
    snap["tensors"] = {"weights/1.weight": _stats(), "grads/1.weight": _stats(), "acts/2": _stats()}
    snap["tensors"].update({k.replace("__", "/"): v for k, v in tensors.items()})
    return snap


def _names(flags):
    return [f.name for f in flags]


@pytest.mark.parametrize(
    ("norm", "flagged"),
    [(0.0, False), (999.9, False), (1e3, False), (1000.001, True), (1e6, True), (INF, True), (NAN, True)],
)
def test_exploding_grad_is_the_global_norm_strictly_above_1e3_or_not_finite(norm, flagged):
    assert _names(rc.exploding_grad(_snap(grad_norm=norm))) == (["exploding_grad"] if flagged else [])


def test_exploding_grad_names_the_largest_gradient_and_the_step():
    snap = _snap(grad_norm=4e3, grads__a=_stats(-10, 3e3), grads__b=_stats(-5, 5))
    (flag,) = rc.exploding_grad(snap)
    assert (flag.step, flag.tensor) == (5, "grads/a")
    assert flag.detail == "gradient norm 4e+03 > 1000 at step 5 (largest in grads/a: |g| 3e+03)"
    # A non-finite gradient outranks any finite one, however large.
    snap = _snap(grad_norm=INF, grads__a=_stats(-10, 3e3), grads__b=_stats(frac_nonfinite=0.5))
    (flag,) = rc.exploding_grad(snap)
    assert flag.tensor == "grads/b" and "not finite" in flag.detail


def test_big_gradient_entries_under_a_small_global_norm_cannot_exist_so_entries_are_not_checked():
    # The norm is never below any entry: a per-entry check could only repeat the norm's verdict.
    # Entries are not judged on their own, so a stored norm under the limit means no flag.
    assert rc.exploding_grad(_snap(grad_norm=900.0, grads__a=_stats(-800, 800))) == []


@pytest.mark.parametrize(
    ("frac_zero", "flagged"),
    [(0.0, False), (0.9, False), (0.95, False), (0.99, False), (0.9901, True), (1.0, True)],
)
def test_dead_activations_is_a_relu_layer_strictly_over_99_percent_zeros(frac_zero, flagged):
    flags = rc.dead_activations(_snap(acts__2=_stats(lo=0.0, frac_zero=frac_zero)))
    assert _names(flags) == (["dead_activations"] if flagged else [])


def test_dead_activations_looks_only_at_relu_outputs():
    zeros = _stats(lo=0.0, hi=0.0, frac_zero=1.0)
    # A flattened one-hot input or a weight matrix may be all zeros without anything being dead.
    snap = _snap(relu_layers=["2"], acts__0=zeros, acts__2=zeros, weights__3=zeros)
    (flag,) = rc.dead_activations(snap)
    assert flag.tensor == "acts/2" and flag.detail == "2: 100.0% of activations are zero at step 5"
    # A snapshot written before relu_layers existed: every activation is checked.
    del snap["relu_layers"]
    assert [f.tensor for f in rc.dead_activations(snap)] == ["acts/2", "acts/0"]


@pytest.mark.parametrize(
    ("kind", "lo", "hi", "nonfinite", "flagged"),
    [
        ("weights", -1e3, 1e3, 0.0, False),  # exactly at the bound: in range
        ("weights", -1.0, 1000.001, 0.0, True),
        ("acts", -1000.001, 1.0, 0.0, True),  # the bound is on |value|
        ("acts", -5.0, 5.0, 0.001, True),  # one non-finite value in a thousand
        ("weights", NAN, NAN, 1.0, True),  # all non-finite: no finite min/max at all
        ("grads", -5e3, 5e3, 0.5, False),  # gradients are exploding_grad's to judge
    ],
)
def test_out_of_range_is_a_weight_or_activation_beyond_1e3_or_not_finite(kind, lo, hi, nonfinite, flagged):
    snap = _snap(**{f"{kind}__x": _stats(lo, hi, frac_nonfinite=nonfinite)})
    assert [f.tensor for f in rc.out_of_range(snap)] == ([f"{kind}/x"] if flagged else [])


def test_out_of_range_details_say_why():
    snap = _snap(weights__a=_stats(-2e3, 1.0), acts__b=_stats(frac_nonfinite=0.25))
    assert [f.detail for f in rc.out_of_range(snap)] == [
        "weights/a: |value| 2e+03 > 1000 at step 5",
        "acts/b: 25.0% of values are not finite at step 5",
    ]


def test_healthy_snapshot_raises_nothing_and_custom_limits_apply():
    snap = _snap(grad_norm=50.0, acts__2=_stats(lo=0.0, frac_zero=0.5), weights__a=_stats(-20, 20))
    assert rc.check_snapshot(snap) == []
    tight = Limits(grad_norm=10, dead_fraction=0.4, value_abs=10)
    assert _names(rc.check_snapshot(snap, tight)) == ["exploding_grad", "dead_activations", "out_of_range"]


def test_grad_norm_of_old_snapshots_is_rebuilt_from_the_summaries():
    # A gradient [3, 4] has norm 5; its summary: n=2, mean 3.5, std (n-1) 0.7071.
    g = _stats(3.0, 4.0, mean=3.5, std=math.sqrt(0.5), n=2)
    snap = {"step": 0, "tensors": {"grads/a": g, "grads/b": _stats(2.0, 2.0, mean=2.0, std=0.0, n=1),
                                   "weights/a": _stats(-9e9, 9e9)}}  # fmt: skip
    assert rc.snapshot_grad_norm(snap) == pytest.approx(math.sqrt(25 + 4))
    snap["tensors"]["grads/b"] = _stats(frac_nonfinite=0.1)
    assert rc.snapshot_grad_norm(snap) == INF
    assert rc.snapshot_grad_norm({**snap, "grad_norm": 7.0}) == 7.0  # stored: taken as is


def test_first_flags_replays_the_trainers_once_per_kind_choice():
    early = _snap(step=10, acts__2=_stats(lo=0.0, frac_zero=1.0))
    late = _snap(step=20, grad_norm=INF, acts__2=_stats(lo=0.0, frac_zero=1.0))
    first = rc.first_flags([late, early])  # any order in: judged oldest first
    assert {name: f.step for name, f in first.items()} == {"dead_activations": 10, "exploding_grad": 20}


@pytest.mark.parametrize(
    ("data_s", "compute_s", "flagged", "where"),
    [
        (0.0, 0.0, False, ""),
        (0.4, 0.6, False, ""),  # exactly one second: not slow
        (0.2, 0.81, True, "compute"),
        (0.9, 0.2, True, "data loading"),
    ],
)
def test_slow_batch_is_data_plus_compute_strictly_over_one_second(data_s, compute_s, flagged, where):
    flag = rc.slow_batch(7, data_s, compute_s)
    assert (flag is not None) == flagged
    if flagged:
        assert flag.name == "slow_batch" and flag.detail.endswith(f"bottleneck is {where}")
        assert flag.detail.startswith("batch at step 7 took")


@pytest.mark.parametrize(
    ("field", "value"),
    [("grad_norm", -1.0), ("value_abs", NAN), ("dead_fraction", 1.5), ("slow_batch_s", -0.1)],
)
def test_limits_reject_values_out_of_range_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"Limits.{field}="):
        Limits(**{field: value})
