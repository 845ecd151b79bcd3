"""The sweep layout in MLflow: nesting, why each trial ended, reconcile, best trial. No Ray here."""

from __future__ import annotations

import pytest

from tracker.runs import StoppedEarly, stage_run
from tracker.store import (
    TAG_ASHA_ITERATION,
    TAG_END_REASON,
    TAG_IDEA,
    TAG_PARENT,
    TAG_STAGE,
    TAG_TRIAL,
    Target,
)
from tracker.sweeps import (
    TrialOutcome,
    create_sweep,
    end_reason,
    find_trial,
    finish_sweep,
    reconcile,
    record_best,
    sweep_info,
    trial_error,
    trial_tags,
)

# What Ray 2.60 recorded (r.error, through `trial_error`) for a trial whose process was SIGKILLed /
# SIGTERMed from outside (tests/runners/test_tune.py kills one), cut short in the middle.
SIGKILLED = (
    "ActorDiedError: The actor died unexpectedly before finishing this task. class_name: ImplicitFunc "
    "actor_id: 4128bda8 pid: 8883 ... The actor is dead because its worker process has died. Worker "
    "exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error code 2. "
    "End of file."
)
SIGTERMED = (
    "ActorDiedError: The actor died unexpectedly before finishing this task. ... Worker exit type: "
    "SYSTEM_ERROR Worker exit detail: Worker exits unexpectedly. Worker exits with an exit code 1. "
    "The process receives a SIGTERM."
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
        # The trial's own process killed from outside (or its node lost): Ray saw the actor die.
        # A broken implementation (as before issue 11) reads these `failed`, like a bug in the trial.
        (TrialOutcome("t", 2, error=SIGKILLED), ("killed", "KILLED")),
        (TrialOutcome("t", 8, error=SIGTERMED), ("killed", "KILLED")),
        (TrialOutcome("t", 0, error="WorkerCrashedError: The worker died"), ("killed", "KILLED")),
        (TrialOutcome("t", 3, error="NodeDiedError: node 1f2e died"), ("killed", "KILLED")),
        (TrialOutcome("t", 3, error="The actor died unexpectedly before finishing"), ("killed", "KILLED")),
        # ... but an exception the trial raised stays `failed`, whatever its message says.
        (TrialOutcome("t", 2, error="RuntimeError: the actor died, said my code"), ("failed", "FAILED")),
        (TrialOutcome("t", 2, error="ValueError: worker process has died"), ("failed", "FAILED")),
        (TrialOutcome("t", 2, error="NonFiniteLoss: loss nan (actor died?)"), ("nan_loss", "FAILED")),
    ],
)
def test_end_reason_from_rays_record(outcome, expected):
    assert end_reason(outcome, max_iterations=8) == expected


def test_trial_error_names_the_trials_own_exception_not_rays_wrapper():
    # Ray wraps an exception raised in the trial in `RayTaskError(<type>)`, whose text opens with
    # Ray's banner; `.cause` is the trial's own exception. (Named like Ray's classes: no Ray here.)
    wrapper = type("RayTaskError(NonFiniteLoss)", (RuntimeError,), {})
    nan = type("NonFiniteLoss", (FloatingPointError,), {})
    err = wrapper("\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=9383, ip=192.0.2.2)\n  File ...")
    err.cause = nan("train loss became nan at step 3\nmore")
    # A broken implementation keeps Ray's banner line: the reason reads `failed`, not `nan_loss`.
    assert trial_error(err) == "NonFiniteLoss: train loss became nan at step 3"
    assert end_reason(TrialOutcome("t", 1, error=trial_error(err)), 8) == ("nan_loss", "FAILED")
    died = type("ActorDiedError", (RuntimeError,), {})(
        "The actor died unexpectedly before finishing this task.\n\tpid: 8883\nThe actor is dead because"
        " its worker process has died. Worker exit detail: The process receives a SIGTERM."
    )
    # Ray's own error keeps every line (the last says how the process died), on one line.
    assert trial_error(died) == (
        "ActorDiedError: The actor died unexpectedly before finishing this task. pid: 8883 The actor is "
        "dead because its worker process has died. Worker exit detail: The process receives a SIGTERM."
    )
    assert end_reason(TrialOutcome("t", 1, error=trial_error(died)), 8) == ("killed", "KILLED")
    assert trial_error(KeyError()) == "KeyError"


def _sweep(store, idea):
    return create_sweep(
        store, idea_id=idea, stage="generalize", task="digits",
        settings={"num_samples": 4}, space={"lr": {"loguniform": [0.001, 0.1]}}, base={"epochs": 8},
    )  # fmt: skip


