"""board.jobs: a stage launched in the background lands nested under its idea; cancel stops it."""

from __future__ import annotations

import time

import pytest

from board import jobs
from runners.stages.config import ConfigError, resolve
from runners.sweeps.settings import SUPPORTED_STAGES, SweepSettings
from tests.board.seed import T0, make_run
from tracker.keys import TRAIN_LOSS
from tracker.queries import get_run_row
from tracker.store import Store, Target

ELSEWHERE = Target(Store(project="p", uri="sqlite:////data/mlflow.db"), "abc")


def wait(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_overrides_are_key_value_pairs():
    assert jobs.parse_overrides("lr=3e-4, few_samples=8\nseed=1") == ["lr=3e-4", "few_samples=8", "seed=1"]
    with pytest.raises(jobs.LaunchError, match="'lr' is not KEY=VALUE"):
        jobs.parse_overrides("lr")


def test_unknown_stage_is_refused():
    with pytest.raises(
        jobs.LaunchError,
        match="stage 'sweep' cannot be launched; known: check, baseline, overfit, generalize, scale, tune",
    ):
        jobs.command("sweep", ELSEWHERE, [])


def test_the_target_task_and_sweep_settings_reach_the_command_line():
    where = ["--tracking-uri", "sqlite:////data/mlflow.db", "--project", "p", "--idea", "abc"]
    stage = jobs.command("generalize", ELSEWHERE, ["lr=0.1"], task="shapes")
    assert stage[3:] == [
        "run",
        "generalize",
        *where,
        "--no-progress",
        "--task",
        "shapes",
        "--set",
        "lr=0.1",
    ]
    sweep = jobs.command("tune", ELSEWHERE, [], task="pkg.mod:make", space="s.yaml", samples=3)
    assert sweep[3:] == [
        "tune",
        *where,
        "--space",
        "s.yaml",
        "--num-samples",
        "3",
        "--task",
        "pkg.mod:make",
    ]
    assert jobs.command("tune", ELSEWHERE, [])[11] == jobs.DEFAULT_SPACE
    settings = jobs.command("tune", ELSEWHERE, [], iterations=4, concurrent=3, sweep_stage="scale")
    assert settings[12:] == ["--stage", "scale", "--max-iterations", "4", "--max-concurrent", "3"]


def test_the_sweep_defaults_the_board_shows_are_the_sweeps_own():
    assert jobs.SWEEP_STAGES == SUPPORTED_STAGES
    assert (jobs.SWEEP_SAMPLES, jobs.SWEEP_CONCURRENT) == (
        SweepSettings.num_samples,
        SweepSettings.max_concurrent,
    )


@pytest.mark.parametrize(
    ("stage", "pairs", "message"),
    [
        ("overfit", ["few_samples=100"], "few_samples=100 is out of range; allowed: [1, 64]"),
        ("overfit", ["epochs=3"], "unknown config key 'epochs'; known: task, seed, seeds, lr"),
        ("generalize", ["lr=fast"], "lr='fast' is not a valid float"),
        ("tune", ["dropout=0.5"], "unknown config key 'dropout'"),  # trials run generalize by default
        ("overfit", ["lr"], "override 'lr' is not KEY=VALUE"),
    ],
)
def test_a_launch_the_cli_would_refuse_is_refused_with_its_line(store, stage, pairs, message):
    with pytest.raises(jobs.LaunchError) as refused:
        jobs.launch(stage, Target(store, "abc"), overrides=pairs)
    assert str(refused.value).startswith(message)
    if all("=" in p for p in pairs):
        with pytest.raises(ConfigError) as cli:  # the check `idealoop run` makes: the same line
            resolve(jobs.config_class(stage), None, dict(p.split("=", 1) for p in pairs))
        assert str(cli.value) == str(refused.value)
    assert jobs.launched(store) == []  # nothing started


def test_a_sweep_is_checked_against_its_trials_stage_and_its_space_file(store):
    jobs.check_overrides("tune", ["dropout=0.5"], "scale")  # a scale sweep has dropout
    with pytest.raises(jobs.LaunchError, match="stage='overfit' cannot be swept; allowed: generalize, scale"):
        jobs.check_overrides("tune", [], "overfit")
    with pytest.raises(jobs.LaunchError, match="space file '/nowhere.yaml' does not exist"):
        jobs.launch("tune", Target(store, "abc"), space="/nowhere.yaml")
    assert jobs.launched(store) == []


def test_runs_started_elsewhere_are_read_with_when_they_last_logged(store, make_idea):
    idea = make_idea()
    running = make_run(store, idea_id=idea, status="RUNNING", metrics={TRAIN_LOSS: [(0, 1.0), (5, 0.5)]})
    make_run(store, idea_id=idea, stage="generalize")  # finished: not listed
    (live,) = jobs.running_runs(store)
    assert (live.row.id, live.row.stage, live.row.metrics[TRAIN_LOSS]) == (running, "overfit", 0.5)
    assert live.last_logged == T0 + 5  # seed.log_metrics stamps step s at T0 + s


def test_launched_stage_runs_in_the_background_under_its_idea(store, make_idea, monkeypatch):
    idea = make_idea()
    # The job writes where its Target says, whatever the board's own environment holds.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///decoy.db")
    monkeypatch.setenv("IDEALOOP_PROJECT", "decoy")
    t0 = time.monotonic()
    job = jobs.launch("overfit", Target(store, idea), overrides=["few_samples=4"])
    assert time.monotonic() - t0 < 1.0 and job.alive  # the caller is not blocked by training
    assert jobs.launched(store)[0] is job  # in the server-wide registry: every tab lists it
    assert job.cli == f"idealoop run overfit --idea {idea} --no-progress --set few_samples=4"
    wait(lambda: not job.alive)
    assert job.returncode() == 0, job.stderr()
    run = get_run_row(store, job.run_id())
    assert (run.kind, run.stage, run.idea_id, run.parent_id) == ("stage", "overfit", idea, idea)
    assert run.status == "FINISHED" and set(run.gates) == {"overfit_one", "overfit_few"}


def test_a_climb_launched_from_the_board_climbs_every_rung_under_its_idea(store, make_idea):
    idea = make_idea()
    with pytest.raises(jobs.LaunchError, match="a climb takes no config overrides"):
        jobs.launch("climb", Target(store, idea), overrides=["lr=0.1"])
    sweep = jobs.command("climb", ELSEWHERE, [], space="s.yaml", samples=3, concurrent=2, seeds=4)
    assert sweep[3:4] == ["climb"] and sweep[sweep.index("--space") + 1] == "s.yaml"
    assert sweep[sweep.index("--num-samples") + 1] == "3" and sweep[sweep.index("--seeds") + 1] == "4"
    assert "--space" not in jobs.command("climb", ELSEWHERE, [], samples=3)  # no space file: no sweep
    job = jobs.launch("climb", Target(store, idea))
    assert job.cli == f"idealoop climb --idea {idea} --no-progress"
    wait(lambda: not job.alive, timeout=180)
    assert job.returncode() == 0, job.stderr()
    first = get_run_row(store, job.run_id())  # the first rung it announced, as `idealoop run` does
    assert (first.stage, first.idea_id, first.status) == ("check", idea, "FINISHED")
    for stage in ("baseline", "overfit", "generalize"):
        assert f"{jobs.LADDER_STAGES[stage].entry_point}: run " in job.stderr()


def test_cancel_stops_the_stage(store, make_idea):
    idea = make_idea()
    # a threshold of 1e-30 is never reached: the stage would train for its whole (large) budget
    job = jobs.launch(
        "overfit",
        Target(store, idea),
        overrides=["one_threshold=1e-30", "one_max_steps=100000"],
    )
    wait(lambda: job.run_id() or not job.alive)
    assert job.alive, job.stderr()
    jobs.cancel(job)
    wait(lambda: not job.alive, timeout=30)
    assert job.cancelled and job.returncode() != 0
    # SIGTERM ends the stage like Ctrl-C: the run is KILLED with its reason, not left RUNNING.
    run = get_run_row(store, job.run_id())
    assert (run.status, run.end_reason) == ("KILLED", "killed")


def test_sweep_launched_from_the_board_lands_under_its_idea(store, make_idea, tmp_path, monkeypatch):
    """A sweep (`idealoop tune`, real local Ray) started like the Launch page starts it."""
    monkeypatch.setenv("IDEALOOP_RAY_STORAGE", str(tmp_path / "ray_results"))
    idea = make_idea()
    space = tmp_path / "space.yaml"
    space.write_text("seed: {grid: [1, 2]}\nwidth: 8\nhist_every: 0\nn_samples: 2\n")
    job = jobs.launch(
        "tune",
        Target(store, idea),
        task="tests.runners.sweeps.tune_task:make_task",
        space=str(space),
        samples=1,
        iterations=2,
    )
    wait(lambda: not job.alive, timeout=240)
    assert job.returncode() == 0, job.stderr()[-3000:]
    sweep = get_run_row(store, job.run_id())  # found from the driver's `tune: sweep <id> ...` line
    assert (sweep.kind, sweep.parent_id, sweep.status) == ("sweep", idea, "FINISHED")
    trials = store.client.search_runs([store.experiment_id], f"tags.`idealoop.sweep_id` = '{sweep.id}'")
    assert sorted(int(t.data.params["seed"]) for t in trials) == [1, 2]
    assert all(t.info.status == "FINISHED" and t.data.metrics["epoch"] <= 2 for t in trials)
