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


# -- per-class values ------------------------------------------------------------


def test_a_metric_with_a_slash_is_per_class_the_rest_is_headline():
    head, per = artifacts.split_per_class({"loss": 0.3, "accuracy": 0.9, "f1/7": 0.8, "iou/circle": 0.5})
    assert head == {"loss": 0.3, "accuracy": 0.9}
    assert per == {"f1/7": 0.8, "iou/circle": 0.5}


def test_per_class_file_round_trips_and_an_epoch_added_again_replaces_its_rows(tmp_path):
    f = artifacts.PerClassFile()
    f.add(0, {"f1/0": 0.1, "f1/1": 0.2})
    f.add(1, {"f1/0": 0.5, "f1/cat/dog": 0.6})  # a class name may hold a slash
    f.add(0, {"f1/0": 0.15, "f1/1": 0.25})  # a resumed run re-adds the epochs its checkpoint holds
    assert len(f) == 4
    rows = artifacts.parse_per_class(f.payload().decode())
    assert rows == [
        {"epoch": 0, "metric": "val/f1", "class": "0", "value": 0.15},
        {"epoch": 0, "metric": "val/f1", "class": "1", "value": 0.25},
        {"epoch": 1, "metric": "val/f1", "class": "0", "value": 0.5},
        {"epoch": 1, "metric": "val/f1", "class": "cat/dog", "value": 0.6},
    ]
    # The writer callable stores the file as it was when asked, not as it is later.
    write, before = f.writer(), f.payload()
    f.add(2, {"f1/0": 0.9})
    write(tmp_path / "per_class.jsonl")
    assert (tmp_path / "per_class.jsonl").read_bytes() == before != f.payload()


def test_a_damaged_per_class_file_yields_its_whole_rows_and_one_warning(caplog):
    f = artifacts.PerClassFile()
    f.add(0, {"f1/0": 0.1})
    f.add(1, {"f1/0": 0.4})
    whole = f.payload().decode()
    torn = whole[: whole.rindex('"value"')]  # a crash mid-write cut the last row
    text = torn + '\n[1, 2]\n{"epoch": "x", "metric": "val/f1", "class": "0", "value": 1}\nnot json\n'
    with caplog.at_level("WARNING"):
        rows = artifacts.parse_per_class(text, "the test file")
    assert rows == [{"epoch": 0, "metric": "val/f1", "class": "0", "value": 0.1}]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["idealoop: the test file: 4 damaged line(s) skipped, 1 row(s) read"]
    assert artifacts.parse_per_class("") == [] and artifacts.parse_per_class("\x00\xff garbage") == []


def test_load_per_class_reads_the_stored_file_and_a_run_without_one_has_no_rows(store, make_idea, caplog):
    idea = make_idea()
    run, empty = make_run(store, idea_id=idea), make_run(store, idea_id=idea)
    f = artifacts.PerClassFile()
    f.add(0, {"iou/background": 0.7, "iou/circle": 0.0})
    store.client.log_text(run, f.payload().decode() + '{"epoch": 1, "metr', artifacts.PER_CLASS_FILE)
    with caplog.at_level("WARNING"):
        rows = artifacts.load_per_class(store, run)
    assert [(r["class"], r["value"]) for r in rows] == [("background", 0.7), ("circle", 0.0)]
    assert f"{artifacts.PER_CLASS_FILE} of run {run}: 1 damaged line(s) skipped" in caplog.text
    assert artifacts.load_per_class(store, empty) == []
