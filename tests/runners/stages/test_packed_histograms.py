"""Histogram snapshots of packed seeds: each seed's in its seed run, as that seed alone stores them.

The setup of tests/runners/stages/test_packed.py (a packed run and each seed's run alone, on one
task object), with snapshots on at an exact cadence: every seed run's `histograms/step_*.json`
must hold the same weights, gradients and activations (dropout masks included) as the run of
that seed alone, on the vmapped path and on the loop fallback; the stage run holds seed 0's.
"""

from __future__ import annotations

import pytest

from runners.stages.config import GeneralizeConfig, OverfitConfig, ScaleConfig
from runners.stages.generalize import run_generalize
from runners.stages.overfit import run_overfit
from runners.stages.scale import run_scale
from tests.runners.stages.test_packed import _alone_and_packed, small_digits
from tracker import artifacts
from tracker.runs import stage_run
from tracker.seed_runs import find_seed_runs
from tracker.store import Target

TOL = dict(rel=1e-4, abs=1e-5)  # float32: a vmapped matmul against a plain one, a few Adam steps
STATS = ("mean", "std", "min", "max", "frac_zero")


def _same_snapshots(mine: list[dict], theirs: list[dict], label: str) -> None:
    assert [h["step"] for h in mine] == [h["step"] for h in theirs], label
    for a, b in zip(mine, theirs, strict=True):
        # A seed binned from another seed's slice, or with a batch of the other seed's
        # activations, has other weights from step 0 on; a missing kind drops names here.
        assert list(a["tensors"]) == list(b["tensors"]), label
        assert a["relu_layers"] == b["relu_layers"]
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], **TOL), f"{label} step {a['step']}"
        for name, t in a["tensors"].items():
            u = b["tensors"][name]
            where = f"{label} step {a['step']} {name}"
            assert [t[s] for s in STATS] == pytest.approx([u[s] for s in STATS], **TOL), where
            assert t["edges"] == pytest.approx(u["edges"], **TOL), where
            # float noise may move a value lying on a bin edge into the next bin, no more
            assert sum(abs(x - y) for x, y in zip(t["counts"], u["counts"], strict=True)) <= 2, where


@pytest.mark.parametrize(
    "cfg, run_fn, stage",
    [
        (GeneralizeConfig(epochs=1, hist_every=2, hist_budget=0, n_samples=0, seed=5, seeds=2, check_every=3),
         run_generalize, "generalize"),
        # the loop fallback (batchnorm), with dropout: activations hold each seed's own masks
        (ScaleConfig(epochs=1, hist_every=2, hist_budget=0, n_samples=0, seed=1, seeds=2, width=32, depth=1,
                     dropout=0.2), run_scale, "scale"),
    ],
    ids=["vmap", "loop"],
)  # fmt: skip
def test_each_seed_run_holds_the_snapshots_of_that_seed_trained_alone(store, history, cfg, run_fn, stage):
    packed, alone = _alone_and_packed(store, history, small_digits(), cfg, run_fn, stage)
    seeds = {s: r.info.run_id for s, r in find_seed_runs(store, packed).items()}
    assert sorted(seeds) == sorted(alone)
    steps = [0, 2]  # 256 images, batch 64: 4 steps, a snapshot every 2
    for seed, run_id in seeds.items():
        mine = artifacts.load_histograms(store, run_id)
        assert [h["step"] for h in mine] == steps
        assert {n.split("/")[0] for n in mine[0]["tensors"]} == {"weights", "grads", "acts"}
        _same_snapshots(mine, artifacts.load_histograms(store, alone[seed]), f"seed {seed}")
        norms = [m.value for m in history(run_id, "train/grad_norm")]
        assert norms == pytest.approx([h["grad_norm"] for h in mine])
    # The run's own files are its first seed's: the same model a one-seed run of `seed` trains.
    first = artifacts.load_histograms(store, seeds[cfg.seed])
    assert artifacts.load_histograms(store, packed) == first
    # Its train/grad_norm is the seeds' mean, as its other per-step keys are.
    per_seed = [[m.value for m in history(r, "train/grad_norm")] for r in seeds.values()]
    mean = [sum(v) / len(v) for v in zip(*per_seed, strict=True)]
    assert [m.value for m in history(packed, "train/grad_norm")] == pytest.approx(mean)
    assert per_seed[0] != pytest.approx(per_seed[1])  # the seeds are different models


def test_hist_every_zero_takes_no_snapshots_of_packed_seeds(store, artifacts):
    cfg = OverfitConfig(seeds=2, one_max_steps=5, few_max_steps=5, hist_every=0, check_every=5)
    with stage_run(Target(store), stage="overfit", task="digits") as run:
        run_overfit(cfg, run, progress=False)
    seeds = find_seed_runs(store, run.run_id)
    assert len(seeds) == 2
    for run_id in [run.run_id, *(r.info.run_id for r in seeds.values())]:
        assert artifacts(run_id, "histograms") == []
        assert store.client.get_metric_history(run_id, "train/grad_norm") == []


def test_packed_overfit_takes_snapshots_at_the_cadence_and_flags_name_the_seed(store, artifacts, capsys):
    # lr 10: weights far out of range within a few steps, in every seed
    cfg = OverfitConfig(seeds=2, seed=3, lr=10.0, one_max_steps=4, few_max_steps=1, hist_every=3,
                        hist_budget=0, check_every=5)  # fmt: skip
    with stage_run(Target(store), stage="overfit", task="digits") as run:
        run_overfit(cfg, run, progress=False)
    seeds = find_seed_runs(store, run.run_id)
    want = [f"histograms/step_{s:08d}.json" for s in (0, 3)]  # of steps 0..4
    for run_id in [run.run_id, *(r.info.run_id for r in seeds.values())]:
        assert artifacts(run_id, "histograms") == want
    tags = store.client.get_run(run.run_id).data.tags
    flagged = [k for k in tags if k.startswith("idealoop.flag.")]
    assert flagged and all(tags[k].startswith(("seed 3: ", "seed 4: ")) for k in flagged)
    assert "WARNING" in capsys.readouterr().err  # said on the console, as a plain run says it
