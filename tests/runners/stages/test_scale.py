"""stage `scale` on digits: beats generalize; augmentation on train only; class weights; DDP ranks."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from runners.stages.config import GeneralizeConfig, ScaleConfig
from runners.stages.generalize import run_generalize
from runners.stages.scale import run_scale
from runners.tasks.base import load_task
from tests.runners.stages.conftest import FAST
from tracker.runs import stage_run
from tracker.store import Target


def test_scale_must_beat_the_ideas_best_generalize_run(store, make_idea, history):
    idea = make_idea()
    with stage_run(Target(store, idea), stage="scale", task="digits") as run:
        run_scale(ScaleConfig(**FAST), run, progress=False)
    # Nothing to beat yet: the gate cannot pass.
    assert store.client.get_run(run.run_id).data.tags["idealoop.gate.scale"] == "failed"
    with stage_run(Target(store, idea), stage="generalize", task="digits") as run:
        run_generalize(GeneralizeConfig(epochs=1, hist_every=0), run, progress=False)
    with stage_run(Target(store, idea), stage="scale", task="digits") as run:
        run_scale(ScaleConfig(epochs=4, hist_every=0, n_samples=4), run, progress=False)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.scale"] == "passed"
    assert got.data.metrics["scale/reference"] < max(m.value for m in history(run.run_id, "val/accuracy"))
    assert got.data.params["batchnorm"] == "True" and got.data.params["lr_decay"] == "cosine"
    lrs = [m.value for m in history(run.run_id, "train/lr")]
    assert lrs[0] > lrs[-1]  # cosine decay is on in scale


def test_augmentation_never_touches_val_or_test(store):
    seen = {"train": [], "eval": []}

    class Spy(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            seen["train" if self.training else "eval"].append(float(x.max()))
            return self.inner(x)

    task = load_task("digits")
    marked = replace(
        task,
        augment=lambda x, y, gen: (x + 1000.0, y),  # unmistakable: raw pixels are within [0, 1]
        build_model=lambda spec: Spy(task.build_model(spec)),
    )
    cfg = ScaleConfig(epochs=1, hist_every=0, batchnorm=False, dropout=0.0, n_samples=4)
    with stage_run(Target(store), stage="scale", task="digits") as run:
        run_scale(cfg, run, task=marked, progress=False)
    assert seen["train"] and min(seen["train"]) > 999  # every training batch was augmented
    # Full val passes and the per-iteration val probes ran in eval mode on clean data.
    assert seen["eval"] and max(seen["eval"]) <= 1.0


def test_class_weights_need_classification(store):
    task = replace(load_task("digits"), kind="image2image")
    with pytest.raises(ValueError, match="class_weights=true needs a classification or segmentation task"):
        with stage_run(Target(store), stage="scale") as run:
            run_scale(ScaleConfig(class_weights=True, **FAST), run, task=task, progress=False)


def test_scale_data_parallel_two_processes_gloo(store, history):
    # Two CPU processes (gloo): rank 0 logs one train/loss point per batch of its half.
    cfg = ScaleConfig(epochs=1, hist_every=0, n_samples=4, processes=2)
    with stage_run(Target(store), stage="scale", task="digits") as run:
        result = run_scale(cfg, run, progress=False)
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.data.tags["idealoop.processes"] == "2"
    shard = math.ceil(len(load_task("digits").train) / 2)
    assert len(history(run.run_id, "train/loss")) == math.ceil(shard / 64)
    assert result.history[0]["accuracy"] > 0.3  # it learned, with gradients averaged across ranks
