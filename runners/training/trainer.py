"""Training-loop pieces every stage shares, with the telemetry contract built in.

`Trainer.step(x, y)` does one optimisation step and logs, through the writer:
`train/loss` (every batch), `val/loss_batch` (a random val batch after every
iteration), `time/data_s` and `time/compute_s` (every batch), and
`throughput/samples_per_s` (over each chunk of `check_every` batches).
Losses stay on the device and are read back in chunks of `check_every` steps,
so the hot path never forces a device sync per step.

`state_dict()` / `load_state_dict()` hold everything the next step depends on (model,
optimizer, the shuffling generator, the global RNGs, the step count, a stateful
training loss such as the critic), so a run continued from an epoch checkpoint
(`runners/training/checkpoint.py`) trains on exactly as it would have.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from runners.tasks.base import Split, Task
from runners.tasks.first_batch import check_first_batch
from runners.training.histograms import ActivationTap, SnapshotSchedule, snapshot
from runners.training.seeding import pick_device, seed_everything
from tracker import keys
from tracker.range_checks import Limits, check_snapshot, slow_batch
from tracker.runs import NonFiniteLoss
from tracker.telemetry import TelemetryWriter

__all__ = ["Trainer", "pick_device", "seed_everything"]  # the last two re-exported: where stages look


def console(line: str) -> None:
    """A line on stderr that does not break a progress bar being drawn there."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


