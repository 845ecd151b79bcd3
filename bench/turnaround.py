"""How long one turn of the research loop takes: idea → gates → sweep → proposed estimates.

Runs the whole loop on the demo task (`digits`) the way a user does, through the
`idealoop` command in a fresh store, and prints the seconds of each step:

  1. idea add          the idea, with its first estimates
  2. baseline          the non-deep-learning score to beat
  3. stage_overfit     1 sample, then a few: the loss must reach ~0
  4. stage_generalize  full data, small model: val loss must fall
  5. tune (ASHA)       a small sweep of the idea's variants on generalize
  6. outcome           evidence → verdict → proposed estimates (accepted)

Each step is a separate process, as at a terminal, so interpreter and import time
(~2-3 s a step on 2 CPU cores) is counted: it is part of what the user waits for.
Target: the whole loop under 3 minutes on 2 CPU cores, under 1 minute on one GPU.

    python bench/turnaround.py [--num-samples 6] [--max-concurrent 2] [--seeds 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-samples", type=int, default=6, help="sweep trials (default 6)")
    ap.add_argument("--max-concurrent", type=int, default=2)
    ap.add_argument("--max-iterations", type=int, default=8, help="epochs per trial at most")
    ap.add_argument("--space", default=str(ROOT / "examples" / "space.yaml"))
    ap.add_argument(
        "--seeds", type=int, default=1, help="seeds per trial, packed (issue 16: 8 trials, --seeds 4)"
    )
    ap.add_argument("--keep", help="keep the store in this folder (default: a temp folder, removed)")
    args = ap.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="idealoop-turnaround-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db",
        "IDEALOOP_PROJECT": "turnaround",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("MLFLOW_RUN_ID", None)
    cli = [sys.executable, "-m", "runners.cli"]
    times: list[tuple[str, float]] = []

    def step(label: str, *argv: str) -> str:
        print(f"-- {label}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([*cli, *argv], cwd=work, env=env, stdout=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"turnaround: step {label!r} failed (exit {proc.returncode})")
        times.append((label, seconds))
        return proc.stdout

    total0 = time.perf_counter()
    idea = step(
        "idea add", "idea", "add", "--title", "Tune learning rate and width", "--hours", "1",
        "--complexity", "1", "--impact", "0.02", "--likelihood", "0.5", "--category", "optimization",
    ).strip()  # fmt: skip
    step("baseline", "run", "baseline", "--idea", idea, "--no-progress")
    step("stage_overfit", "run", "overfit", "--idea", idea, "--no-progress")
    step("stage_generalize", "run", "generalize", "--idea", idea, "--no-progress")
    step(
        f"tune ({args.num_samples} trials x {args.seeds} seeds)",
        "tune", "--idea", idea, "--stage", "generalize",
        "--space", args.space, "--num-samples", str(args.num_samples),
        "--max-concurrent", str(args.max_concurrent), "--max-iterations", str(args.max_iterations),
        "--seeds", str(args.seeds),
    )  # fmt: skip
    outcome = json.loads(step("outcome + accept", "idea", "outcome", idea, "--accept", "--json"))
    total = time.perf_counter() - total0

    print(f"\nturnaround on {os.cpu_count()} CPU cores (store {work}/mlflow.db):")
    for label, seconds in times:
        print(f"  {label:<28} {seconds:7.1f} s")
    print(f"  {'whole loop':<28} {total:7.1f} s   (target < 180 s on 2 CPU cores, < 60 s on one GPU)")
    verdict, proposal = outcome["verdict"], outcome["proposal"]
    print(f"verdict: {verdict['verdict']} (observed gain {verdict['impact']:+.4f} in val "
          f"{outcome['evidence']['target']}); proposed likelihood {proposal['likelihood']:.3f}")  # fmt: skip
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
