"""Histogram summaries and snapshots, their tensor names, and the range checks run on them live
and on the board."""

from __future__ import annotations

import math

import torch
from torch import nn

from runners.tasks.base import ModelSpec, load_task
from runners.training.histograms import (
    MAX_NAME,
    ActivationTap,
    SnapshotSchedule,
    bounded,
    grad_norm,
    module_names,
    parameter_names,
    snapshot,
    summarize,
    summarize_all,
)
from runners.training.trainer import Trainer
from tracker import artifacts, range_checks
from tracker.range_checks import Limits
from tracker.runs import stage_run
from tracker.store import Target


def test_summary_counts_every_finite_value_and_reports_the_rest():
    t = torch.tensor([0.0, 0.0, 1.0, 2.0, float("nan"), float("inf"), 3.0, 4.0])
    h = summarize(t, bins=4)
    assert sum(h["counts"]) == 6 and len(h["edges"]) == 5
    assert h["frac_nonfinite"] == 2 / 8 and h["frac_zero"] == 2 / 8
    assert (h["min"], h["max"]) == (0.0, 4.0)


def test_constant_and_empty_tensors_do_not_crash():
    assert sum(summarize(torch.ones(10))["counts"]) == 10
    assert math.isnan(summarize(torch.tensor([float("nan")]))["mean"])


def test_snapshot_stores_what_the_range_checks_need():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model(torch.ones(5, 4)).square().sum().backward()
    snap = snapshot(model, {}, step=3)
    assert snap["step"] == 3 and snap["relu_layers"] == ["1_relu"]
    # The exact norm training judged, not one rebuilt from rounded summaries.
    assert snap["grad_norm"] == grad_norm(model) > 0
    assert {"weights/0_linear.weight", "grads/2_linear.bias"} <= set(snap["tensors"])


class _Block(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, 2, 3, padding=1)
        self.act = nn.ReLU()
        self.scale = nn.Parameter(torch.ones(1))  # a parameter of a module that has children

    def forward(self, x):
        return self.act(self.conv1(x)) * self.scale


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = _Block(1)
        self.blocks = nn.Sequential(_Block(2), nn.GELU())
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(self.blocks(self.encoder(x)).flatten(1))


def test_tensors_are_named_by_module_path_with_the_type_of_an_index():
    # Index-only names (`acts/3`) say nothing in a heatmap title; attribute names are kept as
    # they are, a container index gets its module's type.
    model = _Net()
    tap = ActivationTap(model)
    tap.armed = True
    model(torch.ones(2, 1, 4, 4)).sum().backward()
    tap.armed = False
    snap = snapshot(model, tap.outputs, step=0)
    names = set(snap["tensors"])
    assert {"weights/encoder.conv1.weight", "grads/fc.weight", "weights/encoder.scale"} <= names
    assert {"weights/blocks.0_block.scale", "weights/blocks.0.conv1.bias"} <= names
    assert {"acts/encoder.conv1", "acts/encoder.act", "acts/blocks.1_gelu", "acts/fc"} <= names
    assert snap["relu_layers"] == ["encoder.act", "blocks.0.act", "blocks.1_gelu"]
    # Every relu layer is an activation stored under the same name (dead_activations matches them).
    assert {f"acts/{n}" for n in snap["relu_layers"]} <= names


def test_a_data_parallel_wrapper_adds_nothing_to_the_names():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    expected = {"0.weight": "0_linear.weight", "0.bias": "0_linear.bias"}
    assert parameter_names(nn.DataParallel(model)) == parameter_names(model) == expected


def test_long_names_are_cut_to_a_bound_and_stay_distinct():
    # Two paths that share a long head and tail must not collapse into one heatmap.
    deep = nn.Sequential()
    inner = deep
    for i in range(12):
        nxt = nn.Sequential()
        inner.add_module(f"stage_number_{i}", nxt)
        inner = nxt
    inner.add_module("first_projection", nn.Linear(2, 2))
    inner.add_module("second_projection", nn.Linear(2, 2))
    names = list(parameter_names(deep).values())
    assert len(names) == len(set(names)) == 4
    assert all(len(n) <= MAX_NAME for n in names)
    assert names[0].startswith("stage_number_0.") and names[0].endswith("first_projection.weight")
    assert all(len(n) <= MAX_NAME for n in module_names(deep).values())
    # An exact clash after cutting (or of two identical names) gets a counter.
    assert bounded(["x" * 100, "x" * 100, "a", "a"]) == [
        bounded(["x" * 100])[0],
        bounded(["x" * 100])[0][: MAX_NAME - 2] + "~2",
        "a",
        "a~2",
    ]


