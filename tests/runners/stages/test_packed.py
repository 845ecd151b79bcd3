"""K seeds packed in one process: each seed trains exactly as it would alone, telemetry per seed.

The acceptance test of packing: a packed run's seed k and a run of that one seed (same
task object, so the same split) log the same per-batch losses and val metrics, to float
tolerance, on the vmapped path (generalize) and on the loop fallback (scale: batchnorm,
dropout, augmentation, cosine decay). The stage run holds the mean and the std.
"""

from __future__ import annotations

import io
import statistics
from dataclasses import replace

import pytest
import torch

from runners.stages.config import ConfigError, GeneralizeConfig, OverfitConfig, ScaleConfig, resolve
from runners.stages.generalize import run_generalize
from runners.stages.overfit import run_overfit
from runners.stages.scale import run_scale
from runners.tasks.base import load_task
from runners.training import checkpoint
from runners.training.packed_fit import PackedResult, mean_std
from tracker.runs import stage_run
from tracker.seed_runs import find_seed_runs
from tracker.store import Target

TOL = dict(rel=1e-4, abs=1e-5)  # float32, a vmapped matmul against a plain one, a few Adam steps


def small_digits():
    """digits with 256 training images: 4 batches an epoch, so each run here takes a second."""
    task = load_task("digits")
    return replace(task, train=task.train.take(slice(0, 256)))


def _values(history, run_id: str, key: str) -> list[float]:
    return [m.value for m in history(run_id, key)]


def _alone_and_packed(store, history, task, cfg, run_fn, stage: str) -> tuple[str, dict[int, str]]:
    """The packed run's id and {seed: id of the run that trained that seed alone}."""
    with stage_run(Target(store), stage=stage, task="digits") as run:
        run_fn(cfg, run, task=task, progress=False)
    alone = {}
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        one = type(cfg)(**{**cfg.__dict__, "seed": seed, "seeds": 1})
        with stage_run(Target(store), stage=stage, task="digits") as solo:
            run_fn(one, solo, task=task, progress=False)
        alone[seed] = solo.run_id
    return run.run_id, alone


def _assert_each_seed_as_alone(store, history, packed: str, alone: dict[int, str]) -> dict[int, str]:
    seeds = {s: r.info.run_id for s, r in find_seed_runs(store, packed).items()}
    assert sorted(seeds) == sorted(alone)
    for seed, run_id in seeds.items():
        for key in ("train/loss", "val/loss_batch", "val/loss", "val/accuracy"):
            mine, theirs = _values(history, run_id, key), _values(history, alone[seed], key)
            # A packed seed that shared data order, init or val batches with another would drift here.
            assert len(mine) == len(theirs) > 0, key
            assert mine == pytest.approx(theirs, **TOL), f"seed {seed} {key}"
    return seeds


def test_packed_vmap_seeds_equal_each_seed_trained_alone_and_the_run_holds_mean_and_std(store, history):
    task = small_digits()
    cfg = GeneralizeConfig(epochs=2, hist_every=0, n_samples=0, seed=5, seeds=2, check_every=3)
    packed, alone = _alone_and_packed(store, history, task, cfg, run_generalize, "generalize")
    seeds = _assert_each_seed_as_alone(store, history, packed, alone)
    got = store.client.get_run(packed)
    assert got.data.tags["idealoop.seed_packing"] == "vmap"
    children = [store.client.get_run(r) for r in seeds.values()]
    assert {c.data.tags["idealoop.kind"] for c in children} == {"seed"}
    assert all(c.data.tags["mlflow.parentRunId"] == packed and c.info.status == "FINISHED" for c in children)
    # The run's val metrics are the seeds' mean, with their std beside; best/<target> is the mean's.
    last = [c.data.metrics["val/accuracy"] for c in children]
    assert got.data.metrics["val/accuracy"] == pytest.approx(statistics.fmean(last))
    assert got.data.metrics["val_std/accuracy"] == pytest.approx(statistics.stdev(last))
    mean_curve = _values(history, packed, "val/accuracy")[1:]  # epoch 0 is before training
    assert got.data.metrics["best/accuracy"] == pytest.approx(max(mean_curve))
    assert got.data.metrics["best_std/accuracy"] > 0
    # Per batch, the run's train/loss is the seeds' mean at each step.
    per_seed = [_values(history, r, "train/loss") for r in seeds.values()]
    assert _values(history, packed, "train/loss") == pytest.approx(
        [statistics.fmean(v) for v in zip(*per_seed, strict=True)]
    )
    # Seed runs are no runs of an idea's: they carry no stage tag.
    assert all("idealoop.stage" not in c.data.tags for c in children)


def test_loop_fallback_for_batchnorm_trains_each_seed_as_alone(store, history, capsys):
    task = small_digits()
    cfg = ScaleConfig(
        epochs=1, hist_every=0, n_samples=0, seed=1, seeds=2, width=32, depth=1, dropout=0.2, augment=True
    )
    packed, alone = _alone_and_packed(store, history, task, cfg, run_scale, "scale")
    _assert_each_seed_as_alone(store, history, packed, alone)
    tag = store.client.get_run(packed).data.tags["idealoop.seed_packing"]
    assert tag.startswith("loop: ") and "BatchNorm1d" in tag
    assert "looped, not vmapped" in capsys.readouterr().err  # said once, on the console


