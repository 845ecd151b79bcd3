"""The board's chart builders and curve shaping: pure functions, checked through `chart.to_dict()`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from board import charts
from board.curve_prep import Phase, ema, epoch_knots, overfit_phases, phase_frames, step_to_epoch
from tracker import keys


def batch_frame(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"x": i, "step": i, "value": v, "smooth": v, "series": s}
        for s, vs in values.items()
        for i, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def layer_marks(spec: dict) -> list[str]:
    return [(m["type"] if isinstance(m := layer["mark"], dict) else m) for layer in spec["layer"]]


# -- per-batch chart ---------------------------------------------------------------
def test_log_axis_is_fitted_to_the_data_not_padded_to_a_power_of_ten():
    spec = charts.batch_chart(batch_frame({"train": [2.3, 0.5, 0.0031], "val": [2.0, 0.9]})).to_dict()
    scale = spec["layer"][0]["encoding"]["y"]["scale"]
    # Vega's nice log domain would run from 0.001 (or 1e-4) to 10: the data would fill a third of it
    assert scale == {"type": "log", "domain": [0.0031, 2.3], "nice": False}
    assert spec["layer"][0]["encoding"]["y"]["title"] == "loss (log)"
    assert spec["height"] == charts.BATCH_HEIGHT


def test_log_domain_takes_in_the_gates_and_skips_what_a_log_axis_cannot_show():
    assert charts.log_domain([0.5, 0.02, math.inf, 0.0, -1.0]) == [0.02, 0.5]
    assert charts.log_domain([0.0, -1.0]) is None
    gates = pd.DataFrame([{"label": "g", "start": 0, "end": 2, "value": 0.001}])
    spec = charts.batch_chart(batch_frame({"train": [2.0, 0.5, 0.1]}), gates=gates).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["scale"]["domain"] == [0.001, 2.0]


@pytest.mark.parametrize("present", [["train", "val"], ["val"], ["train"]])
def test_train_and_val_keep_their_colours_whatever_is_drawn(present):
    frame = batch_frame({s: [1.0, 0.5] for s in present})
    colour = charts.batch_chart(frame).to_dict()["layer"][0]["encoding"]["color"]["scale"]
    # a colour scale built from the data would give "val" the first colour when train is missing
    assert colour == {"domain": ["train", "val"], "range": ["#1f77b4", "#ff7f0e"]}


def test_smoothing_draws_the_raw_curve_faint_behind():
    frame = batch_frame({"train": [1.0, 0.2, 0.9, 0.1]})
    assert layer_marks(charts.batch_chart(frame).to_dict()) == ["line"]
    frame["smooth"] = ema(frame["value"], 0.6)
    spec = charts.batch_chart(frame).to_dict()
    assert layer_marks(spec) == ["line", "line"]
    assert spec["layer"][0]["mark"]["opacity"] == 0.25 and "opacity" not in spec["layer"][1]["mark"]


def test_a_linear_axis_when_asked_is_zoomed_not_from_zero():
    y = charts.batch_chart(batch_frame({"train": [1.0, 0.9]}), log_y=False).to_dict()["layer"][0]["encoding"][
        "y"
    ]
    assert y["scale"]["zero"] is False and "type" not in y["scale"]
    assert y["title"] == "loss"


# -- epoch charts --------------------------------------------------------------------
def test_epoch_chart_zooms_to_the_data_and_names_references_in_the_legend():
    frame = pd.DataFrame({keys.EPOCH: [1, 2, 3], "value": [0.90, 0.93, 0.95]})
    rules = pd.DataFrame(
        [
            {"role": "baseline", "label": "baseline 0.949", "value": 0.949},
            {"role": "project best", "label": "project best 0.95 (run ab)", "value": 0.95},
        ]
    )
    spec = charts.epoch_chart(frame, title="val/accuracy", rules=rules, height=300).to_dict()
    line, rule = spec["layer"]
    assert line["encoding"]["x"]["field"] == "epoch" and line["encoding"]["x"]["axis"]["format"] == "d"
    assert line["encoding"]["y"]["scale"]["zero"] is False
    # two references 0.001 apart: as text on the chart they would print over each other
    assert layer_marks(spec) == ["line", "rule"]
    colour = rule["encoding"]["color"]
    assert colour["scale"] == {
        "domain": ["baseline 0.949", "project best 0.95 (run ab)"],
        "range": [charts.REF_COLOURS["baseline"], charts.REF_COLOURS["project best"]],
    }
    assert spec["title"]["text"] == "val/accuracy" and spec["height"] == 300
    # only the width is fitted: Streamlit's default would squeeze the plot to make room for the legend
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}


def test_per_class_chart_is_one_chart_with_a_line_per_class_in_natural_order():
    frame = pd.DataFrame(
        [{keys.EPOCH: e, "class": c, "value": 0.9} for e in (1, 2) for c in ["10", "2", "1"]]
    )
    spec = charts.per_class_chart(frame, title="val/f1 per class").to_dict()
    assert spec["encoding"]["color"]["field"] == "class"
    assert spec["encoding"]["color"]["sort"] == ["1", "2", "10"]


# -- heatmaps and confusion matrices ----------------------------------------------------
def test_heatmap_has_a_readable_header():
    cells = pd.DataFrame([{"step": 0, "step_end": 10, "low": -1.0, "high": 1.0, "count": 5}])
    spec = charts.heatmap_chart(cells, title="encoder.conv1.weight", subtitle="step 0: std 0.5").to_dict()
    assert spec["title"]["text"] == "encoder.conv1.weight"
    assert spec["title"]["subtitle"] == "step 0: std 0.5"
    assert spec["title"]["fontSize"] >= 14


def test_confusion_matrix_is_fully_labelled():
    labels = ["cat", "dog", "bird"]
    spec = charts.confusion_chart(labels, [[50, 2, 0], [3, 40, 1], [0, 0, 9]]).to_dict()
    cells, text = spec["layer"]
    assert cells["encoding"]["x"]["title"] == "predicted" and cells["encoding"]["y"]["title"] == "true"
    assert cells["encoding"]["x"]["sort"] == labels and cells["encoding"]["y"]["sort"] == labels
    assert text["encoding"]["text"]["field"] == "count"
    frame = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    ink = frame.set_index(["true", "predicted"])["ink"]
    # dark cells get white numbers, light cells dark ones
    assert ink[("cat", "cat")] == "white" and ink[("cat", "dog")] != "white"
    small = charts.confusion_chart(["a", "b"], [[1, 0], [0, 1]]).to_dict()
    large = charts.confusion_chart([str(i) for i in range(10)], np.eye(10).tolist()).to_dict()
    assert small["width"] < large["width"]  # sized by the class count


# -- curve shaping -----------------------------------------------------------------------
def test_ema_is_debiased_and_zero_weight_leaves_values_alone():
    v = np.array([1.0, 0.0, 0.0])
    assert list(ema(v, 0.0)) == [1.0, 0.0, 0.0]
    out = ema(v, 0.5)
    assert out[0] == pytest.approx(1.0)  # not 0.5: the start is not pulled towards zero
    assert out[1] == pytest.approx(0.5 * 0.5 / 0.75)
    assert math.isnan(ema(np.array([1.0, math.nan, 1.0]), 0.5)[1])


def test_steps_become_epochs_from_the_epoch_curve():
    # the trainer logs epoch 0 at step 0 and epoch e at step e * 50
    knots = epoch_knots(pd.DataFrame({"step": [0, 50, 100], "value": [0, 1, 2]}))
    assert list(step_to_epoch([0, 25, 50, 100, 125], knots)) == [0, 0.5, 1, 2, 2.5]  # past the end: same pace
    # without epoch 0 (epoch e ends at step e * 100 - 1), epoch 0 ends before step 0
    knots = epoch_knots(pd.DataFrame({"step": [99, 199], "value": [1, 2]}))
    assert step_to_epoch([99, 149], knots) == pytest.approx([1.0, 1.5])
    assert epoch_knots(pd.DataFrame({"step": [0], "value": [0]})) is None  # no epoch has ended


def test_overfit_phases_follow_the_logged_steps_and_params():
    params = {"one_threshold": "0.01", "few_threshold": "0.02", "few_samples": "8"}
    done = {keys.OVERFIT_ONE_STEPS: 120.0, keys.OVERFIT_FEW_STEPS: 280.0}
    assert overfit_phases(done, params, 399) == [
        Phase("1 sample", 0, 119, 0.01),
        Phase("8 samples", 120, 399, 0.02),
    ]
    # still in the first phase: no boundary yet; no params: no gate drawn
    assert overfit_phases({}, {}, 50) == [Phase("1 sample", 0, 50, None)]
    spans, gates = phase_frames(overfit_phases(done, params, 399), lambda s: s / 10)
    assert list(spans["start"]) == [0, 12] and list(gates["value"]) == [0.01, 0.02]


def test_most_confused_pairs_come_first_with_their_share_of_the_true_class():
    from board.idea_artifacts import top_confusions

    worst = top_confusions(["a", "b", "c"], [[10, 2, 0], [5, 5, 0], [0, 0, 3]])
    assert worst.to_dict("records") == [
        {"true": "b", "predicted": "a", "count": 5, "of true": "50.0%"},
        {"true": "a", "predicted": "b", "count": 2, "of true": "16.7%"},
    ]  # the diagonal (right answers) and empty cells are not confusions
