"""tracker.artifacts: histogram files into heatmap cells, range flags, samples by epoch."""

from __future__ import annotations

from tests.board.seed import log_histograms, log_samples, make_run, png
from tracker import artifacts


def test_histograms_read_back_in_step_order(store, make_idea):
    run = make_run(store, idea_id=make_idea())
    log_histograms(store, run, [200, 0, 100])
    hists = artifacts.load_histograms(store, run)
    assert [h["step"] for h in hists] == [0, 100, 200]
    assert artifacts.tensor_names(hists)[:2] == ["weights/0.weight", "weights/2.weight"]


def test_heatmap_cells_span_steps_and_bins():
    hists = [
        {"step": 0, "tensors": {"w": {"edges": [0, 1, 2], "counts": [3, 4]}}},
        {"step": 10, "tensors": {"w": {"edges": [0, 2, 4], "counts": [5, 6]}}},
    ]
    cells = artifacts.histogram_cells(hists, "w")
    assert cells == [
        {"step": 0, "step_end": 10, "low": 0, "high": 1, "count": 3},
        {"step": 0, "step_end": 10, "low": 1, "high": 2, "count": 4},
        {"step": 10, "step_end": 20, "low": 0, "high": 2, "count": 5},  # its own edges, last gap reused
        {"step": 10, "step_end": 20, "low": 2, "high": 4, "count": 6},
    ]


def test_flags_over_time_are_the_range_checks_per_tensor_from_the_first_step():
    ok = {"min": -1, "max": 1, "frac_zero": 0.1, "frac_nonfinite": 0.0, "mean": 0, "std": 0.5, "counts": [4]}
    dead = {**ok, "min": 0, "frac_zero": 1.0}

    def snap(step, norm, acts):
        tensors = {"grads/0.weight": ok, "acts/2": acts, "weights/0.weight": {**ok, "max": 5e3}}
        return {"step": step, "grad_norm": norm, "relu_layers": ["2"], "tensors": tensors}

    hists = [snap(20, 5e3, dead), snap(0, 1.0, ok), snap(10, 1.0, dead)]  # any order in
    assert artifacts.flags_over_time(hists, "acts/2") == {"dead_activations": 10}
    # exploding_grad judges the global norm; the board shows it on the gradient it names
    assert artifacts.flags_over_time(hists, "grads/0.weight") == {"exploding_grad": 20}
    assert artifacts.flags_over_time(hists, "weights/0.weight") == {"out_of_range": 0}
    assert artifacts.flags_over_time(hists, "acts/9") == {}


def test_spread_keeps_ends():
    assert artifacts.spread(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert artifacts.spread([1, 2], 5) == [1, 2]


def test_samples_by_epoch(store, make_idea):
    run = make_run(store, idea_id=make_idea())
    log_samples(store, run, [2, 1])
    assert artifacts.sample_epochs(store, run) == [1, 2]  # confusion_* files are not epochs of their own
    got = artifacts.load_samples(store, run, 2)
    assert got["grid"] == png((80, 100, 200))
    assert got["confusion"] == {"labels": ["0", "1"], "matrix": [[12, 2], [3, 11]]}


def test_run_without_artifacts_has_none(store, make_idea):
    run = make_run(store, idea_id=make_idea())
    assert artifacts.histogram_steps(store, run) == [] and artifacts.sample_epochs(store, run) == []
