"""Data-parallel training for stage_scale: several processes, one model, one MLflow run.

`processes=N` spawns N workers with torch.distributed (gloo on CPU, nccl when each
worker can have its own GPU). Each worker trains on a disjoint, fixed shard of the
training data; DistributedDataParallel averages gradients, so every worker holds the
same weights. Only rank 0 talks to MLflow (the telemetry writer, samples,
histograms); the others log nothing. The parent process, which owns the stage run,
gets rank 0's results back through a file and decides the gate.

One writer per run (tracker/claims.py): while the ranks train, the parent's writer is
handed over (everything it queued is stored first, it logs nothing meanwhile), so rank
0's writer is the run's only one; the parent takes the run back when the ranks are done.

Each rank trains `scale_recipe.train_scale`, as the single-process stage does. Its
`WorkerSpec` (pickled to a file) carries the run's `Target` whole: the absolute URI,
the project and the idea, as the parent resolved them.

On several GPUs: `idealoop run scale --set processes=4` (one process per GPU).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from runners.stages.config import ScaleConfig
from runners.stages.scale_recipe import train_scale
from runners.tasks.base import Task, load_task
from runners.training.fit import FitResult
from tracker.runs import StageRun
from tracker.store import TAG_PROCESSES, Target
from tracker.telemetry import NullWriter, TelemetryWriter


@dataclass(frozen=True)
class WorkerSpec:
    """What every rank is given (pickled to a file; the rank number comes on its command line)."""

    world: int  # number of ranks
    port: int  # rank 0's rendezvous port on 127.0.0.1
    cfg: ScaleConfig
    target: Target  # where rank 0 logs: the parent's store and idea, as resolved there
    run_id: str  # the parent's stage run, which rank 0 logs into
    out: str  # file rank 0 writes its (FitResult, flags) to


class _Quiet:
    """Stands in for the run on ranks other than 0: logs nothing."""

    writer = NullWriter()

    def last_stored(self, key: str) -> int:
        return -1

    def __getattr__(self, name):
        return lambda *a, **k: None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, spec: WorkerSpec):
    world, cfg = spec.world, spec.cfg
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= world and cfg.device != "cpu"
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{spec.port}", rank=rank, world_size=world)
    try:
        if use_cuda:
            torch.cuda.set_device(rank)
        cfg = dataclasses.replace(cfg, device=f"cuda:{rank}" if use_cuda else "cpu")
        task = load_task(cfg.task, seed=cfg.seed)
        shard = torch.arange(len(task.train))[rank::world]
        task = dataclasses.replace(task, train=task.train.take(shard))
        if rank == 0:
            run = StageRun(spec.target, spec.run_id, TelemetryWriter(spec.target.store, spec.run_id))
        else:
            run = _Quiet()

        def wrap(model):
            ids = [rank] if use_cuda else None
            return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

        try:
            result = train_scale(cfg, run, task, wrap_model=wrap, progress=False)
        finally:
            if rank == 0:
                run.writer.close()
        if rank == 0:
            with open(spec.out, "wb") as f:
                pickle.dump((result, run.flags), f)
    finally:
        dist.destroy_process_group()


def run_data_parallel(cfg: ScaleConfig, run: StageRun, task: Task) -> FitResult:
    """Train with `cfg.processes` worker processes; returns rank 0's FitResult.

    Workers are plain `python -m runners.stages.parallel` processes (not multiprocessing
    spawn, which re-imports the parent's __main__ — a Streamlit page, a test runner).
    If one rank fails, the others are stopped and its error is raised here.
    """
    world = cfg.processes
    run.set_tags({TAG_PROCESSES: str(world)})
    with tempfile.TemporaryDirectory() as tmp:
        out, spec = os.path.join(tmp, "result.pkl"), os.path.join(tmp, "spec.pkl")
        with open(spec, "wb") as f:
            pickle.dump(WorkerSpec(world, _free_port(), cfg, run.target, run.run_id, out), f)
        logs = [open(os.path.join(tmp, f"rank{r}.log"), "w+") for r in range(world)]
        with run.writer.handed_over():  # rank 0 writes the run meanwhile: one writer at a time
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "runners.stages.parallel", spec, str(r)],
                    stdout=logs[r],
                    stderr=subprocess.STDOUT,
                )
                for r in range(world)
            ]
            try:
                failed = _wait(procs)
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait()  # its claim on the run goes with the process
        if failed is not None:
            logs[failed].seek(0)
            tail = logs[failed].read().strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"data-parallel rank {failed} failed: {tail[0]}")
        with open(out, "rb") as f:
            result, flags = pickle.load(f)
    for name, detail in flags.items():
        run.flags.setdefault(name, detail)
    return result


def _wait(procs: list[subprocess.Popen]) -> int | None:
    """Wait for all ranks; return the first rank that exited non-zero (and stop waiting)."""
    while True:
        codes = [p.poll() for p in procs]
        bad = next((r for r, c in enumerate(codes) if c not in (None, 0)), None)
        if bad is not None or all(c == 0 for c in codes):
            return bad
        time.sleep(0.05)


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        worker_spec = pickle.load(f)
    _worker(int(sys.argv[2]), worker_spec)
