"""The Trainer on a CUDA device: it trains there, and its compute times come from CUDA events.

Marked `gpu`: skipped (with the reason) where torch sees no CUDA device; `bench/gpu/suite.sh`
runs them on the lent GPU machine.
"""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from runners.tasks.base import ModelSpec, load_task
from runners.training.trainer import Trainer, seed_everything
from tests.runners.training.test_trainer import _Record

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def _trainer(task, model, **kw) -> Trainer:
    gen = seed_everything(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return Trainer(task, model.to(CUDA), opt, _Record(), device=CUDA, generator=gen, **kw)


def test_a_cuda_step_trains_on_the_gpu_and_reads_losses_back_in_chunks():
    task = load_task("digits")
    trainer = _trainer(task, task.build_model(ModelSpec(width=128, depth=2)), check_every=10)
    assert trainer.val.x.is_cuda  # the val probe's batches are drawn on the GPU, not copied per step
    for step in range(60):
        idx = torch.randint(len(task.train), (64,), generator=trainer.gen)
        trainer.step(task.train.x[idx], task.train.y[idx])  # CPU batches: the step moves them
        if step == 4:
            # Five steps in: the losses are still on the GPU, nothing was read back (no sync per step).
            assert len(trainer._losses) == 5 and all(loss.is_cuda for loss in trainer._losses)
    trainer.sync()
    losses = trainer.writer.points["train/loss"]
    assert sorted(losses) == list(range(60))
    # It learned on the GPU: the mean loss of the last 10 steps is well below the first 10's.
    first, last = (sum(losses[s] for s in r) / 10 for r in (range(10), range(50, 60)))
    assert last < 0.7 * first
    assert all(p.is_cuda for p in trainer.model.parameters())


def test_compute_times_come_from_cuda_events_not_the_host_clock():
    # A step with ~1.6 TFLOP of fp32 matmuls (torch's default: no TF32) takes the GPU tens of ms,
    # while the host only queues its kernels (well under a ms). A trainer that timed the step with
    # the host clock alone would log the queueing; with CUDA events the logged times add up to the
    # synced wall time.
    task = load_task("digits")
    wide = 8192
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, wide), nn.ReLU(), nn.Linear(wide, wide), nn.ReLU(), nn.Linear(wide, 10)
    )
    trainer = _trainer(task, model, check_every=8, val_probe=False)
    x, y = task.train.x[:1024], task.train.y[:1024]
    x, y = x.repeat(4, *[1] * (x.dim() - 1)), y.repeat(4)  # a batch of 4,096
    trainer.step(x, y)  # warm-up: cuBLAS handles, the first batch's checks (they read the loss)
    trainer.sync()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(8):
        trainer.step(x, y)  # the 8th step syncs: events are read back then
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    compute = [trainer.writer.points["time/compute_s"][s] for s in range(1, 9)]
    assert all(c > 0 for c in compute)
    assert 0.6 * wall < sum(compute) <= 1.05 * wall, (compute, wall)
    assert trainer.writer.points["throughput/samples_per_s"][8] > 0
