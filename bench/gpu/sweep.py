"""An `idealoop tune` sweep with fractional GPUs, checked from its store: did the trials share the GPU?

    python bench/gpu/sweep.py [--num-samples 8] [--gpus-per-trial 0.25] [--max-concurrent 4]

Runs `idea add` and `tune --stage generalize` through the CLI in a fresh SQLite store (each a
process, as a user runs them), then reads the trials' runs back: how many finished, on which
device each trained (`device_resolved`: with a GPU share, Ray shows the trial the GPU and the
stage's `device=auto` takes it), and how many ran at once (from the runs' start and end times).
Prints one line, and `figure: {json}` for bench/gpu/suite.sh. Exit 1 when a trial did not finish
or, with GPUs asked for, trained anywhere but a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-samples", type=int, default=8)
    ap.add_argument("--gpus-per-trial", type=float, default=0.25)
    ap.add_argument("--max-concurrent", type=int, default=4)
    ap.add_argument("--max-iterations", type=int, default=4, help="epochs per trial at most")
    ap.add_argument("--space", default=str(ROOT / "examples" / "space.yaml"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="idealoop-gpu-sweep-"))
    uri = f"sqlite:///{work}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "IDEALOOP_PROJECT": "gpu-sweep"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

    def cli(*argv: str) -> str:
        cmd = [sys.executable, "-m", "runners.cli", *argv]
        proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            sys.exit(f"sweep: `idealoop {argv[0]}` failed (exit {proc.returncode})")
        return proc.stdout.strip()

    idea = cli("idea", "add", "--title", "gpu sweep", "--hours", "1", "--complexity", "1",
               "--impact", "0.01", "--likelihood", "0.5")  # fmt: skip
    t0 = time.perf_counter()
    sweep_id = cli(
        "tune", "--idea", idea, "--stage", "generalize", "--space", args.space,
        "--num-samples", str(args.num_samples), "--max-concurrent", str(args.max_concurrent),
        "--gpus-per-trial", f"{args.gpus_per_trial:g}", "--max-iterations", str(args.max_iterations),
    ).splitlines()[-1]  # fmt: skip
    seconds = time.perf_counter() - t0

    sys.path.insert(0, str(ROOT))
    from tracker.store import Store

    store = Store.resolve(uri=uri, project="gpu-sweep")
    trials = store.search_all(f"tags.`mlflow.parentRunId` = '{sweep_id}'")
    devices: dict[str, int] = {}
    for t in trials:
        d = t.data.params.get("device_resolved", "?")
        devices[d] = devices.get(d, 0) + 1
    finished = sum(t.info.status == "FINISHED" for t in trials)
    spans = [(t.info.start_time, t.info.end_time or t.info.start_time) for t in trials]
    peak = max((sum(s <= at < e for s, e in spans) for at, _ in spans), default=0)
    on_gpu = all(d.startswith("cuda") for d in devices)
    figure = {
        "trials": len(trials), "finished": finished, "seconds": round(seconds, 1), "devices": devices,
        "peak_concurrent": peak, "gpus_per_trial": args.gpus_per_trial, "all_on_gpu": on_gpu,
    }  # fmt: skip
    shown = ", ".join(f"{d} x{n}" for d, n in sorted(devices.items()))
    print(f"sweep: {len(trials)} trials at {args.gpus_per_trial:g} GPU each in {seconds:.1f} s; "
          f"{finished} finished; trained on {shown}; at most {peak} at once")  # fmt: skip
    print("figure: " + json.dumps(figure))
    bad = finished < args.num_samples or (args.gpus_per_trial > 0 and not on_gpu)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