def _trial(store, sweep, idea, trial_id):
    """A trial's run as its process leaves it while training (RUNNING), without running a stage."""
    tags = {**trial_tags(sweep, trial_id), TAG_STAGE: "generalize", TAG_IDEA: idea, TAG_PARENT: sweep}
    return store.client.create_run(store.experiment_id, run_name=f"trial_{trial_id}", tags=tags).info.run_id


def _trial_run(store, sweep, idea, trial_id, run_id=None):
    """The stage run a trial's process opens: created on a first start, resumed after a restart."""
    return stage_run(
        Target(store, idea), stage="generalize", parent_run_id=sweep, extra_tags=trial_tags(sweep, trial_id),
        run_id=run_id, telemetry_process=False,
    )  # fmt: skip


def test_a_trials_first_start_creates_its_run_running_with_its_final_tags(store, make_idea, monkeypatch):
    import tracker.runs

    idea = make_idea()
    sweep = _sweep(store, idea)
    assert find_trial(store, sweep, "a_00001") is None
    # A first start must not go through the resume path (which rewrites tags and status).
    monkeypatch.setattr(tracker.runs, "adopt", lambda *a, **k: pytest.fail("a first start was adopted"))
    with _trial_run(store, sweep, idea, "a_00001") as run:
        got = store.client.get_run(run.run_id)
        assert got.info.status == "RUNNING" and not run.resumed
        assert got.data.tags["idealoop.kind"] == "trial" and got.data.tags[TAG_TRIAL] == "a_00001"
        assert got.data.tags[TAG_PARENT] == sweep and got.data.tags[TAG_IDEA] == idea
    # Found again by its Ray trial id (a restarted trial resumes it); another id is another trial.
    assert find_trial(store, sweep, "a_00001") == run.run_id
    assert find_trial(store, sweep, "a_00002") is None
    assert store.client.get_run(sweep).data.tags[TAG_PARENT] == idea


def test_a_restarted_trial_resumes_its_run_and_asha_stop_ends_it_finished(store, make_idea):
    idea = make_idea()
    sweep = _sweep(store, idea)
    run_id = _trial(store, sweep, idea, "b_00001")
    # As a killed driver's trial looks after reconcile: ended `killed`, about to be resumed.
    store.client.set_tag(run_id, TAG_END_REASON, "killed")
    store.client.set_tag(run_id, "idealoop.error", "the trial's process ended")
    store.client.set_terminated(run_id, "KILLED")
    with pytest.raises(StoppedEarly):
        with _trial_run(store, sweep, idea, "b_00001", run_id=find_trial(store, sweep, "b_00001")) as run:
            assert run.run_id == run_id and run.resumed  # resumed, not created
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
    ids = {t: _trial(store, sweep, idea, t) for t in ("done", "asha", "err", "gone", "shot")}
    store.client.set_terminated(ids["done"], "FINISHED")  # ended itself: left alone
    outcomes = {
        "done": TrialOutcome("done", 8),
        "asha": TrialOutcome("asha", 2),
        "err": TrialOutcome("err", 1, error="RuntimeError: boom"),
        "shot": TrialOutcome("shot", 3, error=SIGKILLED),  # its process was SIGKILLed mid-sweep
    }
    ended = reconcile(store, sweep, outcomes, max_iterations=8)
    assert ended == {"stopped_by_asha": 1, "failed": 1, "killed": 2}  # per reason: the driver says the news
    got = {t: store.client.get_run(i) for t, i in ids.items()}
    assert TAG_END_REASON not in got["done"].data.tags
    assert got["asha"].info.status == "FINISHED" and got["asha"].data.tags[TAG_ASHA_ITERATION] == "2"
    assert (
        got["err"].info.status == "FAILED" and got["err"].data.tags["idealoop.error"] == "RuntimeError: boom"
    )
    assert got["gone"].info.status == "KILLED" and got["gone"].data.tags[TAG_END_REASON] == "killed"
    # Killed, and the error says how Ray saw the process die (not the generic "driver or node died").
    assert got["shot"].info.status == "KILLED" and got["shot"].data.tags[TAG_END_REASON] == "killed"
    assert got["shot"].data.tags["idealoop.error"] == SIGKILLED
    assert got["shot"].data.tags["idealoop.reconciled"] == "true"
    assert reconcile(store, sweep, outcomes, max_iterations=8) == {}  # nothing RUNNING is left


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
