"""How long one turn of the research loop takes: idea → gates → sweep → proposed estimates.

Runs the whole loop on the demo task (`digits`) the way a user does, through the
`idealoop` command in a fresh store, twice (`--mode both`, the default):

- **one command** (`idealoop climb`): `idea add`, then `climb --space ... --accept`:
  stage 0, baseline, overfit, generalize, the sweep and the verdict in one process
  (Ray starts while the stages' imports load);
- **step by step**, a command per step, as at a terminal:
  1. idea add          the idea, with its first estimates
  2. baseline          the non-deep-learning score to beat
  3. stage_overfit     1 sample, then a few: the loss must reach ~0
  4. stage_generalize  full data, small model: val loss must fall
  5. tune (ASHA)       a small sweep of the idea's variants on generalize
  6. outcome           evidence → verdict → proposed estimates (accepted)

Every step is a separate process, so interpreter, import and exit time is counted: it is
part of what the user waits for. Targets on 2 CPU cores: the loop with an 8-trial sweep of
4 packed seeds each under 30 s (issue 16, one command); on one GPU under 60 s.

    python bench/turnaround.py [--num-samples 8] [--seeds 4] [--mode both|climb|steps] [--keep DIR]
    python bench/turnaround.py --device cuda --mode climb --max-concurrent 4   # on one GPU: 0.25 a trial
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
    ap.add_argument("--num-samples", type=int, default=8, help="sweep trials (default 8)")
    ap.add_argument("--max-concurrent", type=int, default=2)
    ap.add_argument("--max-iterations", type=int, default=8, help="epochs per trial at most")
    ap.add_argument("--space", default=str(ROOT / "examples" / "space.yaml"))
    ap.add_argument("--seeds", type=int, default=4, help="seeds per trial, packed (default 4)")
    ap.add_argument("--mode", choices=("both", "climb", "steps"), default="both")
    ap.add_argument("--keep", help="keep the stores in this folder (default: a temp folder, removed)")
    ap.add_argument("--device", default="", help="cpu | cuda | cuda:N for every stage (default: each's own)")
    ap.add_argument(
        "--gpus-per-trial",
        type=float,
        help="Ray GPUs a trial holds (default 0.25 with --device cuda, else 0)",
    )
    args = ap.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="idealoop-turnaround-"))
    work.mkdir(parents=True, exist_ok=True)
    sweep = ["--space", args.space, "--num-samples", str(args.num_samples), "--seeds", str(args.seeds)]
    sweep += ["--max-concurrent", str(args.max_concurrent), "--max-iterations", str(args.max_iterations)]
    gpus = args.gpus_per_trial if args.gpus_per_trial is not None else 0.25 * args.device.startswith("cuda")
    sweep += ["--gpus-per-trial", f"{gpus:g}"] if gpus else []  # Ray shows a trial no GPU it did not ask for
    device = ["--set", f"device={args.device}"] if args.device else []  # `run` and `tune` take config keys
    totals = {}
    for mode in ("climb", "steps") if args.mode == "both" else (args.mode,):
        store = work / mode
        store.mkdir(exist_ok=True)
        loop = Loop(store)
        idea = loop.step(
            "idea add", "idea", "add", "--title", "Tune learning rate and width", "--hours", "1",
            "--complexity", "1", "--impact", "0.02", "--likelihood", "0.5", "--category", "optimization",
        ).strip()  # fmt: skip
        what = f"{args.num_samples} trials x {args.seeds} seeds"
        if mode == "climb":
            on = ["--device", args.device] if args.device else []
            out = loop.step(f"climb (4 stages, {what}, verdict)", "climb", "--idea", idea, *sweep, *on,
                            "--accept", "--json", "--no-progress")  # fmt: skip
            outcome = json.loads(out)["assessment"]
        else:
            loop.step("baseline", "run", "baseline", "--idea", idea, "--no-progress")
            loop.step("stage_overfit", "run", "overfit", "--idea", idea, *device, "--no-progress")
            loop.step("stage_generalize", "run", "generalize", "--idea", idea, *device, "--no-progress")
            loop.step(f"tune ({what})", "tune", "--idea", idea, "--stage", "generalize", *sweep, *device)
            outcome = json.loads(loop.step("outcome + accept", "idea", "outcome", idea, "--accept", "--json"))
        totals[mode] = loop.report(mode, outcome, args.device)
    if len(totals) == 2:
        print(f"\none command / step by step: {totals['climb']:.1f} / {totals['steps']:.1f} s = "
              f"{totals['climb'] / totals['steps']:.2f}")  # fmt: skip
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


class Loop:
    """One turn of the loop in its own fresh store: each step a timed `idealoop` process."""

    def __init__(self, work: Path) -> None:
        self.work, self.times = work, []
        self.env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db",
            "IDEALOOP_PROJECT": "turnaround",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.env.pop("MLFLOW_RUN_ID", None)
        self.t0 = time.perf_counter()

    def step(self, label: str, *argv: str) -> str:
        print(f"-- {label}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "runners.cli", *argv]
        proc = subprocess.run(cmd, cwd=self.work, env=self.env, stdout=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"turnaround: step {label!r} failed (exit {proc.returncode})")
        self.times.append((label, seconds))
        return proc.stdout

    def report(self, mode: str, outcome: dict, device: str = "") -> float:
        total = time.perf_counter() - self.t0
        title = "one command (idealoop climb)" if mode == "climb" else "step by step"
        where = f"{os.cpu_count()} CPU cores" + (f", device {device}" if device else "")
        print(f"\nturnaround, {title}, on {where}:")
        for label, seconds in self.times:
            print(f"  {label:<44} {seconds:7.1f} s")
        print(f"  {'whole loop':<44} {total:7.1f} s   (target < 30 s on 2 CPU cores, < 60 s on one GPU)")
        verdict, proposal = outcome["verdict"], outcome["proposal"]
        target = outcome["evidence"]["target"]
        print(f"  verdict: {verdict['verdict']} (observed gain {verdict['impact']:+.4f} in val {target}); "
              f"proposed likelihood {proposal['likelihood']:.3f}")  # fmt: skip
        return total


if __name__ == "__main__":
    main()