def test_the_board_reads_back_the_flags_training_raised(store):
    """One run, two verdicts that must match: the trainer's live tags and the board's
    reading of the stored histogram files (same steps, same flags, same details)."""
    task = load_task("digits")
    model = task.build_model(ModelSpec(width=16, depth=1))  # Flatten, Linear, ReLU, Linear
    with torch.no_grad():
        model[1].bias.fill_(-1e4)  # pre-activations near -1e4 (out of range), the ReLU dead
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loud_loss(out, y):  # gradients ~1e6 times too large: exploding
        return 1e6 * task.loss(out, y)

    never_slow = Limits(slow_batch_s=1e9)  # timing is not what this test is about
    with stage_run(Target(store), stage="generalize") as run:
        trainer = Trainer(task, model, opt, run.writer, device=torch.device("cpu"),
                          generator=torch.Generator().manual_seed(0), hist_every=2, hist_budget=0,
                          limits=never_slow, on_flag=run.flag, train_loss=loud_loss)  # fmt: skip
        for _ in range(4):
            trainer.step(task.train.x[:16], task.train.y[:16])
        trainer.sync()
    tags = store.client.get_run(run.run_id).data.tags
    live = {name: tags[f"idealoop.flag.{name}"] for name in tags["idealoop.flags"].split(",")}
    hists = artifacts.load_histograms(store, run.run_id)
    board = {name: flag.detail for name, flag in range_checks.first_flags(hists).items()}
    assert set(live) == {"exploding_grad", "dead_activations", "out_of_range"}
    assert board == live
    # Per tensor, the board's heatmap captions point at the same layers from the first snapshot.
    assert artifacts.flags_over_time(hists, "acts/2_relu") == {"dead_activations": 0}
    assert artifacts.flags_over_time(hists, "acts/1_linear") == {"out_of_range": 0}
    assert artifacts.flags_over_time(hists, "grads/3_linear.bias") == {"exploding_grad": 0}
    assert "2_relu" in live["dead_activations"]  # the tag names the layer as the heatmap does
    # The flags come from the artifacts and the in-process snapshot alone: no summary metrics.
    logged = store.client.get_run(run.run_id).data.metrics
    assert not [k for k in logged if k.startswith("hist/")] and "train/grad_norm" in logged


def test_batched_summaries_match_one_tensor_at_a_time():
    gen = torch.Generator().manual_seed(0)
    tensors = {"a": torch.randn(300, generator=gen), "b": torch.relu(torch.randn(40, 7, generator=gen)),
               "c": torch.tensor([3.0]), "empty": torch.zeros(0), "ints": torch.arange(5)}  # fmt: skip
    together = summarize_all(tensors, bins=8)
    assert list(together) == list(tensors)
    for name, t in tensors.items():
        alone = summarize(t, bins=8)
        assert together[name]["counts"] == alone["counts"]
        assert together[name]["frac_zero"] == alone["frac_zero"]
    b = tensors["b"]
    assert together["b"]["frac_zero"] == (b == 0).sum().item() / b.numel() > 0.3
    assert math.isclose(together["a"]["std"], tensors["a"].std().item(), rel_tol=1e-5)
    assert together["c"]["std"] == 0.0 and sum(together["c"]["counts"]) == 1
    assert sum(together["ints"]["counts"]) == 5 and together["ints"]["max"] == 4.0


def test_schedule_keeps_the_exact_cadence_without_a_budget():
    s = SnapshotSchedule(every=10, budget=0)
    taken = []
    for step in range(35):
        if s.due(step, now=step * 0.001):
            s.taken(step, seconds=1.0)  # far over any budget: ignored
            taken.append(step)
    assert taken == [0, 10, 20, 30] and not s.stretched


def test_schedule_spaces_snapshots_to_stay_within_the_time_budget():
    # 1 ms steps, 10 ms snapshots, 2% budget. The first 5 follow the cadence; then the
    # next waits until 50 ms / 0.02 = 2.5 s of training have passed, and so on.
    s = SnapshotSchedule(every=10, budget=0.02, exempt=5)
    taken = []
    for step in range(10_000):
        if s.due(step, now=step * 0.001):
            s.taken(step, seconds=0.010)
            taken.append(step)
    assert taken[:5] == [0, 10, 20, 30, 40] and s.stretched
    assert [round(t, -2) for t in taken[5:8]] == [2500, 3000, 3500]  # (float rounding: 3001)
    assert s.spent_s <= 0.02 * 10.0 + 0.010  # the budget holds over the run (plus one snapshot)
    cheap = SnapshotSchedule(every=10, budget=0.02)  # 0.1 ms snapshots fit: the cadence holds
    assert [st for st in range(40) if cheap.due(st, st * 0.001) and not cheap.taken(st, 0.0001)] == [
        0,
        10,
        20,
        30,
    ]
