"""Stages on a CUDA device, end to end into the SQLite store: `idealoop run generalize --set
device=cuda` (one seed and packed seeds), and stage_scale's data-parallel path on one GPU (NCCL).

Marked `gpu`: skipped (with the reason) where torch sees no CUDA device; `bench/gpu/suite.sh`
runs them on the lent GPU machine.
"""

from __future__ import annotations

import math

import pytest

from runners.cli import main
from runners.stages.config import ScaleConfig
from runners.stages.parallel import run_data_parallel
from runners.tasks.base import load_task
from tracker.runs import stage_run
from tracker.store import Target

pytestmark = pytest.mark.gpu


def test_a_cuda_generalize_run_end_to_end_into_sqlite(store, make_idea, history, artifacts, capsys):
    idea = make_idea()
    sets = ["device=cuda", "epochs=2", "hist_every=10", "hist_budget=0", "n_samples=8"]
    argv = ["run", "generalize", "--idea", idea, *(a for s in sets for a in ("--set", s)), "--no-progress"]
    assert main(argv) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    got = store.client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.data.tags["idealoop.gate.generalize"] == "passed"
    assert got.data.params["device_resolved"] == "cuda"  # it trained on the GPU, not a CPU fallback
    batches = 2 * math.ceil(len(load_task("digits").train) / 64)
    # Every per-batch point reached SQLite: losses read back in chunks, CUDA-event times per batch.
    assert [m.step for m in history(run_id, "train/loss")] == list(range(batches))
    compute = history(run_id, "time/compute_s")
    assert len(compute) == batches and all(0 < m.value < 1 for m in compute)
    assert history(run_id, "val/accuracy")[-1].value > 0.5  # it learned there
    # Histogram snapshots of the GPU model (taken after a sync) and the epoch's evidence images.
    assert len(artifacts(run_id, "histograms")) == math.ceil(batches / 10)
    assert history(run_id, "train/grad_norm")


def test_packed_seeds_train_on_cuda_end_to_end(store, make_idea, capsys):
    idea = make_idea()
    argv = ["run", "generalize", "--idea", idea, "--seeds", "4", "--set", "device=cuda", "--set", "epochs=2"]
    assert main([*argv, "--set", "hist_every=0", "--no-progress"]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    got = store.client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.data.tags["idealoop.gate.generalize"] == "passed"
    assert got.data.params["device_resolved"] == "cuda" and got.data.params["seeds"] == "4"


def test_scale_data_parallel_on_one_gpu_goes_through_nccl(store, history):
    # processes=1 by hand: `run_scale` trains in-process below 2, and one GPU has room for one NCCL
    # rank. The rank takes cuda:0 (and so the nccl backend) only where the GPU is there for it;
    # gloo on the CPU would log device_resolved "cpu".
    cfg = ScaleConfig(epochs=1, hist_every=0, n_samples=4, processes=1, device="cuda")
    task = load_task("digits")
    with stage_run(Target(store), stage="scale", task="digits") as run:
        result = run_data_parallel(cfg, run, task)
    got = store.client.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.data.tags["idealoop.processes"] == "1"
    assert got.data.params["device_resolved"] == "cuda:0"
    assert len(history(run.run_id, "train/loss")) == math.ceil(len(task.train) / 64)
    assert result.history[0]["accuracy"] > 0.3  # it learned through DistributedDataParallel
