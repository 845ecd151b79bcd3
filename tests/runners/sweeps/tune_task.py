"""A tiny task for sweep tests whose behaviour is chosen by the trial's `seed`.

- seed 13: building the model raises (a trial that fails);
- seed 7: the loss turns NaN after a few steps (a trial that ends `nan_loss`);
- seed >= 100: each training step sleeps 50 ms (a sweep slow enough to kill mid-way);
- seed >= 1000: also, when the model is built, writes the trial process's PID to
  `pid_file(seed)` (a test kills that process; give each test process its own seed);
- otherwise: a learnable problem whose val labels get noisier as the seed grows, so
  later seeds score worse and ASHA has something to stop.
Load it with `--task tests.runners.sweeps.tune_task:make_task`.
"""

from __future__ import annotations

import os
import tempfile
import time

import torch
from torch import nn

from runners.tasks.base import ModelSpec, Split, Task


def pid_file(seed: int) -> str:
    """Where a trial with seed >= 1000 writes its process's PID once its model is built."""
    return os.path.join(tempfile.gettempdir(), f"idealoop-tune-task-{seed}.pid")


def make_task(seed: int = 0) -> Task:
    g = torch.Generator().manual_seed(0)  # the same data for every seed: only the noise differs
    x = torch.randn(384, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    val_y = y[256:320].clone()
    flip = torch.rand(len(val_y), generator=g) < min(0.08 * (seed % 100), 0.45)
    val_y[flip] = 1 - val_y[flip]
    train, val, test = Split(x[:256], y[:256]), Split(x[256:320], val_y), Split(x[320:], y[320:])
    calls = {"n": 0}

    def build_model(spec: ModelSpec) -> nn.Module:
        if seed == 13:
            raise RuntimeError("boom: seed 13 cannot build a model")
        if seed >= 1000:
            with open(pid_file(seed) + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(pid_file(seed) + ".tmp", pid_file(seed))  # never seen half-written
        return nn.Sequential(nn.Linear(8, spec.width), nn.ReLU(), nn.Linear(spec.width, 2))

    def loss(out, target):
        calls["n"] += 1
        if seed >= 100 and out.requires_grad:
            time.sleep(0.05)
        value = nn.functional.cross_entropy(out, target)
        return value * float("nan") if seed == 7 and calls["n"] > 6 else value

    return Task(f"tune_task_{seed}", train, val, test, build_model, loss)