class Trainer:
    """One model, one optimizer, one writer; counts the global step across sub-stages."""

    def __init__(
        self,
        task: Task,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        writer: TelemetryWriter,
        *,
        device: torch.device,
        generator: torch.Generator,
        val_batch_size: int = 64,
        check_every: int = 10,
        hist_every: int = 0,  # steps between histogram snapshots; 0 = never
        hist_budget: float = 0.01,  # at most this share of training time on snapshots; 0 = no limit
        limits: Limits | None = None,  # range-check thresholds (tracker/range_checks.py), slow_batch's too
        on_flag: Callable[[str, str], None] | None = None,
        train_loss: Callable | None = None,  # e.g. class-weighted; val always uses task.loss
        val_probe: bool = True,  # the method's val batch after every iteration (off: benchmarks only)
        replay_until: int = -1,  # a resumed run stored steps up to here already: no snapshots again
    ) -> None:
        self.task, self.model, self.opt, self.writer = task, model, optimizer, writer
        self.device = device
        self.gen = generator
        self.val = Split(task.val.x.to(device), task.val.y.to(device))
        self.val_batch_size = min(val_batch_size, len(task.val))
        self.check_every = check_every
        self.step_count = 0  # global batch index: the step of every per-batch metric
        self._losses: list[torch.Tensor] = []
        self._val_losses: list[torch.Tensor] = []
        self._timing: list[tuple[float, float, int]] = []
        self.last_loss = math.inf
        self.hist_every = hist_every
        self.limits = limits or Limits()
        self.on_flag = on_flag or (lambda flag, detail: None)
        self.flags: dict[str, str] = {}
        self._spacing_noted = False  # the console said once that the budget spaced snapshots out
        self.replay_until = replay_until
        self.train_loss = train_loss or task.loss
        self.val_probe = val_probe
        self._tap = ActivationTap(model) if hist_every else None
        self._schedule = SnapshotSchedule(hist_every, hist_budget)
        self._first_checked = False  # the first batch's cheap checks (runners/tasks/first_batch.py)

    def step(self, x: torch.Tensor, y: torch.Tensor, data_s: float = 0.0) -> None:
        """One optimisation step on (x, y) plus the val-batch probe; logs in chunks.

        An exception leaves with the step it happened at (`idealoop_step`: the CLI's one line says it).
        """
        try:
            self._step(x, y, data_s)
        except Exception as exc:
            if getattr(exc, "idealoop_step", None) is None:
                exc.idealoop_step = self.step_count
            raise

    def _step(self, x: torch.Tensor, y: torch.Tensor, data_s: float) -> None:
        t0 = time.perf_counter()
        events = self._cuda_events()
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        # A replayed step's snapshot is stored already (its metrics would be dropped anyway).
        replayed = self.step_count <= self.replay_until
        probe = self._tap is not None and not replayed and self._schedule.due(self.step_count, t0)
        if probe:
            self._tap.armed = True
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        out = self.model(x)
        if self._first_checked:
            loss = self.train_loss(out, y)
        else:  # shapes, a finite scalar loss, the target metric: one line, before a run goes on
            loss, self._first_checked = check_first_batch(self.task, self.train_loss, out, y), True
        loss.backward()
        if probe:
            self._tap.armed = False
        self.opt.step()
        compute_s = time.perf_counter() - t0
        if events is not None:
            events[1].record()
        if probe:  # outside the timed span: a snapshot is telemetry, not the model's compute
            self._probe()
        self._losses.append(loss.detach())
        if self.val_probe:
            self._val_losses.append(self._val_batch_loss())
        self._timing.append((data_s, events if events is not None else compute_s, len(x)))
        self.step_count += 1
        if len(self._losses) >= self.check_every:
            self.sync()

    def _cuda_events(self) -> tuple | None:
        if self.device.type != "cuda":
            return None
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        return start, end

    def flag(self, name: str, detail: str) -> None:
        """Raise a range-check flag once per kind: tag on the run and a console line."""
        if name in self.flags:
            return
        self.flags[name] = detail
        console(f"idealoop: WARNING {name}: {detail}")
        self.on_flag(name, detail)

    def _probe(self) -> None:
        """Histogram snapshot at this step: this step's activations and gradients, weights just after
        the optimizer step (gradients are only cleared by the next step's zero_grad)."""
        if self.device.type == "cuda":  # the step's queued kernels are not the snapshot's cost
            torch.cuda.synchronize(self.device)
        t0 = time.perf_counter()
        self._snapshot()
        self._schedule.taken(self.step_count, time.perf_counter() - t0)
        if self._schedule.stretched and not self._spacing_noted:
            self._spacing_noted = True
            console(
                f"idealoop: histogram snapshots spaced beyond every {self.hist_every} steps to keep them "
                f"under {self._schedule.budget:.0%} of training time (hist_budget=0: exact cadence)"
            )

    def _snapshot(self) -> None:
        snap = snapshot(self.model, self._tap.outputs, self.step_count)
        self._tap.outputs = {}
        # Only the global norm is a metric; the per-tensor summaries live in the JSON (docs/telemetry.md).
        self.writer.log(keys.GRAD_NORM, snap["grad_norm"], self.step_count)
        self.writer.log_json(snap, f"histograms/step_{self.step_count:08d}.json")
        for found in check_snapshot(snap, self.limits):  # the board reruns this on the JSON: same verdict
            self.flag(found.name, found.detail)

    @torch.no_grad()
    def _val_batch_loss(self) -> torch.Tensor:
        self.model.eval()
        idx = torch.randint(len(self.val), (self.val_batch_size,), generator=self.gen)
        idx = idx.to(self.device)
        return self.task.loss(self.model(self.val.x[idx]), self.val.y[idx]).detach()

    def sync(self) -> float:
        """Read pending losses back from the device, log them, and check they are finite."""
        if not self._losses:
            return self.last_loss
        first = self.step_count - len(self._losses)  # one pending loss per step since the last sync

        def log_series(key: str, values: list[float]) -> None:
            self.writer.log_series(key, values, first)

        losses = torch.stack(self._losses).float().cpu().tolist()
        log_series(keys.TRAIN_LOSS, losses)
        if self._val_losses:
            log_series(keys.VAL_LOSS_BATCH, torch.stack(self._val_losses).float().cpu().tolist())
        # A train_loss may record per-step side metrics (training/critic.py): read back at this same sync.
        drain = getattr(self.train_loss, "drain", None)
        for key, values in (drain() if drain is not None else {}).items():
            if values:
                log_series(key, torch.stack(values).float().cpu().tolist())
        log_timing(self.writer, self._timing, first, self.step_count - 1, self.limits, self.flag)
        self._losses, self._val_losses, self._timing = [], [], []
        self.last_loss = losses[-1]
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        if bad is not None:
            raise NonFiniteLoss(f"train loss became {losses[bad]} at step {first + bad}")
        return self.last_loss

    def state_dict(self) -> dict:
        """What the next step depends on, to continue a run exactly (an epoch checkpoint's core)."""
        rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "generator": self.gen.get_state(),
            "rng": rng,  # dropout, augmentation and the critic draw from the global generators
            "step": self.step_count,
        }
        if hasattr(self.train_loss, "state_dict"):  # e.g. the critic and its optimizer
            state["train_loss"] = self.train_loss.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state_dict()`'s output: model, optimizer, generators, step count."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
        rng = state.get("rng", {})  # none in sweep checkpoints older than this method
        if rng:
            torch.set_rng_state(rng["torch"])
            np.random.set_state(rng["numpy"])
            random.setstate(rng["python"])
        if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])
        if "train_loss" in state and hasattr(self.train_loss, "load_state_dict"):
            self.train_loss.load_state_dict(state["train_loss"])
        self.step_count = state["step"]


def log_timing(writer, timing: list, first: int, last_step: int, limits: Limits, flag) -> None:
    """A chunk's per-batch data-loading and compute seconds, its slow batches flagged, and its
    throughput (over the chunk: per batch it is just noise). `timing`: (data s, compute s or CUDA
    events, samples) per step from `first`; shared by the plain and the packed trainer."""
    data, compute = [], []
    for i, (data_s, spent, _) in enumerate(timing):
        # On CUDA the host returns before the kernels finish: the step's real time comes
        # from events recorded around it, read here after the chunk's one sync.
        compute_s = spent[0].elapsed_time(spent[1]) / 1000 if isinstance(spent, tuple) else spent
        slow = slow_batch(first + i, data_s, compute_s, limits)
        if slow is not None:
            flag(slow.name, slow.detail)
        data.append(data_s)
        compute.append(compute_s)
    writer.log_series(keys.TIME_DATA, data, first)
    writer.log_series(keys.TIME_COMPUTE, compute, first)
    seconds, samples = sum(data) + sum(compute), sum(n for _, _, n in timing)
    writer.log(keys.THROUGHPUT, samples / seconds if seconds > 0 else 0.0, last_step)
