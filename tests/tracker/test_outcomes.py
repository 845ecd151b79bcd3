"""From runs in a real store to an accepted, evidence-based revision and calibration rows."""

from __future__ import annotations

import json

import pytest

from runners.cli import main
from runners.stages.config import GeneralizeConfig
from runners.stages.generalize import run_generalize
from tracker.calibration import calibrated_ideas, calibration_summary, calibration_table
from tracker.ideas import get_idea, list_ideas
from tracker.outcomes import accept, assess
from tracker.runs import stage_run
from tracker.store import TAG_HIGHER, TAG_IDEA, TAG_KIND, TAG_PARENT, TAG_STAGE, TAG_TARGET, TAG_TASK, Target
from tracker.sweeps import create_sweep, trial_tags


def _generalize(store, idea, epochs, seed=0):
    cfg = GeneralizeConfig(epochs=epochs, seed=seed, hist_every=0, n_samples=2)
    with stage_run(Target(store, idea), stage="generalize", task="digits") as run:
        run_generalize(cfg, run, progress=False)
    return run.run_id


@pytest.fixture
def two_ideas(store, make_idea):
    other = make_idea("one epoch", likelihood=0.5)
    _generalize(store, other, epochs=1)
    idea = make_idea("train longer", hours=2, likelihood=0.1, impact=0.01)
    runs = [_generalize(store, idea, epochs=4, seed=s) for s in (0, 1)]
    return idea, other, runs


def test_evidence_verdict_and_proposal(store, two_ideas):
    idea, other, runs = two_ideas
    a = assess(store, idea)
    ev = a.evidence
    assert ev.target == "accuracy" and ev.best_run in runs and len(ev.seed_values) == 2
    assert ev.reference_run != "" and ev.reference < ev.best  # the other idea's single epoch
    assert a.verdict.verdict == "succeeded"
    # Default prior Beta(1.5, 8.5) + both runs beating the reference: 3.5 / 12.
    assert a.proposal.likelihood == pytest.approx(3.5 / 12)
    assert a.proposal.impact == pytest.approx(ev.best - ev.reference)


def test_accepting_appends_an_evidence_revision_and_moves_the_ranking(store, two_ideas, make_idea):
    idea, other, runs = two_ideas
    rival = make_idea("rival", hours=2, likelihood=0.2, impact=0.01)
    before = [i.id for i in list_ideas(store)]
    assert before.index(rival) < before.index(idea)
    number = accept(store, idea, assess(store, idea))
    got, revisions, _ = get_idea(store, idea)
    assert revisions[-1].number == number and revisions[-1].source == "evidence"
    assert set(runs) <= set(json.loads(revisions[-1].note)["runs"])  # the revision links its runs
    assert got.status == "succeeded" and got.likelihood == pytest.approx(3.5 / 12)
    assert got.hours == 2  # no hours logged: the estimate stays (not the runs' seconds of compute)
    after = [i.id for i in list_ideas(store)]
    assert after.index(idea) < after.index(rival)  # the evidence changed the ranking
    (row,) = calibration_table(store)
    assert row["likelihood"] == pytest.approx(0.1) and row["succeeded"] is True
    assert row["actual_hours"] is None  # nothing logged, nothing for the planning factor
    summary = calibration_summary([row])
    assert summary["brier"] == pytest.approx(0.81)  # said 0.1, it worked: (0.1 - 1)^2
    assert summary["brier_interval"]["n"] == 1 and summary["timed"] == 0


def test_hours_in_a_proposal_come_only_from_logged_hours(store, two_ideas):
    idea, _, _ = two_ideas
    a = assess(store, idea)
    assert a.evidence.compute_hours > 0  # the runs did take time ...
    assert a.proposal.hours is None  # ... which is not the time to implement the idea
    assert a.proposal.reasons["hours"].startswith("no hours logged: estimate kept; the runs took ")
    assert a.proposal.reasons["hours"].endswith(" h of compute")
    logged = assess(store, idea, logged_hours=5.0)
    assert logged.proposal.hours == 5.0 and logged.proposal.reasons["hours"] == "logged 5 h"
    accept(store, idea, logged)
    got, _, _ = get_idea(store, idea)
    (row,) = calibration_table(store)
    assert got.hours == 5.0 and row["actual_hours"] == 5.0 and row["estimated_hours"] == 2.0


def test_cli_outcome_without_hours_says_the_estimate_is_kept(store, two_ideas, capsys):
    idea, _, _ = two_ideas
    assert main(["idea", "outcome", idea]) == 0
    out = capsys.readouterr().out
    assert "  hours      2 kept   (no hours logged: estimate kept; the runs took" in out
    assert main(["idea", "outcome", idea, "--hours", "-1"]) == 2  # one clear line, nothing written
    assert "hours=-1.0 is out of range" in capsys.readouterr().err


def test_cli_outcome_without_runs_is_a_clear_error(store, make_idea, capsys):
    idea = make_idea("untested")
    assert main(["idea", "outcome", idea]) == 2
    assert "cannot judge idea" in capsys.readouterr().err


