"""The Idea page's Curves tab in AppTest, on a research-sized idea (tests/board/seed_research.py).

What the charts are given is read back from the page (each chart's spec and its data
sets), so these pin what a researcher sees: epoch metrics on an epoch axis, values
logged once as numbers, every class of a per-class metric in one chart, an overfit
run's two phases split with their loss gates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st

from board import data
from tests.board.seed_research import DIGITS, seed_research
from tracker.artifacts import PER_CLASS_FILE, PerClassFile
from tracker.queries import get_run_row


@dataclass
class Chart:
    spec: dict
    data: dict[str, pd.DataFrame]

    @property
    def title(self) -> str:
        t = self.spec.get("title", "")
        return t.get("text", "") if isinstance(t, dict) else t

    def layers(self, mark: str) -> list[tuple[dict, pd.DataFrame]]:
        """(layer spec, its data) of every layer drawing `mark`."""
        out = []
        for layer in self.spec.get("layer", [self.spec]):
            m = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
            if m == mark:
                out.append((layer, self.data[layer.get("data", self.spec.get("data", {}))["name"]]))
        return out


def charts(at) -> list[Chart]:
    out = []
    for c in at.get("vega_lite_chart"):
        frames = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in c.proto.datasets}
        out.append(Chart(json.loads(c.proto.spec), frames))
    return out


@pytest.fixture
def research(store):
    return seed_research(store)


def open_run(page, research, role: str, **query: str):
    at = page("idea", id=research.ideas["Label smoothing"], run=research.runs[role], **query)
    assert not at.exception
    return at


def test_epoch_metrics_are_drawn_against_epochs_target_and_val_loss_first(research, page):
    at = open_run(page, research, "generalize")
    drawn = charts(at)
    titles = [c.title for c in drawn]
    # per batch (untitled), the target metric and val loss large, the classes, then the rest small
    assert titles[:4] == ["", "val/accuracy", "val/loss", "val/f1 per class"]
    assert set(titles[4:]) == {"val/f1_macro", "train/lr"}
    acc = drawn[1]
    (layer, line), *_ = acc.layers("line")
    # epochs 1..8 (logged at steps 50..400): a chart keyed by step would show 50..400
    assert list(line["epoch"]) == [1, 2, 3, 4, 5, 6, 7, 8]
    # the untrained epoch 0 (accuracy 0.1) is a number above the chart, so the y axis zooms
    # into the 0.90-0.95 band instead of running from 0.1 (or 0) to 1
    assert acc.spec["title"]["subtitle"] == "before training (epoch 0): 0.1"
    assert layer["encoding"]["y"]["scale"]["zero"] is False
    assert acc.spec["height"] > drawn[4].spec["height"]
    # references named in the legend, never as text over each other
    (_, rules), *_ = acc.layers("rule")
    assert list(rules["label"]) == ["baseline 0.913", "project best 0.9485 (this run)"]
    assert acc.layers("text") == []


def test_per_class_metrics_share_one_chart(research, page, store):
    at = open_run(page, research, "generalize")
    drawn = charts(at)
    per_class = [c for c in drawn if "per class" in c.title]
    assert len(per_class) == 1
    assert not [c for c in drawn if c.title.startswith("val/f1/")]  # no chart per class
    (_, rows), *_ = per_class[0].layers("line")
    assert sorted(rows["class"].unique(), key=int) == DIGITS
    # the one reader of per-class values: (epoch, metric, class, value), epochs from the epoch curve
    frame = data.per_class(store.project, store.uri, get_run_row(store, research.runs["generalize"]))
    assert list(frame.columns) == ["epoch", "metric", "class", "value"]
    assert len(frame) == 10 * 9 and set(frame["epoch"]) == set(range(9))
    lagging = frame[frame["epoch"] == 8].set_index("class")["value"]
    assert lagging.idxmin() == "8"


def test_values_logged_once_are_numbers_not_charts(research, page):
    at = open_run(page, research, "baseline")
    assert at.get("vega_lite_chart") == []  # a broken page draws one-point (empty) charts
    labels = [m.label for m in at.metric]
    assert labels == ["baseline/accuracy", "baseline/f1_macro", "baseline/fit_seconds"]
    # val/accuracy is the same number as baseline/accuracy: not shown twice
    assert [m.value for m in at.metric][:2] == ["0.913", "0.91"]


def test_overfit_phases_are_split_and_gates_drawn(research, page):
    at = open_run(page, research, "overfit")
    batch = charts(at)[0]
    rules = [frame for layer, frame in batch.layers("rule")]
    boundary = next(f for f in rules if "value" not in f)
    assert list(boundary["start"]) == [120]  # overfit_one/steps: the 8-sample phase starts at step 120
    labels = [f for layer, f in batch.layers("text") if "value" not in f][0]
    assert list(labels["label"]) == ["1 sample", "8 samples"]
    gates = next(f for f in rules if "value" in f)
    assert list(gates["value"]) == [0.01, 0.02]  # the run's one_threshold / few_threshold params
    assert list(gates["start"]) == [0, 120]
    # the log axis spans the data and the gates, not down to 1e-4
    raw_layer, raw = batch.layers("line")[0]
    scale = raw_layer["encoding"]["y"]["scale"]
    assert scale["type"] == "log" and scale["nice"] is False
    assert scale["domain"] == [raw[["value", "smooth"]].min().min(), raw[["value", "smooth"]].max().max()]
    # smoothing restarts with the second phase: its first smoothed point is its own raw point
    first_few = raw[(raw["series"] == "train") & (raw["step"] == 120)].iloc[0]
    assert first_few["smooth"] == pytest.approx(first_few["value"])
    deltas = [m.proto.delta for m in at.metric if m.label.endswith("final_loss")]
    assert deltas == ["passed: gate < 0.01", "passed: gate < 0.02"]


def test_per_batch_by_epoch_and_unsmoothed(research, page):
    at = open_run(page, research, "generalize")
    at.segmented_control(key="batch_x").set_value("epoch").run()
    at.slider(key="smooth").set_value(0.0).run()
    batch = charts(at)[0]
    lines = batch.layers("line")
    assert len(lines) == 1  # no smoothing: the raw curves only, drawn solid
    layer, frame = lines[0]
    assert layer["mark"]["opacity"] == 1.0
    # 8 epochs of 50 steps: step 399 is the end of epoch 8, not x = 399
    assert frame["x"].max() == pytest.approx(8.0, abs=0.05)
    assert layer["encoding"]["x"]["title"] == "epoch"
    colour = layer["encoding"]["color"]["scale"]
    assert colour == {"domain": ["train", "val"], "range": ["#1f77b4", "#ff7f0e"]}


def test_per_class_values_are_read_from_the_runs_file(store, make_idea):
    """A run made now keeps per-class values in metrics/per_class.jsonl, not as metric keys."""
    from tracker.artifacts import PER_CLASS_FILE, PerClassFile
    from tracker.keys import EPOCH, VAL_PREFIX

    client = store.client
    run = client.create_run(store.experiment_id, tags={"mlflow.parentRunId": make_idea()})
    per_class = PerClassFile()
    for epoch in (0, 1, 2):
        client.log_metric(run.info.run_id, EPOCH, epoch, step=epoch * 10)
        per_class.add(epoch, {"f1/cat": 0.5 + epoch / 10, "f1/dog": 0.4 + epoch / 10})
    client.log_text(run.info.run_id, per_class.payload().decode(), PER_CLASS_FILE)
    client.set_terminated(run.info.run_id)
    row = get_run_row(store, run.info.run_id)
    assert not [k for k in row.metrics if k.startswith(VAL_PREFIX)]  # no per-class metric keys
    frame = data.per_class(store.project, store.uri, row)
    assert list(frame.columns) == ["epoch", "metric", "class", "value"]
    assert set(frame["metric"]) == {"f1"} and sorted(frame["class"].unique()) == ["cat", "dog"]
    assert frame.set_index(["epoch", "class"])["value"][(2, "dog")] == pytest.approx(0.6)


def test_a_tasks_slices_get_a_small_chart_per_metric_and_no_share_curve(research, page, store):
    run = research.runs["generalize"]
    classes = data.per_class(store.project, store.uri, get_run_row(store, run))  # the seed's old keys
    per_class = PerClassFile()
    for epoch in range(1, 9):  # the file fit() stores for a task with slices (Task.slices)
        values = {"slice/faint/accuracy": 0.8 + epoch / 100, "slice/faint/share": 0.3,
                  "slice/faint/loss": 1 / epoch, "slice/bold/accuracy": 0.9,
                  "slice/bold/share": 0.25}  # fmt: skip
        of_epoch = classes[classes["epoch"] == epoch]
        f1 = {f"f1/{c}": v for c, v in zip(of_epoch["class"], of_epoch["value"], strict=True)}
        per_class.add(epoch, {**f1, **values})
    store.client.log_text(run, per_class.payload().decode(), PER_CLASS_FILE)
    st.cache_data.clear()
    drawn = charts(open_run(page, research, "generalize"))
    titles = [c.title for c in drawn]
    assert titles.count("val/f1 per class") == 1  # the classes' chart holds no slice
    sliced = {c.title: c for c in drawn if c.title.endswith("per slice")}
    # a slice's share is the same every epoch: no chart for it
    assert sorted(sliced) == ["val/accuracy per slice", "val/loss per slice"]
    chart = sliced["val/accuracy per slice"]
    (layer, rows), *_ = chart.layers("line")
    assert sorted(rows["class"].unique()) == ["bold", "faint"] and len(rows) == 16
    assert layer["encoding"]["color"]["legend"]["title"] == "slice"
