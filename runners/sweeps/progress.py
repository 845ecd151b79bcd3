"""Live console progress of a sweep: trials running / stopped / done / failed, best so far.

A Ray Tune `Callback` (runs in the driver): one line on stderr whenever a trial
starts, ends or beats the best, and at most every `every_s` seconds otherwise, e.g.

    [  42s] 8 trials: 2 running, 3 pending, 2 stopped, 1 done, 0 failed | best val/accuracy 0.962 (lr=0.003…)

A trial whose process was killed under it (SIGKILL, the OOM killer, a lost node: Ray's
process-death errors, `tracker.sweeps.killed_from_outside`) is counted `killed`, apart from
`failed` (its code raised): the run is tagged `killed` too, and the sweep goes on
(`…, 1 failed, 1 killed`; the count shows once a trial was killed).

Ray's own verbose table is switched off by the driver, so this is the only output.
The counting is a small pure class (`Tally`) so it is unit-tested without Ray.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from ray.tune import Callback

from runners.sweeps.fail_fast import recorded_error
from tracker.sweeps import killed_from_outside

STATES = ("running", "stopped", "done", "failed", "killed")


@dataclass
class Tally:
    """Trial states and the best result, from Tune's events. Pure bookkeeping."""

    metric: str
    higher_is_better: bool
    max_iterations: int
    num_trials: int = 0
    shown: list[str] = field(default_factory=list)  # config keys shown with the best (the sampled ones)
    state: dict[str, str] = field(default_factory=dict)  # trial id -> running|stopped|done|failed|killed
    best: float | None = None
    best_config: dict = field(default_factory=dict)

    def started(self, trial_id: str) -> None:
        self.state[trial_id] = "running"

    def result(self, trial_id: str, value: float | None, config: dict) -> bool:
        """Record a reported value; True when it is a new best."""
        self.state.setdefault(trial_id, "running")
        if value is None or value != value:  # NaN never wins
            return False
        if self.best is None or (value > self.best if self.higher_is_better else value < self.best):
            self.best, self.best_config = value, dict(config)
            return True
        return False

    def ended(self, trial_id: str, iteration: int, failed: bool = False, killed: bool = False) -> None:
        if killed:
            self.state[trial_id] = "killed"
        elif failed:
            self.state[trial_id] = "failed"
        else:
            self.state[trial_id] = "done" if iteration >= self.max_iterations else "stopped"

    def line(self, elapsed_s: float) -> str:
        n = {k: sum(1 for s in self.state.values() if s == k) for k in STATES}
        pending = max(self.num_trials - len(self.state), 0)
        text = (
            f"[{elapsed_s:5.0f}s] {max(self.num_trials, len(self.state))} trials: "
            f"{n['running']} running, "
            f"{pending} pending, {n['stopped']} stopped, {n['done']} done, {n['failed']} failed"
        )
        if n["killed"]:
            text += f", {n['killed']} killed"
        if self.best is not None:
            keys = self.shown or list(self.best_config)
            shown = ", ".join(f"{k}={_short(self.best_config[k])}" for k in keys if k in self.best_config)
            text += f" | best {self.metric} {self.best:.4g} ({shown})"
        return text


def _short(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


class ProgressCallback(Callback):
    """Prints `Tally.line()` to stderr as the sweep goes."""

    def __init__(
        self,
        shown: list[str],
        metric: str,
        higher_is_better: bool,
        max_iterations: int,
        num_trials: int,
        every_s: float = 10.0,
        stream=None,
    ) -> None:
        self.tally = Tally(metric, higher_is_better, max_iterations, num_trials, shown=shown)
        self.every_s = every_s
        self.stream = stream
        self._t0 = time.monotonic()
        self._last = 0.0
        self._said = ""  # the last line printed, without its elapsed time

    def _print(self, force: bool = False) -> None:
        now = time.monotonic()
        line = self.tally.line(now - self._t0)
        news = line.split("] ", 1)[-1] != self._said  # the same counts again, only later: no line
        if (force and news) or now - self._last >= self.every_s:
            self._last, self._said = now, line.split("] ", 1)[-1]
            print(line, file=self.stream or sys.stderr, flush=True)

    def on_trial_start(self, iteration, trials, trial, **info):
        self.tally.num_trials = max(self.tally.num_trials, len(trials))
        self.tally.started(trial.trial_id)
        self._print(force=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        new_best = self.tally.result(trial.trial_id, result.get(self.tally.metric), trial.config)
        self._print(force=new_best)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.tally.ended(trial.trial_id, _iteration(trial))
        self._print(force=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._errored(trial)
        self._print(force=True)

    def on_experiment_end(self, trials, **info):
        # A resumed sweep's trials that had ended before it sent no events this time.
        self.tally.num_trials = max(self.tally.num_trials, len(trials))
        for trial in trials:
            if self.tally.state.get(trial.trial_id) in ("failed", "killed"):
                continue
            if trial.status == "ERROR":
                self._errored(trial)
            elif trial.status == "TERMINATED":
                self.tally.ended(trial.trial_id, _iteration(trial))
        self._print(force=True)

    def _errored(self, trial) -> None:
        """Failed (its code raised) or killed (its process died under it), by Ray's recorded error."""
        killed = killed_from_outside(recorded_error(trial))
        self.tally.ended(trial.trial_id, _iteration(trial), failed=not killed, killed=killed)


def _iteration(trial) -> int:
    return int((trial.last_result or {}).get("training_iteration", 0) or 0)
