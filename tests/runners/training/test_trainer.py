"""The Trainer's state: a trainer restored from `state_dict()` trains on exactly as the original."""

from __future__ import annotations

import copy

import torch

from runners.tasks.base import ModelSpec, load_task
from runners.training.trainer import Trainer, seed_everything
from tracker.telemetry import NullWriter


class _Record(NullWriter):
    """Keeps what the trainer logs, in memory."""

    def __init__(self) -> None:
        self.points: dict[str, dict[int, float]] = {}

    def log(self, key, value, step, timestamp_ms=None):
        self.points.setdefault(key, {})[step] = value

    def log_series(self, key, values, first_step):
        for i, v in enumerate(values):
            self.points.setdefault(key, {})[first_step + i] = v

    def log_dict(self, values, step):
        for k, v in values.items():
            self.points.setdefault(k, {})[step] = v


def _trainer(task, writer, seed=0, **kw):
    gen = seed_everything(seed)
    model = task.build_model(ModelSpec(width=16, depth=1, dropout=0.5))  # dropout: the global RNG matters
    return Trainer(
        task, model, torch.optim.Adam(model.parameters()), writer,
        device=torch.device("cpu"), generator=gen, check_every=5, **kw,
    )  # fmt: skip


def _train(trainer, task, steps):
    for _ in range(steps):
        idx = torch.randint(len(task.train), (16,), generator=trainer.gen)
        trainer.step(task.train.x[idx], task.train.y[idx])
    trainer.sync()


def test_a_restored_trainer_continues_exactly_where_the_state_was_taken():
    task = load_task("digits")
    straight = _trainer(task, _Record())
    _train(straight, task, 10)
    state = copy.deepcopy(straight.state_dict())  # like torch's, it holds the live tensors
    _train(straight, task, 10)
    # A fresh trainer (other seed, other init) given the state at step 10 must match it step for step:
    # without the generator or the global RNG (dropout) restored, the losses would drift apart.
    restored = _trainer(task, _Record(), seed=123)
    restored.load_state_dict(state)
    assert restored.step_count == 10
    _train(restored, task, 10)
    losses = straight.writer.points["train/loss"]
    assert restored.writer.points["train/loss"] == {s: losses[s] for s in range(10, 20)}


def test_replayed_steps_take_no_histogram_snapshot():
    # A resumed run stored steps up to 7 already (their snapshots too): the replay takes none up to there.
    task = load_task("digits")
    trainer = _trainer(task, _Record(), hist_every=2, hist_budget=0, replay_until=7)
    _train(trainer, task, 12)
    assert sorted(trainer.writer.points["train/grad_norm"]) == [8, 10]
