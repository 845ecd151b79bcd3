"""What the CLI's quick exit saves: each command timed with the ordinary interpreter exit
(IDEALOOP_FULL_EXIT=1, the baseline) and with `runners.process.exit_now`, rounds alternated.

Prints the median wall seconds of each and their ratio, per command:
`idea list` (MLflow loaded) and `run baseline` (MLflow, torch and scikit-learn loaded).

    PYTHONPATH=. python bench/cli_exit.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="idealoop-exit-"))
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db",
        "IDEALOOP_PROJECT": "exit-bench",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cli = [sys.executable, "-m", "runners.cli"]
    idea = subprocess.run(
        [*cli, "idea", "add", "--title", "bench", "--hours", "1", "--complexity", "1",
         "--impact", "0.01", "--likelihood", "0.5"],
        env=env, cwd=work, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    commands = {
        "idea list": ["idea", "list"],
        "run baseline": ["run", "baseline", "--idea", idea, "--no-progress"],
    }
    for label, argv in commands.items():
        times: dict[str, list[float]] = {"full exit": [], "quick exit": []}
        for _ in range(args.rounds):
            for arm, full in (("full exit", "1"), ("quick exit", "0")):
                t0 = time.perf_counter()
                subprocess.run([*cli, *argv], env={**env, "IDEALOOP_FULL_EXIT": full}, cwd=work,
                               capture_output=True, check=True)  # fmt: skip
                times[arm].append(time.perf_counter() - t0)
        full, quick = (statistics.median(times[a]) for a in ("full exit", "quick exit"))
        print(f"{label:<14} full exit {full:5.2f} s   quick exit {quick:5.2f} s   "
              f"ratio {quick / full:.2f}  (saves {full - quick:.2f} s, median of {args.rounds})")  # fmt: skip


if __name__ == "__main__":
    main()
