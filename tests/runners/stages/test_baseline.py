"""stage `baseline` on digits: a non-deep-learning model records the score to beat."""

from __future__ import annotations

import pytest

from runners.stages.baseline import run_baseline
from runners.stages.config import BaselineConfig
from tracker.artifacts import load_per_class
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
    # Per-class F1s are rows of the per-class file (epoch 0), not ten more metric keys.
    assert set(got.data.metrics) == {
        "baseline/accuracy", "baseline/f1_macro", "baseline/fit_seconds", "val/accuracy", "val/f1_macro"
    }  # fmt: skip
    rows = load_per_class(store, run.run_id)
    assert [(r["epoch"], r["metric"], r["class"]) for r in rows] == [(0, "val/f1", str(c)) for c in range(10)]
    assert rows[7]["value"] == pytest.approx(metrics["f1/7"])
