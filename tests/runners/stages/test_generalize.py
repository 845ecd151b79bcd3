"""stage `generalize` on digits: the gate both ways, the telemetry contract, the baseline gap, NaN loss."""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace

import pytest
import torch
from PIL import Image

from runners.stages.baseline import run_baseline
from runners.stages.config import BaselineConfig, GeneralizeConfig
from runners.stages.generalize import run_generalize
from runners.tasks.base import Split, load_task
from tests.runners.stages.conftest import FAST
from tracker import artifacts as stored
from tracker.runs import NonFiniteLoss, stage_run
from tracker.store import Target

# What MLflow's own UI lists for a stage run: the headline metrics, nothing per class or per tensor.
HEADLINE = {
    "train/loss", "val/loss_batch", "time/data_s", "time/compute_s", "throughput/samples_per_s",
    "train/grad_norm", "epoch", "val/loss", "val/accuracy", "val/f1_macro", "train/lr", "best/accuracy",
    "generalize/val_loss_start", "generalize/val_loss_best", "generalize/gap_to_baseline",
}  # fmt: skip


def test_generalize_passes_logs_the_contract_and_reports_the_baseline_gap(
    store, make_idea, history, artifacts
):
    idea = make_idea()
    with stage_run(Target(store, idea), stage="baseline", task="digits") as run:
        base = run_baseline(BaselineConfig(), run)["accuracy"]
    task = load_task("digits")
    with stage_run(Target(store, idea), stage="generalize", task="digits") as run:
        result = run_generalize(GeneralizeConfig(**FAST), run, task=task, progress=False)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.generalize"] == "passed"
    assert got.data.tags["mlflow.parentRunId"] == idea
    batches = 2 * math.ceil(len(task.train) / 64)
    # One train/loss point per batch and one val/loss_batch per iteration, same steps.
    assert [m.step for m in history(run.run_id, "train/loss")] == list(range(batches))
    assert [m.step for m in history(run.run_id, "val/loss_batch")] == list(range(batches))
    # Full-pass val metrics: before training (epoch 0) and after each epoch.
    assert [m.value for m in history(run.run_id, "epoch")] == [0, 1, 2]
    assert len(history(run.run_id, "val/f1_macro")) == 3
    # The run's metric keys are the headline ones only (MLflow's UI makes each a column and a
    # chart); per-class F1s and per-tensor histogram summaries are artifacts.
    assert set(got.data.metrics) == HEADLINE
    # One row per class per full val pass (epoch 0 = before training), each value the pass's own.
    rows = stored.load_per_class(store, run.run_id)
    sliced = {
        (r["epoch"], r["metric"], r["class"]): r["value"] for r in rows if r["metric"].startswith("slice/")
    }
    rows = [r for r in rows if not r["metric"].startswith("slice/")]
    per_epoch = {e: {r["class"]: r["value"] for r in rows if r["epoch"] == e} for e in (0, 1, 2)}
    assert {r["metric"] for r in rows} == {"val/f1"} and len(rows) == 30
    # digits' slices (faint, bold ink), every val pass, as rows of the same file: 4 values each.
    ink = task.val.x.flatten(1).sum(1)
    assert len(sliced) == 3 * 2 * 4
    assert sliced[(2, "slice/share", "faint")] == pytest.approx(float((ink < 18).float().mean()))
    assert sliced[(2, "slice/accuracy", "bold")] == pytest.approx(result.history[-1]["slice/bold/accuracy"])
    assert all(sorted(per_epoch[e]) == [str(c) for c in range(10)] for e in per_epoch)
    last = result.history[-1]
    assert per_epoch[2] == {str(c): pytest.approx(last[f"f1/{c}"]) for c in range(10)}
    gap = got.data.metrics["generalize/gap_to_baseline"]
    assert gap == pytest.approx(result.best_value("accuracy") - base)
    hists = artifacts(run.run_id, "histograms")
    assert len(hists) == math.ceil(batches / 10)
    with open(store.client.download_artifacts(run.run_id, hists[1])) as f:
        snap = json.load(f)
    h = snap["tensors"]["weights/1_linear.weight"]
    assert len(h["edges"]) == len(h["counts"]) + 1 and sum(h["counts"]) == 64 * 128
    # Named by layer, not by bare index: Sequential(Flatten, Linear, ReLU, Linear, ReLU, Linear).
    assert {"grads/1_linear.weight", "acts/2_relu", "acts/0_flatten", "acts/5_linear"} <= set(snap["tensors"])
    assert snap["relu_layers"] == ["2_relu", "4_relu"]
    pngs = artifacts(run.run_id, "samples")
    assert "samples/epoch_0002.png" in pngs and "samples/confusion_epoch_0002.png" in pngs
    png = open(store.client.download_artifacts(run.run_id, "samples/epoch_0002.png"), "rb").read()
    assert Image.open(io.BytesIO(png)).size[0] > 100
    for key in ("time/data_s", "time/compute_s", "throughput/samples_per_s", "train/grad_norm"):
        assert key in got.data.metrics


def _contrary_task():
    """Val labels are the train rule shifted by one: learning train must make val worse."""
    task = load_task("digits")
    val = Split(task.val.x, (task.val.y + 1) % 10)
    return replace(task, val=val, test=val)


def test_generalize_gate_fails_when_val_loss_never_falls(store):
    with stage_run(Target(store), stage="generalize", task="digits") as run:
        run_generalize(GeneralizeConfig(**FAST), run, task=_contrary_task(), progress=False)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.generalize"] == "failed"
    assert got.info.status == "FINISHED"


def test_nan_loss_stops_the_run_with_reason(store):
    task = load_task("digits")
    calls = {"n": 0}

    def loss(out, y):
        calls["n"] += 1
        value = torch.nn.functional.cross_entropy(out, y)
        return value * float("nan") if calls["n"] > 30 else value

    with pytest.raises(NonFiniteLoss):
        with stage_run(Target(store), stage="generalize", task="digits") as run:
            run_generalize(GeneralizeConfig(**FAST), run, task=replace(task, loss=loss), progress=False)
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FAILED"
    assert got.data.tags["idealoop.end_reason"] == "nan_loss"
    assert "train loss became nan" in got.data.tags["idealoop.error"]
