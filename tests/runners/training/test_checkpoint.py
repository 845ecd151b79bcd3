"""Epoch checkpoints: the run's artifact round trip, a damaged one, a sweep checkpoint of the old layout."""

from __future__ import annotations

import pytest
import torch

from runners.tasks.base import ModelSpec, load_task
from runners.training.checkpoint import ARTIFACT_DIR, STATE_FILE, RunCheckpoints, epoch_state, restore
from runners.training.trainer import Trainer, seed_everything
from tracker.runs import stage_run
from tracker.store import Target
from tracker.telemetry import NullWriter


def _trainer(seed: int = 0) -> Trainer:
    task = load_task("digits")
    model = task.build_model(ModelSpec(width=8, depth=1))
    return Trainer(
        task, model, torch.optim.Adam(model.parameters()), NullWriter(),
        device=torch.device("cpu"), generator=seed_everything(seed),
    )  # fmt: skip


def _same_weights(a: Trainer, b: Trainer) -> bool:
    mine, theirs = a.model.state_dict(), b.model.state_dict()
    return all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_a_resumed_run_loads_the_checkpoint_its_last_attempt_stored(store, capsys):
    saved = _trainer()
    saved.step_count = 40
    with pytest.raises(KeyboardInterrupt):
        with stage_run(Target(store), stage="generalize") as run:
            assert RunCheckpoints(run).load() is None  # a fresh run has nothing to continue
            RunCheckpoints(run).save(epoch_state(saved, None, 2, {"loss": 2.3}, [{"epoch": 1}, {"epoch": 2}]))
            raise KeyboardInterrupt
    with stage_run(Target(store), stage="generalize", run_id=run.run_id) as again:
        state = RunCheckpoints(again).load()
    fresh = _trainer(seed=1)
    assert restore(fresh, None, state) == 2 and fresh.step_count == 40 and _same_weights(fresh, saved)
    assert f"run {run.run_id} continues after epoch 2" in capsys.readouterr().err


def test_a_damaged_checkpoint_means_training_again_from_the_start(store, tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        with stage_run(Target(store), stage="generalize") as run:
            raise KeyboardInterrupt
    cut = tmp_path / STATE_FILE
    cut.write_bytes(b"PK\x03\x04 cut short by kill -9")
    store.client.log_artifact(run.run_id, str(cut), ARTIFACT_DIR)
    with stage_run(Target(store), stage="generalize", run_id=run.run_id) as again:
        assert RunCheckpoints(again).load() is None
    assert "has an unreadable checkpoint" in capsys.readouterr().err


def test_a_sweep_checkpoint_of_the_old_layout_still_restores():
    # What runners/sweeps/trainable.py saved before checkpoints moved into the training loop:
    # a sweep killed under the old code and resumed under the new one must not fail its trials.
    saved = _trainer()
    old = {
        "model": saved.model.state_dict(), "optimizer": saved.opt.state_dict(), "scheduler": None,
        "generator": saved.gen.get_state(), "step": 12, "epoch": 3, "start": {}, "history": [],
    }  # fmt: skip
    fresh = _trainer(seed=1)
    assert restore(fresh, None, old) == 3 and fresh.step_count == 12 and _same_weights(fresh, saved)
