"""Stages launched from the board: a background process per launch, polled, cancellable.

The board never trains in its own process: a stage runs as `python -m runners.cli
run <stage> --tracking-uri URI --project P --idea ID --no-progress`, in its own session
(so SIGTERM reaches it and not the board). A launch is given a `Target` (the board's
store and the idea's full id, tracker/store.py) and puts all of it on the command line,
so the job writes where the board reads, whatever its environment says. The CLI
announces `<entry point>: run <id> in project ...` on stderr at start and prints the
run id on stdout at the end; that is how a job finds its run, which the stage itself
creates nested under the idea. Cancel sends SIGTERM.

`STAGES` is the one table of what can be launched: the ladder's stages and a sweep
(`idealoop tune`, which announces `tune: sweep <id> ...` instead). A launch may name a
task (built-in or `package.module:function`) and, for a sweep, a space file and a sample count.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from runners.stages import LADDER
from tracker.store import Target

REPO = Path(__file__).resolve().parent.parent

# stage -> (label, CLI arguments after `python -m runners.cli`): the ladder's own table.
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{s.name: (f"{s.entry_point}: {s.help}", ("run", s.name)) for s in LADDER},
    "tune": ("sweep: the idea's variants as Ray Tune trials on generalize, ASHA stops the weak", ("tune",)),
}
DEFAULT_SPACE = str(REPO / "examples" / "space.yaml")
_RUN_LINE = re.compile(r"\b\w+: (?:run|sweep) ([0-9a-f]{32}) (?:in project|for idea)")


class LaunchError(ValueError):
    """A launch the board refuses (unknown stage, bad override); one line for the user."""


@dataclass
class Job:
    """One launched stage: its process and where its output goes."""

    stage: str
    target: Target
    process: subprocess.Popen
    log_dir: str
    started: float = field(default_factory=time.time)
    cancelled: bool = False

    @property
    def idea_id(self) -> str:
        return self.target.idea_id

    @property
    def pid(self) -> int:
        return self.process.pid

    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def alive(self) -> bool:
        return self.returncode() is None

    def stderr(self) -> str:
        return Path(self.log_dir, "stderr.txt").read_text(errors="replace")

    def run_id(self) -> str:
        """The stage run's id once the stage has announced it, else ''."""
        m = _RUN_LINE.search(self.stderr())
        return m.group(1) if m else ""

    def last_message(self) -> str:
        lines = [ln for ln in self.stderr().splitlines() if ln.strip()]
        return lines[-1] if lines else ""


def parse_overrides(text: str) -> list[str]:
    """`key=value` per line (or comma-separated) → CLI `--set` pairs; a malformed one is refused."""
    pairs = [p.strip() for line in text.splitlines() for p in line.split(",") if p.strip()]
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        if not sep or not key.strip():
            raise LaunchError(f"override {pair!r} is not KEY=VALUE")
    return pairs


def command(
    stage: str,
    target: Target,
    overrides: list[str],
    *,
    task: str = "",
    space: str = "",
    samples: int = 0,
    iterations: int = 0,
) -> list[str]:
    if stage not in STAGES:
        raise LaunchError(f"stage {stage!r} cannot be launched; known: {', '.join(STAGES)}")
    args = [sys.executable, "-m", "runners.cli", *STAGES[stage][1]]
    args += ["--tracking-uri", target.store.uri, "--project", target.store.project, "--idea", target.idea_id]
    if stage == "tune":
        args += ["--space", space or DEFAULT_SPACE]
        if samples:
            args += ["--num-samples", str(samples)]
        if iterations:
            args += ["--max-iterations", str(iterations)]
    else:
        args.append("--no-progress")
    if task.strip():
        args += ["--task", task.strip()]
    for pair in overrides:
        args += ["--set", pair]
    return args


def launch(
    stage: str,
    target: Target,
    *,
    overrides: list[str] = (),
    task: str = "",
    space: str = "",
    samples: int = 0,
    iterations: int = 0,
) -> Job:
    """Start the stage (or sweep) in the background and return at once."""
    cmd = command(
        stage, target, list(overrides), task=task, space=space, samples=samples, iterations=iterations
    )
    env = dict(os.environ)
    env.pop("MLFLOW_RUN_ID", None)  # never adopt a run the board's own process was given
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    log_dir = tempfile.mkdtemp(prefix=f"idealoop-{stage}-")
    with open(Path(log_dir, "stdout.txt"), "wb") as out, open(Path(log_dir, "stderr.txt"), "wb") as err:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return Job(stage, target, process, log_dir)


def cancel(job: Job) -> None:
    """Ask the stage to stop (SIGTERM to its process group); the stage ends its run KILLED."""
    if job.alive:
        job.cancelled = True
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