def test_calibrated_ranking_applies_the_planning_factor_only_from_five_ideas(store, make_idea):
    a = make_idea("a", hours=1)
    took_3x = {"verdict": "succeeded", "likelihood": 0.5, "succeeded": True, "estimated_hours": 1.0,
               "actual_hours": 3.0}  # fmt: skip
    (idea,) = calibrated_ideas(store, calibration_summary([took_3x] * 4))
    assert idea.id == a and idea.hours == 1.0  # 4 ideas: the factor 3 is not applied at all
    (idea,) = calibrated_ideas(store, calibration_summary([took_3x] * 5))
    assert idea.hours == pytest.approx(3**0.5)  # 5 ideas: weight 5 / 10, 3 ** 0.5


def _finished(store, run_id, value):
    store.client.set_tag(run_id, TAG_TARGET, "accuracy")
    store.client.set_tag(run_id, TAG_HIGHER, "true")
    store.client.log_metric(run_id, "best/accuracy", value)
    store.client.set_terminated(run_id, "FINISHED")


def test_a_sweep_is_one_attempt_judged_by_its_best_trial(store, make_idea):
    """ASHA stopping weak variants is the sweep working: three trials, one attempt that beat."""
    other = make_idea("reference")
    ref = store.client.create_run(
        store.experiment_id,
        tags={
            TAG_KIND: "stage",
            TAG_STAGE: "generalize",
            TAG_TASK: "digits",
            TAG_IDEA: other,
            TAG_PARENT: other,
        },
    )
    _finished(store, ref.info.run_id, 0.90)
    idea = make_idea("sweep lr")
    sweep = create_sweep(
        store, idea_id=idea, stage="generalize", task="digits", settings={}, space={}, base={}
    )
    for trial, value in (("t_0", 0.95), ("t_1", 0.80), ("t_2", 0.85)):
        tags = {**trial_tags(sweep, trial), TAG_STAGE: "generalize", TAG_TASK: "digits", TAG_IDEA: idea}
        run_id = store.client.create_run(store.experiment_id, tags={**tags, TAG_PARENT: sweep}).info.run_id
        store.client.log_param(run_id, "lr", str(value / 100))  # three configs, not three seeds
        _finished(store, run_id, value)
    a = assess(store, idea)
    assert len(a.evidence.run_values) == 3 and a.evidence.attempt_values == {sweep: 0.95}
    assert a.verdict.verdict == "succeeded" and a.proposal.impact == pytest.approx(0.05)
    # Beta(1.5, 8.5) + 1 of 1 attempt: 2.5 / 11 (counting trials as attempts would give 2.5 / 13).
    assert a.proposal.likelihood == pytest.approx(2.5 / 11)
    assert "1 of 1 attempt" in a.proposal.reasons["likelihood"]


def test_the_first_idea_is_judged_against_its_own_baseline(store, make_idea, capsys):
    """No other idea yet: the reference is the baseline run under this very idea."""
    from runners.stages.baseline import run_baseline
    from runners.stages.config import BaselineConfig

    idea = make_idea("first idea")
    with stage_run(Target(store, idea), stage="baseline", task="digits") as run:
        base = run_baseline(BaselineConfig(), run)
    _generalize(store, idea, epochs=1)
    a = assess(store, idea)
    assert a.evidence.reference_run == run.run_id and a.evidence.reference == pytest.approx(base["accuracy"])
    assert a.proposal is not None
    # `--accept --json` writes the revision and prints JSON a script can read.
    capsys.readouterr()
    assert main(["idea", "outcome", idea, "--accept", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accepted_revision"] == 1 and out["evidence"]["reference_run"] == run.run_id
    assert len(get_idea(store, idea)[1]) == 2  # created + evidence


def test_a_packed_runs_std_across_seeds_is_the_verdicts_noise(store, make_idea):
    """One run with seeds > 1 knows its seed noise (`best_std/<target>`): no extra seed runs needed."""
    tags = {TAG_KIND: "stage", TAG_STAGE: "generalize", TAG_TASK: "digits"}
    other = make_idea("reference")
    ref = store.client.create_run(store.experiment_id, tags={**tags, TAG_IDEA: other, TAG_PARENT: other})
    _finished(store, ref.info.run_id, 0.90)
    idea = make_idea("packed seeds")
    run_id = store.client.create_run(store.experiment_id, tags={**tags, TAG_IDEA: idea, TAG_PARENT: idea})
    store.client.log_metric(run_id.info.run_id, "best_std/accuracy", 0.02)
    _finished(store, run_id.info.run_id, 0.93)
    a = assess(store, idea, threshold=0.01)
    # A gain of 0.03 beats the threshold but not 2 x 0.02: without the packed std it would succeed.
    assert a.evidence.seed_std == pytest.approx(0.02) and a.verdict.noise == pytest.approx(0.02)
    assert a.verdict.verdict == "inconclusive" and a.verdict.margin == pytest.approx(0.04)
