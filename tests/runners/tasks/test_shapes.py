"""The `shapes` segmentation task: seeded data, masks that follow their images, mIoU, the ladder on it."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from runners.stages.baseline import run_baseline
from runners.stages.config import BaselineConfig, GeneralizeConfig, OverfitConfig, ScaleConfig
from runners.stages.generalize import run_generalize
from runners.stages.overfit import run_overfit
from runners.stages.scale import run_scale
from runners.tasks import kinds, samples, shapes
from runners.tasks.base import ModelSpec, load_task
from tracker.artifacts import load_per_class
from tracker.runs import stage_run
from tracker.store import Target


@pytest.fixture(scope="module")
def task():
    return load_task("shapes", seed=0)


def tiny(task, n_train=96, n_val=32):
    return replace(task, train=task.train.take(slice(0, n_train)), val=task.val.take(slice(0, n_val)))


def test_data_is_fixed_by_the_seed(task):
    again, other = load_task("shapes", seed=0), load_task("shapes", seed=1)
    assert torch.equal(task.train.x, again.train.x) and torch.equal(task.val.y, again.val.y)
    assert not torch.equal(task.train.y, other.train.y)
    assert (len(task.train), len(task.val), len(task.test)) == (1000, 200, 200)
    assert task.train.x.shape[1:] == (1, 32, 32) and task.train.y.shape[1:] == (32, 32)
    assert 0 <= float(task.train.x.min()) and float(task.train.x.max()) <= 1
    assert set(torch.unique(task.val.y).tolist()) == {0, 1, 2, 3}
    assert task.target_metric == "miou" and task.higher_is_better


def test_model_is_small_and_plain_at_the_defaults(task):
    model = task.build_model(ModelSpec())
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert not any(isinstance(m, (torch.nn.Dropout2d, torch.nn.BatchNorm2d)) for m in model.modules())
    assert model(task.val.x[:2]).shape == (2, 4, 32, 32)
    big = task.build_model(ModelSpec(width=256, depth=3, dropout=0.1, batchnorm=True))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in big.modules())
    assert any(isinstance(m, torch.nn.Dropout2d) for m in big.modules())


def test_augment_flips_masks_with_their_images(task):
    y = task.train.y[:64]
    x = y.float().unsqueeze(1) / 3  # an image that *is* its mask: any mismatch shows
    ax, ay = shapes.augment(x, y, torch.Generator().manual_seed(0))
    assert torch.equal(ax, ay.float().unsqueeze(1) / 3)
    # Some were flipped (a broken augment that returns its inputs would pass the line above).
    assert not torch.equal(ay, y)
    flipped = [i for i in range(64) if not torch.equal(ay[i], y[i])]
    i = flipped[0]
    assert any(torch.equal(ay[i], t) for t in (y[i].flip(-1), y[i].flip(-2), y[i].flip(-1).flip(-2)))


def test_miou_on_a_hand_computed_case():
    target = torch.tensor([[[0, 0], [1, 1]]])
    pred = torch.tensor([[[0, 1], [1, 1]]])
    logits = torch.nn.functional.one_hot(pred, 3).permute(0, 3, 1, 2).float()
    m = kinds.segmentation_metrics(logits, target, ["bg", "a", "b"])
    # class 0: inter 1, union 2 -> 0.5; class 1: inter 2, union 3 -> 2/3; class 2 absent: skipped
    assert m["iou/bg"] == pytest.approx(0.5) and m["iou/a"] == pytest.approx(2 / 3)
    assert "iou/b" not in m
    assert m["miou"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["pixel_accuracy"] == pytest.approx(0.75)


def test_samples_show_input_target_prediction_in_the_fixed_palette(task):
    y = task.val.y[:2]
    logits = torch.nn.functional.one_hot(torch.zeros_like(y), 4).permute(0, 3, 1, 2).float()
    img = kinds.samples_fn(task)(task.val.x[:2], logits, y)
    a = np.asarray(img)
    cell, head = samples.CELL + 4, samples.LABEL_H
    # Column 2 (target) shows class 1 in PALETTE[1] where the mask has a circle; column 3
    # (predicted: all background) is PALETTE[0] everywhere.
    r, c = map(int, torch.nonzero(y[0] == int(y[0].max()))[0])
    scale = samples.CELL // 32
    px = a[head + 2 + r * scale, cell + 2 + c * scale]
    assert tuple(px) == tuple(samples.PALETTE[int(y[0].max())])
    assert tuple(a[head + 2 + r * scale, 2 * cell + 2 + c * scale]) == tuple(samples.PALETTE[0])
    assert img.height > head + 2 * cell  # the legend is below the grid


def test_overfit_one_sample_passes(store, task):
    cfg = OverfitConfig(task="shapes", width=64, few_samples=2, few_max_steps=20)
    with stage_run(Target(store), stage="overfit", task="shapes") as run:
        one, _ = run_overfit(cfg, run, task=task, progress=False)
    assert one.passed, one.summary()
    assert store.client.get_run(run.run_id).data.tags["idealoop.gate.overfit_one"] == "passed"


def test_baseline_and_a_short_generalize_run(store, make_idea, task):
    idea = make_idea()
    small = tiny(task)
    with stage_run(Target(store, idea), stage="baseline", task="shapes") as run:
        base = run_baseline(BaselineConfig(task="shapes"), run, task=small)
    assert 0 < base["miou"] < 1 and "iou/triangle" in base
    cfg = GeneralizeConfig(task="shapes", epochs=2, batch_size=32, hist_every=0, n_samples=4, lr=3e-3)
    with stage_run(Target(store, idea), stage="generalize", task="shapes") as run:
        result = run_generalize(cfg, run, task=small, progress=False)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.generalize"] == "passed"
    assert got.data.tags["idealoop.target_metric"] == "miou"
    assert {"val/miou", "val/pixel_accuracy", "best/miou"} <= set(got.data.metrics)
    assert not [k for k in got.data.metrics if k.startswith("val/iou/")]  # per class: the artifact's rows
    rows = load_per_class(store, run.run_id)
    assert {(r["metric"], r["class"]) for r in rows if r["epoch"] == 2} >= {("val/iou", "background")}
    gap = got.data.metrics["generalize/gap_to_baseline"]
    assert gap == pytest.approx(result.best_value("miou") - base["miou"])
    png = store.client.download_artifacts(run.run_id, "samples/epoch_0002.png")
    assert Image.open(io.BytesIO(open(png, "rb").read())).size[0] == 3 * (samples.CELL + 4)


def test_scale_never_augments_what_it_evaluates(store, task):
    small = tiny(task, n_train=32, n_val=16)
    val_rows = {bytes(r.numpy()) for r in small.val.x}
    seen = {"train": 0, "eval": []}

    class Spy(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if self.training:
                seen["train"] += 1
            else:
                seen["eval"] += [bytes(r.numpy()) for r in x.cpu()]
            return self.inner(x)

    marked = replace(small, build_model=lambda spec: Spy(shapes.build_model(spec)))
    cfg = ScaleConfig(
        task="shapes",
        epochs=1,
        batch_size=16,
        width=64,
        depth=1,
        hist_every=0,
        n_samples=2,
        class_weights=True,
    )  # per-pixel class weights work for segmentation too
    with stage_run(Target(store), stage="scale", task="shapes") as run:
        run_scale(cfg, run, task=marked, progress=False)
    assert seen["train"] and seen["eval"]
    # Every image scored in eval mode (full passes and per-iteration probes) is a val image as
    # stored: a flipped one would not be among them.
    assert set(seen["eval"]) <= val_rows
