"""The Trainer's per-batch logging when a restored run replays steps it already stored."""

from __future__ import annotations

import torch

from runners.tasks.base import ModelSpec, load_task
from runners.training.trainer import Trainer, seed_everything
from tracker.telemetry import TelemetryWriter


def _steps(store, run_id, key):
    return sorted(m.step for m in store.client.get_metric_history(run_id, key))


def test_replayed_steps_are_not_logged_twice(store):
    # A sweep trial restored from its step-20 checkpoint, whose first attempt had stored
    # steps up to 25 before dying: steps 20..25 are trained again but logged once.
    task = load_task("digits")
    model = task.build_model(ModelSpec(width=8, depth=1))
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store, run_id, process=False) as writer:
        trainer = Trainer(
            task, model, torch.optim.Adam(model.parameters()), writer,
            device=torch.device("cpu"), generator=seed_everything(0), check_every=10,
        )  # fmt: skip
        trainer.step_count, trainer.replay_until = 20, 25
        for i in range(15):
            trainer.step(task.train.x[i * 8 : i * 8 + 8], task.train.y[i * 8 : i * 8 + 8])
        trainer.sync()
    assert trainer.step_count == 35
    for key in ("train/loss", "val/loss_batch", "time/data_s", "time/compute_s"):
        assert _steps(store, run_id, key) == list(range(26, 35)), key
    assert _steps(store, run_id, "throughput/samples_per_s") == [29, 34]  # one per chunk
