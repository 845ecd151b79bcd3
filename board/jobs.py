"""Stages launched from the board: a background process per launch, polled, cancellable.

The board never trains in its own process: a stage runs as `python -m runners.cli
run <stage> --tracking-uri URI --project P --idea ID --no-progress`, in its own session
(so SIGTERM reaches it and not the board). A launch is given a `Target` (the board's
store and the idea's full id, tracker/store.py) and puts all of it on the command line,
so the job writes where the board reads, whatever its environment says. The CLI
announces `<entry point>: run <id> in project ...` on stderr at start and prints the
run id on stdout at the end; that is how a job finds its run, which the stage itself
creates nested under the idea. Cancel sends SIGTERM.

`STAGES` is the one table of what can be launched: the ladder's stages, a sweep
(`idealoop tune`, which announces `tune: sweep <id> ...` instead) and a climb (`idealoop
climb`: every rung announces its run as `idealoop run` does; the job's run is the first). A launch may name a
task (built-in or `package.module:function`), `--set` overrides (checked against the stage's
config before anything starts: the CLI's own one-line error, nothing launched) and, for a
sweep, the stage its trials run, a space file, a sample count, epochs per trial and how many
trials run at once.

Every launch is kept in a registry for the life of the board server (`launched`), so any
tab sees, and can cancel, the jobs any tab started. `running_runs` reads what is running in
the project whoever started it (another board, the CLI), with when each run last logged.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from runners.stages import LADDER
from runners.stages import STAGES as LADDER_STAGES
from runners.stages.config import ConfigError, read_mapping, resolve
from tracker.queries import RunRow, run_row
from tracker.store import TAG_KIND, Store, Target

REPO = Path(__file__).resolve().parent.parent

# stage -> (label, CLI arguments after `python -m runners.cli`): the ladder's own table.
STAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{s.name: (f"{s.entry_point}: {s.help}", ("run", s.name)) for s in LADDER},
    "tune": ("sweep: the idea's variants as Ray Tune trials on generalize, ASHA stops the weak", ("tune",)),
    "climb": (
        "climb: the whole ladder, stopping at a failed gate, an optional sweep, then the verdict",
        ("climb",),
    ),
}
DEFAULT_SPACE = str(REPO / "examples" / "space.yaml")
# A sweep's trials run one of these stages; its settings' defaults (`runners/sweeps/settings.py`, which
# the board may not import: tests/board/test_jobs.py holds the two equal).
SWEEP_STAGES = ("generalize", "scale")
SWEEP_SAMPLES = 8
SWEEP_CONCURRENT = 2
KEEP_FINISHED = 20  # finished jobs a board server remembers per store
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
    command: tuple[str, ...] = ()
    started: float = field(default_factory=time.time)
    cancelled: bool = False

    @property
    def cli(self) -> str:
        """The command as a researcher would type it: `idealoop ...`, the store's flags left out."""
        args = list(self.command[3:])  # after `python -m runners.cli`
        for flag in ("--tracking-uri", "--project"):
            if flag in args:
                i = args.index(flag)
                del args[i : i + 2]
        return shlex.join(["idealoop", *args])

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


def config_class(stage: str, sweep_stage: str = "") -> type:
    """The config a launch is checked against: the stage's, or for a sweep its trials' stage's."""
    if stage in ("tune", "climb"):  # a climb's sweep runs generalize trials
        return LADDER_STAGES[sweep_stage or SWEEP_STAGES[0]].config
    return LADDER_STAGES[stage].config


def check_overrides(stage: str, overrides: list[str], sweep_stage: str = "", space: str = "") -> None:
    """Refuse, before anything starts, what `idealoop run`/`tune` would refuse: the same one line.
    A sweep's space file is read here too (that it is a readable mapping file; its keys the CLI checks)."""
    if stage not in STAGES:
        raise LaunchError(f"stage {stage!r} cannot be launched; known: {', '.join(STAGES)}")
    if stage == "tune" and sweep_stage and sweep_stage not in SWEEP_STAGES:
        raise LaunchError(f"stage={sweep_stage!r} cannot be swept; allowed: {', '.join(SWEEP_STAGES)}")
    pairs = {}
    for pair in overrides:  # split as `idealoop run --set` splits them
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise LaunchError(f"override {pair!r} is not KEY=VALUE")
        pairs[key.strip()] = value.strip()
    if stage == "climb" and pairs:  # `idealoop climb` takes no --set: each rung runs its own config
        raise LaunchError("a climb takes no config overrides: launch a single stage to change one")
    try:
        resolve(config_class(stage, sweep_stage), None, pairs)
        if stage == "tune" or (stage == "climb" and space):
            read_mapping(space or DEFAULT_SPACE, "space file")
    except ConfigError as exc:
        raise LaunchError(str(exc)) from None


