"""Histogram snapshots of K seeds trained packed: each seed's in its own seed run, seed 0's in the run.

The plain trainer's snapshot (runners/training/histograms.py) for a `PackedTrainer`, with the same
cadence: every `hist_every` steps, spaced further apart when snapshots would take more than
`hist_budget` of the training time. One schedule serves the whole pack: a snapshot step bins
every seed, and the seconds it took count once against the packed step's training time, so
snapshots of K seeds cost the same share of a run as one seed's cost a one-seed run.

Where they go (docs/telemetry.md, "Several seeds in one run"):
- each seed run gets its seed's `histograms/step_*.json` and `train/grad_norm`, exactly what a
  run of that one seed would store (tested to float tolerance);
- the stage run or trial gets seed 0's files, so its own Histograms tab reads as a one-seed
  run of `seed` (the same model, so comparable with one), and as `train/grad_norm` the mean of
  the seeds' norms, as its other per-step keys are means. Not the seeds pooled: a histogram
  of K models' weights mixes their spread with the seeds' disagreement, and a layer dead in
  one seed would hide among the live ones of the rest;
- every seed's snapshot goes through the range checks, and a flag on the run names the seed.

The tensors come from the pack (runners/training/pack.py): weights and gradients as slices of
the stacked parameters (or a looped copy's own), activations from the training forward of the
snapshot's step itself.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from runners.training.histograms import SnapshotSchedule, parameter_names, relu_layer_names, snapshots
from tracker import keys
from tracker.range_checks import Limits, check_snapshot


class PackedSnapshots:
    """When a pack's snapshot is due, and taking it: binned, stored per seed, checked."""

    def __init__(
        self,
        pack,
        writer,  # the stage run's or trial's
        seed_writers: list,
        seeds: list[int],
        *,
        every: int,
        budget: float,
        limits: Limits,
        flag: Callable[[str, str], None],
        say: Callable[[str], None],  # one console line
        replay_until: int = -1,  # a resumed run stored steps up to here already: no snapshots again
    ) -> None:
        self.pack, self.writer, self.seed_writers, self.seeds = pack, writer, seed_writers, seeds
        self.schedule = SnapshotSchedule(every, budget)
        self.names = parameter_names(pack.template)
        self.relu_layers = relu_layer_names(pack.template)
        self.limits, self.flag, self.say = limits, flag, say
        self.replay_until = replay_until
        self._spacing_noted = False

    def due(self, step: int, now: float) -> bool:
        return step > self.replay_until and self.schedule.due(step, now)

    def take(self, step: int, device: torch.device) -> None:
        """Snapshot every seed after the step that tapped its activations (`train_step(..., tap=True)`)."""
        if device.type == "cuda":  # the step's queued kernels are not the snapshot's cost
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        tapped, self.pack.tapped = self.pack.tapped, None
        models = [(*self.pack.seed_tensors(k), acts) for k, acts in enumerate(tapped)]
        snaps = snapshots(models, self.names, self.relu_layers, step)
        path = f"histograms/step_{step:08d}.json"
        for w, snap in zip(self.seed_writers, snaps, strict=True):
            w.log(keys.GRAD_NORM, snap["grad_norm"], step)
            w.log_json(snap, path)
        self.writer.log(keys.GRAD_NORM, statistics.fmean(s["grad_norm"] for s in snaps), step)
        self.writer.log_json(snaps[0], path)
        for seed, snap in zip(self.seeds, snaps, strict=True):
            for found in check_snapshot(snap, self.limits):  # the board reruns these on each seed's files
                self.flag(found.name, f"seed {seed}: {found.detail}")
        self.schedule.taken(step, time.perf_counter() - t0)
        if self.schedule.stretched and not self._spacing_noted:
            self._spacing_noted = True
            self.say(
                f"idealoop: histogram snapshots spaced beyond every {self.schedule.every} steps to keep "
                f"them under {self.schedule.budget:.0%} of training time (hist_budget=0: exact cadence)"
            )
