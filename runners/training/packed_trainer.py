"""`Trainer` for K seeds packed in one process: one step trains every seed, telemetry per seed.

The packed counterpart of `runners/training/trainer.py`, with the same calls (`step`,
`sync`, `state_dict`), so the epoch loop (`packed_fit.py`) and the overfit stage drive it
the same way. A step takes a batch per seed — (K, B, ...) — because each seed has its own
data order, and after it draws each seed's own random val batch (each from that seed's
generator, as a run with that one seed would).

Telemetry, read back from the device every `check_every` steps as in `Trainer`:
- each seed's run (`tracker/seed_runs.py`): its `train/loss` and `val/loss_batch`;
- the stage run or trial: their mean over the seeds under the same keys (so its curves,
  gates and checks read as before), plus `time/data_s`, `time/compute_s` and
  `throughput/samples_per_s` (samples of all K seeds: what the packing buys).
A non-finite loss of any seed ends the run (`nan_loss`), naming the seed.
Histogram snapshots every `hist_every` steps, as in `Trainer`: each seed's in its seed run,
seed 0's in the stage run (`packed_snapshots.py`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np
import torch

from runners.tasks.base import Split, Task
from runners.training.packed_snapshots import PackedSnapshots
from runners.training.trainer import console, log_timing
from tracker import keys
from tracker.range_checks import Limits
from tracker.runs import NonFiniteLoss


class PackedTrainer:
    """K seeds (a `pack` from `runners/training/pack.py`), their generators and writers."""

    def __init__(
        self,
        task: Task,
        pack,
        gens: list[torch.Generator],
        writer,  # the stage run's or trial's: means and timings
        seed_writers: list,  # one per seed: that seed's own curves
        seeds: list[int],
        *,
        device: torch.device,
        val_batch_size: int = 64,
        check_every: int = 10,
        hist_every: int = 0,  # steps between histogram snapshots; 0 = never
        hist_budget: float = 0.01,  # at most this share of training time on snapshots; 0 = no limit
        limits: Limits | None = None,
        on_flag: Callable[[str, str], None] | None = None,
        replay_until: int = -1,  # a resumed run stored steps up to here already: no snapshots again
    ) -> None:
        self.task, self.pack, self.gens, self.writer = task, pack, gens, writer
        self.seed_writers, self.seeds, self.device = seed_writers, seeds, device
        self.val = Split(task.val.x.to(device), task.val.y.to(device))
        self.val_batch_size = min(val_batch_size, len(task.val))
        self.check_every = check_every
        self.limits = limits or Limits()
        self.on_flag = on_flag or (lambda flag, detail: None)
        self.flags: dict[str, str] = {}
        self.step_count = 0
        self.last_loss = math.inf  # the mean over the seeds at the last read
        self.last_losses: list[float] = []
        self._losses: list[torch.Tensor] = []  # (K,) per pending step
        self._val_losses: list[torch.Tensor] = []
        self._timing: list[tuple[float, object, int]] = []
        self.snapshots = None
        if hist_every:
            self.snapshots = PackedSnapshots(
                pack, writer, seed_writers, seeds, every=hist_every, budget=hist_budget,
                limits=self.limits, flag=self.flag, say=console, replay_until=replay_until,
            )  # fmt: skip

    @property
    def lr(self) -> float:
        return self.pack.opt.param_groups[0]["lr"]

    def step(self, xs: torch.Tensor, ys: torch.Tensor, data_s: float = 0.0) -> None:
        """One step of every seed on its own batch xs[k], ys[k]; then each seed's val batch."""
        t0 = time.perf_counter()
        events = None
        if self.device.type == "cuda":
            events = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            events[0].record()
        xs, ys = xs.to(self.device, non_blocking=True), ys.to(self.device, non_blocking=True)
        probe = self.snapshots is not None and self.snapshots.due(self.step_count, t0)
        losses = self.pack.train_step(xs, ys, tap=probe)
        compute_s = time.perf_counter() - t0
        if events is not None:
            events[1].record()
        if probe:  # outside the timed span: a snapshot is telemetry, not the model's compute
            self.snapshots.take(self.step_count, self.device)
        self._losses.append(losses)
        self._val_losses.append(self._val_batch_losses())
        self._timing.append((data_s, events if events is not None else compute_s, xs.shape[0] * xs.shape[1]))
        self.step_count += 1
        if len(self._losses) >= self.check_every:
            self.sync()

    def _val_batch_losses(self) -> torch.Tensor:
        n = len(self.val)
        idx = torch.stack([torch.randint(n, (self.val_batch_size,), generator=g) for g in self.gens])
        idx = idx.to(self.device)
        return self.pack.val_losses(self.val.x[idx], self.val.y[idx])

    def flag(self, name: str, detail: str) -> None:
        if name not in self.flags:
            self.flags[name] = detail
            console(f"idealoop: WARNING {name}: {detail}")
            self.on_flag(name, detail)

    def sync(self) -> float:
        """Read pending losses back, log them per seed and as the mean; the mean's last value."""
        if not self._losses:
            return self.last_loss
        first = self.step_count - len(self._losses)
        losses = torch.stack(self._losses).float().cpu()  # (steps, K)
        val = torch.stack(self._val_losses).float().cpu()
        for k, w in enumerate(self.seed_writers):
            w.log_series(keys.TRAIN_LOSS, losses[:, k].tolist(), first)
            w.log_series(keys.VAL_LOSS_BATCH, val[:, k].tolist(), first)
        self.writer.log_series(keys.TRAIN_LOSS, losses.mean(1).tolist(), first)
        self.writer.log_series(keys.VAL_LOSS_BATCH, val.mean(1).tolist(), first)
        log_timing(self.writer, self._timing, first, self.step_count - 1, self.limits, self.flag)
        self._losses, self._val_losses, self._timing = [], [], []
        self.last_loss = float(losses[-1].mean())
        self.last_losses = losses[-1].tolist()  # each seed's, at the same step
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad):
            step, k = (int(v) for v in bad[0])
            raise NonFiniteLoss(
                f"train loss of seed {self.seeds[k]} became {float(losses[step, k])} at step {first + step}"
            )
        return self.last_loss

    def flush(self) -> None:
        """Everything logged so far stored, in every seed's run and the parent's."""
        for w in (*self.seed_writers, self.writer):
            w.flush()

    def state_dict(self) -> dict:
        """What the next step depends on: the pack, each seed's generator, the global RNGs, the step."""
        rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "pack": self.pack.state_dict(),
            "pack_kind": self.pack.kind,
            "generators": [g.get_state() for g in self.gens],
            "rng": rng,
            "step": self.step_count,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("pack_kind") != self.pack.kind:
            raise ValueError(
                f"checkpoint of a {state.get('pack_kind')} pack, this run packs by {self.pack.kind}"
            )
        self.pack.load_state_dict(state["pack"])
        for g, saved in zip(self.gens, state["generators"], strict=True):
            g.set_state(saved)
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.step_count = state["step"]
