"""stage_overfit on digits: both gates, their fail path, and the per-batch telemetry."""

from __future__ import annotations

from runners.stages.config import OverfitConfig
from runners.stages.overfit import run_overfit
from tracker.runs import stage_run
from tracker.store import Target


def _history(store, run_id, key):
    return sorted(store.client.get_metric_history(run_id, key), key=lambda m: m.step)


def test_overfit_passes_both_gates_and_logs_every_batch(store, make_idea):
    idea = make_idea()
    with stage_run(Target(store, idea), stage="overfit") as run:
        results = run_overfit(OverfitConfig(hist_budget=0), run, progress=False)
    assert [r.passed for r in results] == [True, True]
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.overfit_one"] == "passed"
    assert got.data.tags["idealoop.gate.overfit_few"] == "passed"
    assert got.data.params["lr"] == "0.001" and got.data.params["few_samples"] == "8"
    total = sum(r.steps for r in results)
    train = _history(store, run.run_id, "train/loss")
    val = _history(store, run.run_id, "val/loss_batch")
    # One point per batch, steps 0..total-1, and one val probe per iteration.
    assert [m.step for m in train] == list(range(total))
    assert [m.step for m in val] == list(range(total))
    assert train[-1].value < 0.02 < train[0].value
    assert len(_history(store, run.run_id, "time/compute_s")) == total
    # Histogram snapshots every hist_every (50) steps (no time budget): weights, gradients, activations.
    snaps = [a.path for a in store.client.list_artifacts(run.run_id, "histograms")]
    assert snaps == [f"histograms/step_{s:08d}.json" for s in range(0, total, 50)]


def test_gate_fails_when_budget_is_too_small(store):
    cfg = OverfitConfig(one_max_steps=3, few_max_steps=3, check_every=1)
    with stage_run(Target(store), stage="overfit") as run:
        results = run_overfit(cfg, run, progress=False)
    assert [r.passed for r in results] == [False, False]
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.overfit_one"] == "failed"
    # A failed gate is a verdict, not a crash: the run itself completed.
    assert got.info.status == "FINISHED"
    assert got.data.metrics["overfit_one/steps"] == 3


def test_regularized_lr_zero_cannot_memorise(store):
    # A broken optimiser (lr ~ 0) must fail the gate, not pass it by accident.
    cfg = OverfitConfig(lr=1e-9, one_max_steps=50, few_max_steps=50)
    with stage_run(Target(store), stage="overfit") as run:
        results = run_overfit(cfg, run, progress=False)
    assert not results[0].passed and not results[1].passed
