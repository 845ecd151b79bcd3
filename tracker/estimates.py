"""An idea's four estimates, their bounds, and the score that ranks ideas.

Pure logic: no MLflow here. The bounds live in one table (`BOUNDS`) so the CLI,
the board's forms and the tracker check exactly the same thing, once, at the
boundary (STYLE.md §4).

The score answers "which idea buys the most expected gain for the least cost?":

    score = likelihood * impact / (hours * (1 + COMPLEXITY_TAX * (complexity - 1)))

that is expected gain per hour, where every point of complexity above 1 makes
the idea count as 25% more expensive, because added complexity taxes every
later idea ("complex methods can slow down future progress"). Higher is better.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

COMPLEXITY_TAX = 0.25  # extra cost per complexity point above 1

STATUSES = ("proposed", "in_progress", "succeeded", "failed", "abandoned")


@dataclass(frozen=True)
class Bound:
    """Allowed range of one estimate; `low_open` means the low end is excluded."""

    low: float
    high: float
    low_open: bool = False
    integer: bool = False

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        kind = "an integer in " if self.integer else ""
        high = "inf" if math.isinf(self.high) else f"{self.high:g}"
        return f"{kind}{left}{self.low:g}, {high}]"

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.integer and value != int(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high


BOUNDS: dict[str, Bound] = {
    "hours": Bound(0.0, 10_000.0, low_open=True),  # time to implement, hours
    "complexity": Bound(1, 5, integer=True),  # complexity added to the code base
    "impact": Bound(0.0, 1e9, low_open=True),  # expected gain in the target metric
    "likelihood": Bound(0.0, 1.0),  # probability the idea pays off
}
FIELDS = tuple(BOUNDS)


class EstimateError(ValueError):
    """A value outside its allowed range; the message is one line for the user."""


def check_field(name: str, value: object) -> float:
    """Parse and bound-check one estimate; raise EstimateError naming field, value and range."""
    if name not in BOUNDS:
        raise EstimateError(f"unknown estimate {name!r}; known: {', '.join(FIELDS)}")
    bound = BOUNDS[name]
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EstimateError(f"{name}={value!r} is not a number; allowed: {bound.describe()}") from None
    if not bound.contains(number):
        raise EstimateError(f"{name}={value} is out of range; allowed: {bound.describe()}")
    return float(int(number)) if bound.integer else number


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise EstimateError(f"status={status!r} is not allowed; allowed: {', '.join(STATUSES)}")
    return status


@dataclass(frozen=True)
class Estimates:
    """The four estimates of an idea, already validated."""

    hours: float
    complexity: int
    impact: float
    likelihood: float

    @classmethod
    def parse(cls, **values: object) -> Estimates:
        checked = {name: check_field(name, values.get(name)) for name in FIELDS}
        return cls(
            hours=checked["hours"],
            complexity=int(checked["complexity"]),
            impact=checked["impact"],
            likelihood=checked["likelihood"],
        )

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @property
    def score(self) -> float:
        return score(self.hours, self.complexity, self.impact, self.likelihood)


def cost(hours: float, complexity: float) -> float:
    """Effective cost in hours: implementation time inflated by the complexity tax."""
    return hours * (1.0 + COMPLEXITY_TAX * (complexity - 1))


def score(hours: float, complexity: float, impact: float, likelihood: float) -> float:
    """Expected gain per effective hour (higher ranks first). See the module docstring."""
    return likelihood * impact / cost(hours, complexity)


def score_breakdown(hours: float, complexity: float, impact: float, likelihood: float) -> dict:
    """The parts of the score, for "why this rank" explanations."""
    return {
        "expected_gain": likelihood * impact,
        "effective_hours": cost(hours, complexity),
        "complexity_factor": 1.0 + COMPLEXITY_TAX * (complexity - 1),
        "score": score(hours, complexity, impact, likelihood),
    }