def test_packed_overfit_gates_on_the_mean_and_logs_each_seeds_own_loss(store, history):
    cfg = OverfitConfig(seeds=2, one_max_steps=20, few_max_steps=20, hist_every=0, check_every=5)
    with stage_run(Target(store), stage="overfit", task="digits") as run:
        results = run_overfit(cfg, run, progress=False)
    got = store.client.get_run(run.run_id)
    seeds = find_seed_runs(store, run.run_id)
    own = [r.data.metrics["overfit_one/final_loss"] for r in seeds.values()]
    assert sorted(seeds) == [0, 1] and own[0] != own[1]  # each seed memorised its own sample
    assert got.data.metrics["overfit_one/final_loss"] == pytest.approx(statistics.fmean(own), rel=1e-5)
    assert results[0].final_loss == pytest.approx(statistics.fmean(own), rel=1e-5)
    assert got.data.tags["idealoop.gate.overfit_one"] == results[0].passed and "passed" or "failed"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"seeds": "0"}, "seeds=0 is out of range; allowed: [1, 256]"),
        ({"seeds": "257"}, "seeds=257 is out of range"),
        ({"seed": str(2**32 - 2), "seeds": "3"}, "runs past the last seed"),
        ({"seeds": "2", "processes": "2"}, "packs seeds in one process"),
    ],
)
def test_bad_seeds_are_one_line_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve(ScaleConfig, None, overrides)


def test_mean_std_and_the_std_at_the_best_epoch():
    mean, std = mean_std(
        [{"loss": 1.0, "accuracy": 0.5, "f1/3": 0.2}, {"loss": 3.0, "accuracy": 0.7, "f1/3": 0.4}]
    )
    assert mean == pytest.approx({"loss": 2.0, "accuracy": 0.6, "f1/3": 0.3})
    assert set(std) == {"loss", "accuracy"}  # per-class values are rows of an artifact, not metrics
    assert std["accuracy"] == pytest.approx(statistics.stdev([0.5, 0.7]))
    result = PackedResult(start={})
    for acc, spread in ((0.6, 0.1), (0.8, 0.02), (0.7, 0.3)):
        result.add({"accuracy": acc}, "accuracy", True)
        result.std_history.append({"accuracy": spread})
    # A broken reader would return the last epoch's std (0.3) or the largest.
    assert result.best_std("accuracy") == 0.02


class MemoryCheckpoints:
    """Epoch checkpoints kept in memory (serialised, as a run's artifact is); `cut_after`: fail there."""

    def __init__(self, saved: bytes | None = None, cut_after: int = 0) -> None:
        self.saved, self.cut_after = saved, cut_after

    def load(self):
        return None if self.saved is None else torch.load(io.BytesIO(self.saved), weights_only=False)

    def save(self, state: dict) -> None:
        self.saved = checkpoint.to_bytes(state)
        if state["epochs_done"] == self.cut_after:
            raise RuntimeError("cut short after this epoch")


def test_a_packed_run_cut_short_resumes_every_seed_exactly(store, history, doubled):
    task = small_digits()
    cfg = GeneralizeConfig(epochs=2, hist_every=0, n_samples=0, seeds=2, check_every=3)
    cut = MemoryCheckpoints(cut_after=1)
    with pytest.raises(RuntimeError, match="cut short"):
        with stage_run(Target(store), stage="generalize", task="digits") as run:
            run_generalize(cfg, run, task=task, checkpoints=cut, progress=False)
    with stage_run(Target(store), stage="generalize", task="digits", run_id=run.run_id) as again:
        run_generalize(cfg, again, task=task, checkpoints=MemoryCheckpoints(cut.saved), progress=False)
    with stage_run(Target(store), stage="generalize", task="digits") as whole:
        run_generalize(cfg, whole, task=task, checkpoints=MemoryCheckpoints(), progress=False)
    resumed, straight = find_seed_runs(store, run.run_id), find_seed_runs(store, whole.run_id)
    assert sorted(resumed) == sorted(straight) == [0, 1]  # the resumed run kept its two seed runs
    for seed in (0, 1):
        a, b = resumed[seed].info.run_id, straight[seed].info.run_id
        assert store.client.get_run(a).info.status == "FINISHED"
        # A seed restored with another seed's state, or without its own data order, differs in epoch 2.
        for key in ("train/loss", "val/loss", "val/accuracy"):
            assert _values(history, a, key) == pytest.approx(_values(history, b, key), **TOL), key
        assert doubled(a) == {}  # steps replayed after the checkpoint were not stored twice
    assert _values(history, run.run_id, "val_std/loss") == pytest.approx(
        _values(history, whole.run_id, "val_std/loss")
    )
