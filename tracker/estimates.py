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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TypeVar

T = TypeVar("T")

COMPLEXITY_TAX = 0.25  # extra cost per complexity point above 1

STATUSES = ("proposed", "in_progress", "succeeded", "failed", "abandoned")
# Ideas with a verdict: their question is answered, so they leave the default ranking (which
# answers "what next?"); `idealoop idea list --all` and the board's toggle bring them back.
DECIDED = ("succeeded", "failed")


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
        raise EstimateError(f"unknown estimate {shown(repr(name))}; known: {', '.join(FIELDS)}")
    bound = BOUNDS[name]
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        allowed = bound.describe()
        raise EstimateError(f"{name}={shown(repr(value))} is not a number; allowed: {allowed}") from None
    if not bound.contains(number):
        raise EstimateError(f"{name}={shown(value)} is out of range; allowed: {bound.describe()}")
    return float(int(number)) if bound.integer else number


# Longest text a user may type into each field, in characters. Each bound sits inside what MLflow
# keeps without cutting: a run name is a VARCHAR(250) column, a tag value 8,000 characters, and a
# revision record (note plus changes, as JSON) must fit one 6,000-character param. Checked before
# anything is written, the same on add and update, so a long note can never corrupt an idea.
TEXT_LIMITS: dict[str, int] = {
    "title": 200,  # the run name and the idea's headline
    "category": 100,  # a short label that groups ideas
    "description": 8_000,  # MLflow's tag-value limit
    "note": 2_000,  # why a revision was made; its JSON record must stay under 6,000
    "author": 100,  # who wrote a revision, an estimate or a comment
    "comment": 2_500,  # one comment; its JSON record (quotes escaped) must stay under 6,000
}


def check_text(name: str, value: str, *, required: bool = False) -> str:
    """Strip and bound one text field; raise EstimateError naming the field and its limit."""
    text = (value or "").strip()
    if required and not text:
        raise EstimateError(f"{name} is empty; give the idea a short {name}")
    limit = TEXT_LIMITS[name]
    if len(text) > limit:
        raise EstimateError(f"{name} is {len(text):,} characters long; at most {limit:,} allowed")
    return text


def shown(value: object, limit: int = 60) -> str:
    """A user's value as an error message echoes it, cut to `limit` characters (a 10 KB typo
    must not become a 10 KB error line)."""
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise EstimateError(f"status={shown(repr(status))} is not allowed; allowed: {', '.join(STATUSES)}")
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


def best_first(items: Iterable[T], score_of: Callable[[T], float] = lambda i: i.score) -> list[T]:
    """Items (ideas, or anything with a score) best score first; NaN scores (an idea missing an
    estimate) sink to the bottom."""
    return sorted(items, key=lambda i: (score_of(i) == score_of(i), score_of(i)), reverse=True)


def score_breakdown(hours: float, complexity: float, impact: float, likelihood: float) -> dict:
    """The parts of the score, for "why this rank" explanations."""
    return {
        "expected_gain": likelihood * impact,
        "effective_hours": cost(hours, complexity),
        "complexity_factor": 1.0 + COMPLEXITY_TAX * (complexity - 1),
        "score": score(hours, complexity, impact, likelihood),
    }
