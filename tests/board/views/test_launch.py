"""The Launch page in AppTest: typed config inputs per stage, sweep settings, every running job listed.

Launches here start real processes (`board.jobs`); each test that starts one stops it.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from streamlit.testing.v1 import AppTest

from board import jobs
from runners.stages.config import GeneralizeConfig, OverfitConfig
from runners.stages.config_keys import describe
from tests.board.seed import T0, make_run, per_batch
from tracker.keys import TRAIN_LOSS
from tracker.store import Target


@pytest.fixture
def ideas(make_idea) -> dict[str, str]:
    """Two ideas (title -> id), "Wider model" ranked first; no runs (the running-list test makes its own)."""
    return {"Wider model": make_idea("Wider model", impact=0.03), "Curriculum": make_idea("Curriculum")}


def wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def stop(job: jobs.Job) -> None:
    jobs.cancel(job)
    wait(lambda: not job.alive, timeout=30)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def config_inputs(at: AppTest) -> dict[str, object]:
    """The config key widgets on the page: key name -> value."""
    widgets = [*at.number_input, *at.selectbox, *at.checkbox, *at.text_input]
    return {w.key.split("_", 2)[2]: w.value for w in widgets if (w.key or "").startswith("cfg_")}


def click_launch(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Launch").click().run()


def overrides(job: jobs.Job) -> list[str]:
    args = list(job.command)
    return [args[i + 1] for i, a in enumerate(args) if a == "--set"]


def test_launch_page_preselects_the_idea_and_overfit(ideas, page):
    at = page("launch", id=ideas["Wider model"])
    assert not at.exception
    assert at.selectbox[0].value == ideas["Wider model"]
    assert at.selectbox[1].value == "overfit"


def test_launch_page_offers_the_whole_ladder_and_honours_the_stage_link(ideas, page):
    at = page("launch", id=ideas["Curriculum"], stage="generalize")
    assert not at.exception
    stage_box = at.selectbox[1]
    assert stage_box.options[:5] == [
        "stage_check: the model's isolated checks before training: shapes, init loss, gradients, "
        "batch mixing",
        "baseline: non-deep-learning model on the same split: the score to beat",
        "stage_overfit: memorise 1 sample, then a few, regularization off",
        "stage_generalize: full data, small plain model: val loss must fall",
        "stage_scale: bigger model, tricks on: must beat generalize",
    ]
    assert stage_box.value == "generalize"


def test_the_config_inputs_follow_the_stage_prefilled_with_defaults(ideas, page):
    at = page("launch")
    overfit = {k.name: k.default for k in describe(OverfitConfig) if k.name != "task"}
    assert config_inputs(at) == overfit  # few_samples, one_threshold, ...: no epochs
    assert at.number_input(key="cfg_overfit_few_samples").label == "few_samples · [1, 64]"
    at.selectbox[1].set_value("generalize").run()  # outside the form: the inputs follow at once
    generalize = {k.name: k.default for k in describe(GeneralizeConfig) if k.name != "task"}
    assert config_inputs(at) == generalize
    assert "epochs" in generalize and "few_samples" not in generalize
    assert at.number_input(key="cfg_generalize_epochs").label == "epochs · > 0"


def test_a_changed_key_is_the_one_override_and_any_tab_can_cancel_the_job(store, ideas, page):
    at = page("launch", id=ideas["Curriculum"])
    at.number_input(key="cfg_overfit_few_samples").set_value(4)
    at.number_input(key="cfg_overfit_lr").set_value(0.001)  # its default, typed again: no override
    click_launch(at)
    assert not at.exception and not at.error
    (job,) = jobs.launched(store)
    try:
        assert overrides(job) == ["few_samples=4"]
        assert job.target == Target(store, ideas["Curriculum"])
        other_tab = page("launch")  # another session of the same server: it lists the job, can cancel it
        assert f"pid {job.pid}" in markdown(other_tab)
        other_tab.button(key=f"cancel_{job.pid}").click().run()
        assert job.cancelled
    finally:
        stop(job)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cfg_overfit_lr", 0.0, "lr=0.0 is out of range; allowed: > 0"),  # what `idealoop run` says
        ("cfg_overfit_hist_budget", 1.0, "hist_budget=1.0 is out of range; allowed: [0, 1)"),
    ],
)
def test_a_bad_value_is_one_error_and_launches_nothing(store, ideas, page, key, value, message):
    at = page("launch")
    at.number_input(key=key).set_value(value)
    click_launch(at)
    assert [e.value for e in at.error] == [message]
    assert jobs.launched(store) == []


def test_a_bad_free_text_override_is_one_error_and_launches_nothing(store, ideas, page):
    at = page("launch")
    at.text_input(key="other_overrides").set_value("lr")
    click_launch(at)
    assert [e.value for e in at.error] == ["override 'lr' is not KEY=VALUE"]
    at.text_input(key="other_overrides").set_value("few_samplez=3")
    click_launch(at)
    assert at.error[0].value.startswith("unknown config key 'few_samplez'; known: task, seed, seeds, lr")
    assert jobs.launched(store) == []


def test_a_sweep_shows_its_settings_and_passes_max_concurrent(store, ideas, page, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("nope: {grid: [1, 2]}\n")  # a key generalize lacks: the sweep stops before Ray
    at = page("launch", id=ideas["Curriculum"], stage="tune")
    labels = [w.label for w in at.number_input]
    assert labels[:3] == ["Configs to sample", "Epochs per trial", "Max concurrent trials"]
    assert [at.number_input[i].value for i in range(3)] == [8, GeneralizeConfig.epochs, 2]
    assert "epochs" not in config_inputs(at)  # epochs per trial is the sweep's setting
    assert at.selectbox[2].label == "Trials run" and at.selectbox[2].value == "generalize"
    at.text_input[0].set_value(str(space))
    at.number_input[2].set_value(3)
    at.number_input(key="cfg_tune_generalize_width").set_value(32)
    click_launch(at)
    assert not at.error
    (job,) = jobs.launched(store)
    args = list(job.command)
    assert args[args.index("--max-concurrent") + 1] == "3" and args[args.index("--stage") + 1] == "generalize"
    assert args[args.index("--space") + 1] == str(space) and overrides(job) == ["width=32"]
    wait(lambda: not job.alive)
    at = page("launch")  # the failed sweep is listed, with the CLI's line
    assert "**sweep** for **Curriculum** — failed (exit 2)" in markdown(at)
    assert "nope" in at.code[-1].value


def test_every_running_run_of_the_project_is_listed_whoever_started_it(store, ideas, page):
    curriculum = ideas["Curriculum"]
    make_run(store, idea_id=ideas["Wider model"], stage="baseline", gates={"baseline": "recorded"})
    make_run(store, idea_id=ideas["Wider model"], status="RUNNING", metrics=per_batch(50), start=5000)
    now = int(time.time() * 1000)
    fresh = make_run(store, idea_id=curriculum, stage="generalize", status="RUNNING", start=now - T0 - 65_000)
    store.client.log_metric(fresh, TRAIN_LOSS, 0.7, step=3)  # logged now: not quiet
    sweep = make_run(
        store, idea_id=curriculum, kind="sweep", stage="generalize", status="RUNNING", start=6000
    )
    make_run(
        store,
        idea_id=curriculum,
        kind="trial",
        stage="generalize",
        parent=sweep,
        status="RUNNING",
        metrics=per_batch(20),
        start=6100,
    )
    quiet_sweep = make_run(
        store, idea_id=curriculum, kind="sweep", stage="generalize", status="RUNNING", start=7000
    )  # its own metrics are old, but its trial logged now: the sweep is not quiet
    busy_trial = make_run(store, idea_id=curriculum, kind="trial", parent=quiet_sweep, status="RUNNING")
    store.client.log_metric(busy_trial, TRAIN_LOSS, 0.9, step=1)
    at = page("launch")
    assert not at.exception
    text = markdown(at)
    assert "**stage_generalize** for **Curriculum** — running · 1 min" in text
    assert "last train/loss **0.7** · started outside this board" in text
    assert "**stage_overfit** for **Wider model** — running" in text
    assert "**sweep** for **Curriculum** — running" in text
    assert "stage_baseline" not in text  # finished runs are not running jobs
    # the overfit run and the sweep logged nothing for years: their process may be gone; the fresh one is fine
    quiet = [m.value for m in at.markdown if "nothing logged for" in m.value]
    assert len(quiet) == 2 and not any(fresh in q or quiet_sweep in q for q in quiet)
    assert f"`idealoop tune --resume {sweep}` finishes it" in "\n".join(quiet)
    assert text.count("— running") == 4  # trials are drawn in their sweep's chart, not listed as jobs
    assert len(at.get("vega_lite_chart")) == 4  # a live curve each: a sweep's is its running trials'


def test_a_job_whose_process_died_says_so(store, ideas, page):
    # a threshold never reached keeps the stage training until it is killed
    job = jobs.launch(
        "overfit",
        Target(store, ideas["Curriculum"]),
        overrides=["one_threshold=1e-30", "one_max_steps=100000"],
    )
    try:
        wait(lambda: job.run_id() or not job.alive)
        assert job.alive, job.stderr()
        os.killpg(job.pid, signal.SIGKILL)  # no handler runs: MLflow keeps the run RUNNING
        wait(lambda: not job.alive)
    finally:
        stop(job)
    at = page("launch")
    text = markdown(at)
    assert f"process gone] its process (pid {job.pid}) exited with code -9" in text
    assert f"`idealoop run overfit --resume {job.run_id()} --force` continues it" in text


def test_a_climb_shows_seeds_and_an_optional_sweep_not_config_keys(store, ideas, page):
    at = page("launch", id=ideas["Curriculum"], stage="climb")
    assert not at.exception and config_inputs(at) == {}  # each rung runs its own defaults
    assert "The whole ladder" in markdown(at)
    seeds = next(n for n in at.number_input if n.label == "Seeds per run")
    seeds.set_value(3)
    click_launch(at)
    assert not at.exception and not at.error
    (job,) = jobs.launched(store)
    try:
        assert job.command[3] == "climb" and "--space" not in job.command
        assert job.command[job.command.index("--seeds") + 1] == "3"
    finally:
        stop(job)
