"""How well the overnight queue keeps the machine busy: 12 small items through `idealoop queue
start` on a local Ray vs the same items run one after another by hand (`idealoop run`).

Items (digits), 3 of each kind of the mix (`MIXES`; default `wide`: baselines holding 0.5 CPU,
`generalize` runs of 2 epochs holding 1 CPU and 0.5 CPU, and of 4 epochs holding 2 CPUs;
`narrow`: one-thread items only). Each item's torch uses as many threads as it holds whole
CPUs, at least 1, in both arms; `--epochs-scale N` makes the generalize items N times longer.
Both arms are separate processes as at a terminal, so start-up is counted; the queue's time
includes starting and stopping its Ray head. Printed:

- total seconds of each arm and their ratio (target: queue ≤ 0.6 × sequential on 2 cores);
- busy-CPU fraction during the queue: the CPU-hours the items held ÷ the Ray head's
  CPU-hours from the first job's start to the session's end (the queue's own packing, from
  its report), and the machine's CPUs busy from /proc/stat (which also counts anything else
  running on the machine);
- with `--gpus 0.25`: each item holds that GPU fraction too; the GPU-hours held ÷ the
  session's, and nvidia-smi's utilization averaged over the queue, where there is one.

    PYTHONPATH=. python bench/queue_utilization.py [--items 12] [--mix wide|narrow] [--epochs-scale 1]
                                                   [--gpus 0.25] [--keep DIR]

The cold floor printed beside the ratio is the best any scheduler could do with these items
run as fresh processes on this machine: the larger of (a) each item keeping the cores its
torch threads use for as long as it took alone (~0.62 with a quarter of the items holding both
of 2 cores, 0.5 for one-thread items) and (b) the machine's busy fraction while the items ran
one after another (their real CPU-seconds: start-up, telemetry writer, SQLite writes). The
queue goes below it by not paying the start-up: its items are forked warm
(`runners/queue/warm.py`); `IDEALOOP_WARM=0` measures the queue without that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIXES = {  # (stage, overrides, cpus): cycled through to make the items
    # A quarter of the items hold both of 2 cores: nothing packs beside them (bound ~0.62).
    "wide": [
        ("baseline", [], 0.5),
        ("generalize", ["epochs=2"], 1.0),
        ("generalize", ["epochs=2"], 0.5),
        ("generalize", ["epochs=4"], 2.0),
    ],
    # Items of one thread each, holding half a CPU or one: all of them can pack (bound ~0.5).
    "narrow": [
        ("baseline", [], 0.5),
        ("generalize", ["epochs=2"], 1.0),
        ("generalize", ["epochs=4"], 0.5),
        ("generalize", ["epochs=4"], 1.0),
    ],
}


def _scaled(setting: str, factor: int) -> str:
    key, _, value = setting.partition("=")
    return f"{key}={int(value) * factor}" if key == "epochs" else setting


def cpu_times() -> tuple[float, float]:
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class Sampler(threading.Thread):
    """The machine's busy-CPU fraction, and nvidia-smi's GPU utilization, while it runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop, self.gpu = threading.Event(), []
        self.smi = shutil.which("nvidia-smi")

    def run(self) -> None:
        self.start_busy, self.start_total = cpu_times()
        while not self.stop.wait(1.0):
            if self.smi:
                query = [self.smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
                out = subprocess.run(query, capture_output=True, text=True).stdout
                self.gpu += [float(x) for x in out.split()]

    def finish(self) -> tuple[float, float | None]:
        self.stop.set()
        self.join()
        busy, total = cpu_times()
        cpu = (busy - self.start_busy) / max(total - self.start_total, 1)
        return cpu, (sum(self.gpu) / len(self.gpu) / 100 if self.gpu else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=12)
    ap.add_argument("--gpus", type=float, default=0.0, help="GPU fraction each item holds (a GPU machine)")
    ap.add_argument("--num-cpus", type=int, default=os.cpu_count(), help="the queue's Ray head CPUs")
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--mix", choices=sorted(MIXES), default="wide", help="the items' CPU needs (see MIXES)")
    ap.add_argument(
        "--epochs-scale", type=int, default=1, help="multiply the generalize items' epochs (longer items)"
    )
    ap.add_argument("--keep", help="keep the store in this folder (default: a temp folder, removed)")
    args = ap.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="idealoop-queue-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db", "IDEALOOP_PROJECT": "bench",
           "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"), "PYTHONPATH": path}  # fmt: skip
    cli = [sys.executable, "-m", "runners.cli"]

    def call(*a: str, extra: dict | None = None) -> str:
        done = subprocess.run([*cli, *a], env={**env, **(extra or {})}, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"`idealoop {' '.join(a)}` failed: {done.stderr[-1500:]}")
        return done.stdout.strip()

    idea = call("idea", "add", "--title", "bench", "--hours", "1", "--complexity", "1", "--impact", "0.01",
                "--likelihood", "0.5", "--create")  # fmt: skip
    scaled = [
        (stage, [_scaled(x, args.epochs_scale) for x in sets], cpus) for stage, sets, cpus in MIXES[args.mix]
    ]
    items = [scaled[n % len(scaled)] for n in range(args.items)]

    seq_s, bound, seq_busy = None, None, None
    if not args.skip_sequential:
        t, core_s = time.monotonic(), 0.0
        seq_sampler = Sampler()
        seq_sampler.start()
        for stage, sets, cpus in items:
            threads = max(1, int(cpus))
            t_item = time.monotonic()
            call(
                "run",
                stage,
                "--idea",
                idea,
                "--no-progress",
                *[x for s in sets for x in ("--set", s)],
                extra={"OMP_NUM_THREADS": str(threads)},
            )
            core_s += (time.monotonic() - t_item) * min(threads, args.num_cpus)
        seq_s = time.monotonic() - t
        seq_busy, _ = seq_sampler.finish()
        # Two floors under the queue's time / sequential time. Threads: every item keeps the cores
        # its torch threads use for as long as it took alone. Measured: the CPU-seconds the items
        # really took (a one-thread item also runs its telemetry writer, its start-up, SQLite):
        # the machine's busy fraction while they ran one after another, which no scheduler on
        # this machine can beat.
        by_threads = core_s / args.num_cpus / seq_s
        bound = max(by_threads, seq_busy)
        print(f"sequential: {seq_s:.1f} s for {len(items)} items; machine CPUs busy {seq_busy:.2f}, "
              f"by threads {by_threads:.2f}: cold floor {bound:.2f}", flush=True)  # fmt: skip

    for stage, sets, cpus in items:
        held = ["--cpus", f"{cpus:g}", "--gpus", f"{args.gpus:g}", "--minutes", "5"]
        call(
            "queue", "add", "--idea", idea, "--stage", stage, *held, *[x for s in sets for x in ("--set", s)]
        )
    sampler = Sampler()
    sampler.start()
    t = time.monotonic()
    head = ["--num-cpus", str(args.num_cpus)] + (["--num-gpus", "1"] if args.gpus else [])
    started = subprocess.run([*cli, "queue", "start", "--until", "+60m", "--poll", "1", *head], env=env,
                             capture_output=True, text=True)  # fmt: skip
    (work / "driver.log").write_text(started.stderr)
    queue_s = time.monotonic() - t
    machine_cpu, gpu_util = sampler.finish()
    report = json.loads(call("queue", "report", "--json"))
    use = report["usage"]
    states = [i["state"] for i in report["items"]]
    held_cpu = use["cpu_used"] / max(use["cpu_used"] + use["cpu_idle"], 1e-12)
    print(f"queue:      {queue_s:.1f} s for {len(items)} items ({states.count('done')} done)")
    if states.count("done") != len(items):
        sys.exit(f"not every item is done: {states}; see `idealoop queue report` in {work} (--keep)")
    if seq_s:
        warm = "off: IDEALOOP_WARM=0" if os.environ.get("IDEALOOP_WARM") == "0" else "on"
        print(f"ratio queue / sequential: {queue_s / seq_s:.2f}  (target <= 0.6 on 2 cores; the cold "
              f"floor of these items on this machine: {bound:.2f}; warm starts {warm})")  # fmt: skip
    print(f"busy-CPU fraction during the queue: {held_cpu:.2f} of the Ray head's CPUs held by items "
          f"(target >= 0.9); machine CPUs busy (/proc/stat): {machine_cpu:.2f}")  # fmt: skip
    if args.gpus:
        held_gpu = use["gpu_used"] / max(use["gpu_used"] + use["gpu_idle"], 1e-12)
        smi = f"{gpu_util:.2f}" if gpu_util is not None else "n/a (no nvidia-smi)"
        print(f"GPU held by items: {held_gpu:.2f} of the session's GPU-hours; nvidia-smi utilization: {smi}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
