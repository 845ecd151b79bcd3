"""stage `baseline` on digits: a non-deep-learning model records the score to beat."""

from __future__ import annotations

import pytest

from runners.stages.baseline import run_baseline
from runners.stages.config import BaselineConfig
from tracker.runs import stage_run
from tracker.store import Target


def test_baseline_records_the_score_to_beat(store, make_idea):
    idea = make_idea()
    with stage_run(Target(store, idea), stage="baseline", task="digits") as run:
        metrics = run_baseline(BaselineConfig(), run)
    got = store.client.get_run(run.run_id)
    assert got.data.tags["idealoop.gate.baseline"] == "recorded"
    assert 0.85 < got.data.metrics["baseline/accuracy"] == pytest.approx(metrics["accuracy"])
    assert "baseline/f1_macro" in got.data.metrics
