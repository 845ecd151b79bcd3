"""Trainer internals that the stages rely on: chunked loss reads, the slow-batch flag."""

from __future__ import annotations

import torch

from runners.tasks.base import ModelSpec, load_task
from runners.training.trainer import Trainer
from tracker.range_checks import Limits
from tracker.runs import stage_run
from tracker.store import Target


def _trainer(store, run, **kw):
    task = load_task("digits")
    model = task.build_model(ModelSpec(width=16, depth=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    return task, Trainer(task, model, opt, run.writer, device=torch.device("cpu"), generator=gen,
                         on_flag=run.flag, **kw)  # fmt: skip


def test_losses_are_read_back_in_chunks_not_per_step(store):
    with stage_run(Target(store), stage="generalize") as run:
        task, trainer = _trainer(store, run, check_every=5)
        for _ in range(4):
            trainer.step(task.train.x[:8], task.train.y[:8])
        # Four steps in, nothing was read back from the device or queued for MLflow yet.
        assert len(trainer._losses) == 4 and trainer.last_loss == float("inf")
        trainer.step(task.train.x[:8], task.train.y[:8])
        assert trainer._losses == [] and trainer.last_loss < 10
    assert len(store.client.get_metric_history(run.run_id, "train/loss")) == 5


def test_slow_batch_is_flagged_once_with_its_bottleneck(store, capsys):
    with stage_run(Target(store), stage="generalize") as run:
        task, trainer = _trainer(store, run, check_every=1, limits=Limits(slow_batch_s=0.0))
        for _ in range(3):
            trainer.step(task.train.x[:8], task.train.y[:8], data_s=0.0)
    tags = store.client.get_run(run.run_id).data.tags
    assert tags["idealoop.flags"] == "slow_batch"
    assert "bottleneck is compute" in tags["idealoop.flag.slow_batch"]
    assert capsys.readouterr().err.count("WARNING slow_batch") == 1
