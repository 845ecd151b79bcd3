"""Epoch checkpoints: what a run saves after every epoch, where it goes, and how training picks up.

After every epoch `fit` hands its `Checkpoints` the training state (`epoch_state`: the
Trainer's `state_dict()`, the LR scheduler, the epochs done and their val metrics);
before the first epoch it asks them for the newest one and, when there is one,
continues after that epoch (`restore`) exactly as training would have gone on.

Where checkpoints live is the caller's choice, behind two methods, `load()` and `save(state)`:
- `RunCheckpoints` (every stage run's default): one artifact of the run,
  `checkpoint/state.pt`, replaced every epoch and written by the telemetry writer after
  the epoch's metrics — so `idealoop run STAGE --resume RUN_ID` works from any machine
  that reaches the tracking store, and a finished run keeps its final weights;
- a sweep trial's go to Ray with its epoch's report (`runners/sweeps/trainable.py`).

Steps an earlier attempt stored after its last checkpoint are trained again but not
logged again: a resumed run's writer drops them (`tracker/resume.py`).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path
from typing import Protocol

import torch

from runners.training.trainer import Trainer

STATE_FILE = "state.pt"
ARTIFACT_DIR = "checkpoint"  # a stage run's checkpoint: artifact checkpoint/state.pt


class Checkpoints(Protocol):
    """Where a run's epoch checkpoints go and come back from."""

    def load(self) -> dict | None:
        """The newest saved state, or None (training starts from the beginning)."""

    def save(self, state: dict) -> None:
        """Keep `state` (from `epoch_state`) as the newest checkpoint."""


def epoch_state(trainer: Trainer, scheduler, epoch: int, start: dict, history: list[dict]) -> dict:
    """Everything needed to continue after `epoch`: training state and the val metrics so far."""
    return {
        "trainer": trainer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epochs_done": epoch,
        "start": start,  # val metrics before training (epoch 0)
        "history": history,  # val metrics of each epoch done
    }


def restore(trainer: Trainer, scheduler, state: dict) -> int:
    """Load `epoch_state`'s output into a freshly built trainer and scheduler; returns the epochs done."""
    if "trainer" not in state:  # a sweep trial's checkpoint written before this module existed
        state = _upgrade(state)
    trainer.load_state_dict(state["trainer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    return int(state["epochs_done"])


def _upgrade(old: dict) -> dict:
    """The trainable's own checkpoint layout of before (no global RNG states) as `epoch_state`'s."""
    trainer = {k: old[k] for k in ("model", "optimizer", "generator", "step")}
    return {**old, "trainer": trainer, "epochs_done": old["epoch"]}


def to_bytes(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def read(path: str | Path) -> dict:
    # weights_only=False: the state holds RNG states and metric dicts, and comes from our own runs.
    return torch.load(path, map_location="cpu", weights_only=False)


class RunCheckpoints:
    """Checkpoints as the stage run's artifact `checkpoint/state.pt` (the newest epoch only)."""

    def __init__(self, run) -> None:
        self.run = run  # tracker.runs.StageRun

    def save(self, state: dict) -> None:
        # Serialised here, on the training thread (tensors may be on a GPU; the writer thread
        # runs no torch op); stored by the writer after every metric queued before it.
        payload = to_bytes(state)
        self.run.writer.log_artifact(
            lambda path: Path(path).write_bytes(payload), f"{ARTIFACT_DIR}/{STATE_FILE}"
        )

    def load(self) -> dict | None:
        if not self.run.resumed:
            return None
        run_id = self.run.run_id
        state, why = None, "no epoch checkpoint"
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.run.store.client.download_artifacts(run_id, f"{ARTIFACT_DIR}/{STATE_FILE}", tmp)
            except Exception:  # noqa: BLE001 - none stored: the first epoch never ended
                path = None
            try:
                state = read(path) if path else None
            except Exception as exc:  # noqa: BLE001 - cut short by the kill that ended the last attempt
                why = f"an unreadable checkpoint ({type(exc).__name__})"
        if state is None:
            say_replay(run_id, why)
        else:
            say(f"resume: run {run_id} continues after epoch {state['epochs_done']}, from its checkpoint")
        return state


def say_replay(run_id: str, why: str = "no epoch checkpoint") -> None:
    """What a resumed run without a checkpoint does (overfit keeps none: it is short)."""
    say(f"resume: run {run_id} has {why}: training again from the start, logging only what it lacks")


def say(line: str) -> None:
    print(line, file=sys.stderr)
