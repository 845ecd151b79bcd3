"""The sweep layout in MLflow: nesting, why each trial ended, reconcile, best trial. No Ray here."""

from __future__ import annotations

import pytest

from tracker.runs import StoppedEarly, stage_run
from tracker.store import TAG_ASHA_ITERATION, TAG_END_REASON, TAG_PARENT, TAG_TRIAL, Target
from tracker.sweeps import (
    TrialOutcome,
    create_sweep,
    end_reason,
    finish_sweep,
    reconcile,
    record_best,
    sweep_info,
    trial_run,
)


@pytest.mark.parametrize(
    "outcome, expected",
    [
        (TrialOutcome("t", 8), ("completed", "FINISHED")),
        (TrialOutcome("t", 3), ("stopped_by_asha", "FINISHED")),
        (TrialOutcome("t", 2, error="RuntimeError: boom"), ("failed", "FAILED")),
        (TrialOutcome("t", 2, error="NonFiniteLoss: train loss became nan"), ("nan_loss", "FAILED")),
        (TrialOutcome("t", 5, finished=False), ("killed", "KILLED")),
        (None, ("killed", "KILLED")),  # Ray has no record of it: the process died unseen
    ],
)
def test_end_reason_from_rays_record(outcome, expected):
    assert end_reason(outcome, max_iterations=8) == expected


def _sweep(store, idea):
    return create_sweep(
        store, idea_id=idea, stage="generalize", task="digits",
        settings={"num_samples": 4}, space={"lr": {"loguniform": [0.001, 0.1]}}, base={"epochs": 8},
    )  # fmt: skip


def _trial(store, sweep, idea, trial_id):
    return trial_run(
        store, sweep_id=sweep, trial_id=trial_id, name=f"trial_{trial_id}",
        idea_id=idea, stage="generalize", task="digits",
    )  # fmt: skip


def test_trials_nest_under_the_sweep_under_the_idea_and_are_found_again(store, make_idea):
    idea = make_idea()
    sweep = _sweep(store, idea)
    first = _trial(store, sweep, idea, "a_00001")
    # A restored trial asks again with the same Ray trial id: it gets its old run back.
    assert _trial(store, sweep, idea, "a_00001") == first
    assert _trial(store, sweep, idea, "a_00002") != first
    run = store.client.get_run(first)
    assert run.data.tags[TAG_PARENT] == sweep and run.data.tags["idealoop.kind"] == "trial"
    assert store.client.get_run(sweep).data.tags[TAG_PARENT] == idea


def test_a_trial_adopts_its_run_and_asha_stop_ends_it_finished_with_the_rung(store, make_idea):
    idea = make_idea()
    sweep = _sweep(store, idea)
    run_id = _trial(store, sweep, idea, "b_00001")
    # As a killed driver's trial looks after reconcile: ended `killed`, about to be resumed.
    store.client.set_tag(run_id, TAG_END_REASON, "killed")
    store.client.set_tag(run_id, "idealoop.error", "the trial's process ended")
    store.client.set_terminated(run_id, "KILLED")
    with pytest.raises(StoppedEarly):
        with stage_run(Target(store, idea), stage="generalize", run_id=run_id, parent_run_id=sweep,
                       extra_tags={"idealoop.kind": "trial"}, telemetry_process=False) as run:  # fmt: skip
            assert run.run_id == run_id  # adopted, not created
            run.writer.log("train/loss", 1.0, 0)
            raise StoppedEarly(3)
    got = store.client.get_run(run_id)
    # A broken implementation would end it FAILED, like any other exception.
    assert got.info.status == "FINISHED"
    assert got.data.tags[TAG_END_REASON] == "stopped_by_asha" and got.data.tags[TAG_ASHA_ITERATION] == "3"
    assert got.data.tags["idealoop.kind"] == "trial" and got.data.tags[TAG_PARENT] == sweep
    assert "idealoop.error" not in got.data.tags  # the last attempt's reason is gone


def test_reconcile_ends_every_running_trial_with_the_reason_ray_implies(store, make_idea):
    idea = make_idea()
    sweep = _sweep(store, idea)
    ids = {t: _trial(store, sweep, idea, t) for t in ("done", "asha", "err", "gone")}
    store.client.set_terminated(ids["done"], "FINISHED")  # ended itself: left alone
    outcomes = {
        "done": TrialOutcome("done", 8),
        "asha": TrialOutcome("asha", 2),
        "err": TrialOutcome("err", 1, error="RuntimeError: boom"),
    }
    assert reconcile(store, sweep, outcomes, max_iterations=8) == 3
    got = {t: store.client.get_run(i) for t, i in ids.items()}
    assert TAG_END_REASON not in got["done"].data.tags
    assert got["asha"].info.status == "FINISHED" and got["asha"].data.tags[TAG_ASHA_ITERATION] == "2"
    assert (
        got["err"].info.status == "FAILED" and got["err"].data.tags["idealoop.error"] == "RuntimeError: boom"
    )
    assert got["gone"].info.status == "KILLED" and got["gone"].data.tags[TAG_END_REASON] == "killed"
    assert reconcile(store, sweep, outcomes, max_iterations=8) == 0  # nothing RUNNING is left


def test_best_trial_and_resume_info_live_on_the_sweep(store, make_idea):
    idea = make_idea()
    sweep = _sweep(store, idea)
    best = _trial(store, sweep, idea, "c_00003")
    assert (
        record_best(store, sweep, trial_id="c_00003", config={"lr": 0.01}, metric="accuracy", value=0.97)
        == best
    )
    store.client.set_tag(sweep, "idealoop.ray_experiment", "/tmp/ray_results/sweep-x")
    finish_sweep(store, sweep, "completed")
    run = store.client.get_run(sweep)
    assert run.info.status == "FINISHED" and run.data.tags["idealoop.best_trial"] == best
    assert run.data.metrics["best/accuracy"] == pytest.approx(0.97)
    info = sweep_info(store, sweep)
    assert info["space"] == {"lr": {"loguniform": [0.001, 0.1]}} and info["base"] == {"epochs": 8}
    assert info["idea_id"] == idea and info["ray_path"] == "/tmp/ray_results/sweep-x"
    assert store.client.get_run(best).data.tags[TAG_TRIAL] == "c_00003"
