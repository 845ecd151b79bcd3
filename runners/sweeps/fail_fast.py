"""Stop a sweep whose trials all fail the same way: one line, in seconds, not a sweep's worth of them.

A task that breaks in training (a shape error at step 3, a NaN loss whatever the config)
breaks every trial. The first-batch checks catch most such tasks before Ray starts
(`runners/tasks/first_batch.py`); for the rest, once `min(3, trials)` trials have ended and
every one of them failed with the same error (numbers aside: "at step 3" and "at step 5" are
the same reason), the sweep stops. Its running trials are ended `failed` with that reason,
never `stopped_by_asha`, and the CLI prints the one line `SameFailure.line` composes.

`SameFailure` is the pure bookkeeping (unit-tested without Ray); `FailFast` adapts it to
Tune as a callback (it hears each trial end) and a stopper (`stop_all` ends the experiment).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import cloudpickle
from ray.tune import Callback
from ray.tune.stopper import Stopper

ENOUGH = 3  # trials that must all have failed alike before the sweep stops


def reason_of(error: str) -> str:
    """The error with its numbers blanked: two trials failing at different steps fail alike. Pure."""
    return re.sub(r"\d+(\.\d+)?", "#", error)


@dataclass
class SameFailure:
    """Trials that ended, and whether all of them failed for one reason."""

    num_trials: int
    ended: dict[str, str] = field(default_factory=dict)  # trial id -> error ("" = ended fine)

    tripped: bool = False  # once tripped it stays so: the trials it stops end after it

    def end(self, trial_id: str, error: str = "") -> None:
        if self.tripped:
            return
        self.ended[trial_id] = error
        errors = list(self.ended.values())
        enough = len(errors) >= min(ENOUGH, max(self.num_trials, 1))
        self.tripped = enough and all(errors) and len({reason_of(e) for e in errors}) == 1

    def line(self) -> str:
        first = next(iter(self.ended.values()), "")
        return f"every trial failed the same way ({len(self.ended)} of {self.num_trials} ended): {first}"

    def first_failed(self) -> str:
        return next(iter(self.ended), "")


class FailFast(Callback, Stopper):
    """The Tune side of `SameFailure`: hears trial ends, stops the experiment once it trips."""

    def __init__(self, num_trials: int) -> None:
        self.same = SameFailure(num_trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.same.end(trial.trial_id)

    def on_trial_error(self, iteration, trials, trial, **info):
        from tracker.sweeps import trial_error

        error = None
        path = trial.pickled_error_file  # the driver's local copy: the storage copy is synced later
        try:
            if path and os.path.exists(path):
                with open(path, "rb") as f:
                    error = cloudpickle.load(f)
        except Exception:  # noqa: BLE001 - an error that cannot be unpickled still failed the trial
            error = None
        self.same.end(trial.trial_id, trial_error(error) if error is not None else "the trial failed")

    def __call__(self, trial_id, result) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.same.tripped
