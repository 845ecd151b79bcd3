"""The Queue page's "add": `idealoop queue add` run as a process, so an item added on the board is
checked exactly as one added on the command line (idea, stage, task, config, a sweep's space),
and a refusal is the CLI's own one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracker.store import Store

REPO = Path(__file__).resolve().parents[1]
ADD_TIMEOUT_S = 120  # the checks import torch and load the task: seconds, more on a busy machine


def add_command(store: Store, idea_id: str, *, stage: str = "", sweep: str = "", sweep_stage: str = "",
                climb: str = "", task: str = "", overrides: list[str] = (), cpus: float = 1.0,
                gpus: float = 0.0, minutes: float | None = None, priority: float | None = None,
                ) -> list[str]:  # fmt: skip
    """`idealoop queue add` for a stage, a sweep (its space file) or a climb (its top rung)."""
    cmd = [sys.executable, "-m", "runners.cli", "queue", "add", "--tracking-uri", store.uri]
    cmd += ["--project", store.project, "--idea", idea_id, "--cpus", f"{cpus:g}", "--gpus", f"{gpus:g}"]
    if sweep:
        cmd += ["--sweep", sweep, "--sweep-stage", sweep_stage or "generalize"]
    else:
        cmd += ["--climb", "--to", climb] if climb else ["--stage", stage]
    cmd += ["--task", task] if task.strip() else []
    cmd += ["--minutes", f"{minutes:g}"] if minutes else []
    cmd += ["--priority", f"{priority:g}"] if priority is not None else []
    for pair in overrides:
        cmd += ["--set", pair]
    return cmd


def add(cmd: list[str]) -> tuple[bool, str]:
    """(True, item id) or (False, the CLI's one error line)."""
    env = dict(os.environ)
    env.pop("MLFLOW_RUN_ID", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=ADD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"`idealoop queue add` did not answer within {ADD_TIMEOUT_S} s"
    if done.returncode == 0 and done.stdout.strip():
        return True, done.stdout.strip().splitlines()[-1]
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("idealoop:")]
    return False, (lines[-1] if lines else done.stderr.strip()[-300:] or f"exit {done.returncode}")
