"""What a sweep is given and the errors it reports: shared by the driver, the cluster code and the CLI.

`SweepSettings` says how a sweep runs (how many trials, their resources, ASHA's knobs);
what each trial trains is the stage config plus the search space (`space.py`).
`SweepError` is every bad input or unreachable cluster: one line for the user, exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

SUPPORTED_STAGES = ("generalize", "scale")
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout local Ray workers import


class SweepError(ValueError):
    """Bad sweep input or an unreachable cluster (one line for the user, exit 2)."""


@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs (not what a trial trains: that is the stage config + the space)."""

    stage: str = "generalize"  # the stage every trial runs: generalize | scale
    num_samples: int = 8  # configs sampled from the space (each grid point counts once per sample)
    max_concurrent: int = 2  # trials running at once
    cpus_per_trial: float = 1.0  # Ray CPUs each trial reserves
    gpus_per_trial: float = 0.0  # Ray GPUs each trial reserves; 0.25 packs 4 trials on a GPU
    max_iterations: int = 0  # epochs of a trial that is never stopped (0: the stage's epochs)
    grace_period: int = 1  # epochs every trial gets before ASHA may stop it
    reduction_factor: float = 2.0  # ASHA keeps the top 1/reduction_factor at each rung

    def validate(self) -> None:
        if self.stage not in SUPPORTED_STAGES:
            raise SweepError(f"stage={self.stage!r} cannot be swept; allowed: {', '.join(SUPPORTED_STAGES)}")
        for name, low in (
            ("num_samples", 1),
            ("max_concurrent", 1),
            ("max_iterations", 1),
            ("grace_period", 1),
        ):
            if getattr(self, name) < low:
                raise SweepError(f"{name}={getattr(self, name)} is out of range; allowed: >= {low}")
        if not self.cpus_per_trial > 0:
            raise SweepError(f"cpus_per_trial={self.cpus_per_trial:g} is out of range; allowed: > 0")
        g = self.gpus_per_trial
        if g < 0 or (g > 1 and not float(g).is_integer()):
            raise SweepError(
                f"gpus_per_trial={g:g} is out of range; allowed: 0, a fraction up to 1, or whole GPUs"
            )
        if self.grace_period > self.max_iterations:
            raise SweepError(
                f"grace_period={self.grace_period} is out of range; "
                f"allowed: <= max_iterations ({self.max_iterations})"
            )
        if not self.reduction_factor > 1:
            raise SweepError(f"reduction_factor={self.reduction_factor:g} is out of range; allowed: > 1")

    @classmethod
    def from_strings(cls, values: dict) -> SweepSettings:
        """Settings from CLI / MLflow-param text; None or '' means "the default"."""
        kinds = {f.name: type(f.default) for f in fields(cls)}
        out = {}
        for key, value in values.items():
            if key not in kinds or value is None or value == "":
                continue
            try:
                out[key] = kinds[key](float(value)) if kinds[key] is int else kinds[key](value)
            except ValueError:
                raise SweepError(f"{key}={value!r} is not a valid {kinds[key].__name__}") from None
        return cls(**out)


def first_line(exc: BaseException | str) -> str:
    """The first line of an error, for a one-line message (the type's name if it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
