"""`decide(...)`: an idea marked decided the way `tracker.outcomes.accept` leaves it (verdict tag,
status, `outcome/*` metrics), without training runs, so calibration tests can have many of them."""

from __future__ import annotations

import time

from mlflow.entities import Metric, RunTag

from tracker import keys
from tracker.ideas import get_idea, update_idea
from tracker.store import TAG_VERDICT, Store


def decide(store: Store, idea_id: str, *, succeeded: bool, actual_hours: float | None = None) -> None:
    """Record a verdict on an idea: what it stated before (its current estimates) and, when given,
    the hours a person logged."""
    idea, _, _ = get_idea(store, idea_id)
    verdict = "succeeded" if succeeded else "failed"
    rev = update_idea(store, idea_id, status=verdict, source="evidence")
    outcome = {
        "likelihood_before": idea.likelihood,
        "estimated_hours": idea.hours,
        "estimated_impact": idea.impact,
        "succeeded": 1.0 if succeeded else 0.0,
    }
    if actual_hours is not None:
        outcome["actual_hours"] = actual_hours
    now = int(time.time() * 1000)
    store.client.log_batch(
        idea_id,
        metrics=[Metric(f"{keys.OUTCOME_PREFIX}{k}", float(v), now, rev.number) for k, v in outcome.items()],
        tags=[RunTag(TAG_VERDICT, verdict)],
    )
