"""The Idea page's evidence section (proposal, accept) and the Calibration page, in AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.entities import Metric, RunStatus

from tracker.ideas import get_idea
from tracker.outcomes import accept, assess

APP = str(Path(__file__).resolve().parents[3] / "board" / "app.py")


def _judged_run(store, idea_id, best, seed=0):
    """A finished generalize run laid out as docs/telemetry.md says (tags + best/<target>)."""
    tags = {
        "idealoop.kind": "stage", "idealoop.stage": "generalize", "idealoop.task": "digits",
        "idealoop.idea_id": idea_id, "mlflow.parentRunId": idea_id,
        "idealoop.target_metric": "accuracy", "idealoop.higher_is_better": "true",
    }  # fmt: skip
    run = store.client.create_run(store.experiment_id, run_name="stage_generalize", tags=tags)
    store.client.log_param(run.info.run_id, "seed", str(seed))
    store.client.log_batch(run.info.run_id, metrics=[Metric("best/accuracy", best, 0, 10)])
    store.client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run.info.run_id


@pytest.fixture
def judged(store, make_idea):
    other = make_idea("other", likelihood=0.5)
    _judged_run(store, other, 0.90)
    idea = make_idea("longer training", hours=2, likelihood=0.1, impact=0.01, category="optimization")
    _judged_run(store, idea, 0.95, seed=0)
    _judged_run(store, idea, 0.96, seed=1)
    return idea, other


def test_idea_page_proposes_estimates_and_accepting_appends_a_revision(store, judged, page):
    idea, _ = judged
    at = page("idea", id=idea, tab="Overview")  # the evidence lives on the Overview tab
    assert not at.exception
    (proposal,) = [d.value for d in at.dataframe if "proposed" in d.value.columns]
    rows = proposal.set_index("estimate")
    # Default prior Beta(1.5, 8.5), both runs beat the other idea's 0.90: 3.5 / 12 = 0.292.
    assert rows.loc["likelihood", "proposed"] == "0.292"
    assert rows.loc["impact", "proposed"] == "0.06"
    assert rows.loc["status", "proposed"] == "succeeded"
    at.button(key=f"accept_{idea}").click().run()
    assert not at.exception
    got, revisions, _ = get_idea(store, idea)
    assert revisions[-1].source == "evidence" and got.likelihood == pytest.approx(3.5 / 12)
    assert any("Accepted: revision" in s.value for s in at.success)


def test_idea_without_evidence_says_so(store, make_idea, page):
    idea = make_idea("untested")
    at = page("idea", id=idea)
    assert not at.exception
    assert any("Nothing to judge yet" in i.value for i in at.info)


def test_a_proposal_without_logged_hours_keeps_the_hours_estimate(store, judged, page):
    """The runs' few seconds are compute, not implementation time: they must not become hours."""
    idea, _ = judged
    at = page("idea", id=idea, tab="Overview")
    (proposal,) = [d.value for d in at.dataframe if "proposed" in d.value.columns]
    hours = proposal.set_index("estimate").loc["hours"]
    assert hours["proposed"] == "2 (kept)"
    assert hours["why"].startswith("no hours logged: estimate kept; the runs took ")
    at.button(key=f"accept_{idea}").click().run()
    got, revisions, _ = get_idea(store, idea)
    assert got.hours == 2 and "hours" not in revisions[-1].changes
    at = page("idea", id=idea, tab="Overview")
    at.text_input(key=f"h_{idea}").set_value("5").run()
    (proposal,) = [d.value for d in at.dataframe if "proposed" in d.value.columns]
    assert proposal.set_index("estimate").loc["hours", "proposed"] == "5"


def test_calibration_page_scores_decided_ideas(store, judged, page):
    idea, _ = judged
    accept(store, idea, assess(store, idea, logged_hours=3.0))
    at = page("calibration")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["decided ideas"] == "1"
    assert metrics["Brier score"] == "0.810"  # said 0.1, it worked
    assert metrics["planning factor"] == "1.50"  # 3 h actual / 2 h estimated
    # every summary number with its n and interval, and what the ranking does with them
    captions = [c.value for c in at.caption]
    assert "n=1, 90% interval 0.000–1.000" in captions  # Brier from one idea: anything
    assert "n=1, 90% interval 0.00–∞" in captions  # planning factor from one idea
    assert "n=1, 90% interval 0.27–1.00" in captions  # hit rate 1 of 1 (Wilson)
    # The two n's explained: decided = succeeded/failed, the planning factor's = hours logged.
    assert any("succeeded* and *failed* only" in c and "*inconclusive* ones too" in c for c in captions)
    text = "\n".join(m.value for m in at.markdown)
    assert "planning factor 1.50 (n=1, 90% interval 0.00–∞) — not applied below 5" in text
    assert len(at.get("vega_lite_chart")) >= 3  # reliability, impact, planning factor (+ over time)


def test_calibration_page_empty_state(store, make_idea, page):
    make_idea("a")
    at = page("calibration")
    assert not at.exception and "No decided ideas yet" in at.info[0].value