def command(
    stage: str,
    target: Target,
    overrides: list[str],
    *,
    task: str = "",
    space: str = "",
    samples: int = 0,
    iterations: int = 0,
    concurrent: int = 0,
    sweep_stage: str = "",
    seeds: int = 0,
) -> list[str]:
    if stage not in STAGES:
        raise LaunchError(f"stage {stage!r} cannot be launched; known: {', '.join(STAGES)}")
    args = [sys.executable, "-m", "runners.cli", *STAGES[stage][1]]
    args += ["--tracking-uri", target.store.uri, "--project", target.store.project, "--idea", target.idea_id]
    if stage == "tune" or (stage == "climb" and space):
        args += ["--space", space or DEFAULT_SPACE]
        for flag, value in (
            ("--stage", sweep_stage),
            ("--num-samples", samples),
            ("--max-iterations", iterations),
            ("--max-concurrent", concurrent),
        ):
            if value:
                args += [flag, str(value)]
    if stage != "tune":
        args.append("--no-progress")
    if stage == "climb" and seeds > 1:
        args += ["--seeds", str(seeds)]
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
    concurrent: int = 0,
    sweep_stage: str = "",
    seeds: int = 0,
) -> Job:
    """Check the overrides, start the stage (or sweep) in the background, register it, return at once."""
    check_overrides(stage, list(overrides), sweep_stage, space)
    cmd = command(
        stage,
        target,
        list(overrides),
        task=task,
        space=space,
        samples=samples,
        iterations=iterations,
        concurrent=concurrent,
        sweep_stage=sweep_stage,
        seeds=seeds,
    )
    env = dict(os.environ)
    env.pop("MLFLOW_RUN_ID", None)  # never adopt a run the board's own process was given
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    log_dir = tempfile.mkdtemp(prefix=f"idealoop-{stage}-")
    with open(Path(log_dir, "stdout.txt"), "wb") as out, open(Path(log_dir, "stderr.txt"), "wb") as err:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    job = Job(stage, target, process, log_dir, tuple(cmd))
    _register(job)
    return job


def cancel(job: Job) -> None:
    """Ask the stage to stop (SIGTERM to its process group); the stage ends its run KILLED."""
    if job.alive:
        job.cancelled = True
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


# -- every job this board server started, from any tab --------------------------------------------
_JOBS: list[Job] = []  # newest first; module-level: one per server process, shared by every session
_JOBS_LOCK = threading.Lock()


def _register(job: Job) -> None:
    with _JOBS_LOCK:
        _JOBS.insert(0, job)
        finished = [j for j in _JOBS if j.target.store == job.target.store and not j.alive]
        for old in finished[KEEP_FINISHED:]:
            _JOBS.remove(old)


def launched(store: Store) -> list[Job]:
    """The jobs this board server started on `store`, newest first (the last few finished ones too)."""
    with _JOBS_LOCK:
        return [j for j in _JOBS if j.target.store == store]


# -- what runs in the project, whoever started it ---------------------------------------------------
@dataclass
class Live:
    """A RUNNING stage run, sweep or trial, and when it last logged a metric (ms; its start if never)."""

    row: RunRow
    last_logged: int


def running_runs(store: Store) -> list[Live]:
    """The project's RUNNING stage runs, sweeps and trials, newest first: from this board, another
    board or the CLI. MLflow knows no process, so a run whose process died stays RUNNING here;
    `last_logged` is how the page tells a quiet run."""
    out = []
    for run in store.search_all("attributes.status = 'RUNNING'", order_by=["start_time DESC"]):
        if run.data.tags.get(TAG_KIND) not in ("stage", "sweep", "trial"):
            continue
        row = run_row(run)
        stamps = [m.timestamp for m in run.data.to_proto().metrics]
        out.append(Live(row, max(stamps, default=row.start_time)))
    return out
