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
from tracker.runs import NonFiniteLoss, stage_run
from tracker.store import Target


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
    assert "val/f1/7" in got.data.metrics
    gap = got.data.metrics["generalize/gap_to_baseline"]
    assert gap == pytest.approx(result.best_value("accuracy") - base)
    hists = artifacts(run.run_id, "histograms")
    assert len(hists) == math.ceil(batches / 10)
    with open(store.client.download_artifacts(run.run_id, hists[1])) as f:
        snap = json.load(f)
    h = snap["tensors"]["weights/1.weight"]
    assert len(h["edges"]) == len(h["counts"]) + 1 and sum(h["counts"]) == 64 * 128
    assert {"grads/1.weight", "acts/2"} <= set(snap["tensors"])
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
