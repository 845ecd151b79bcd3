"""`idealoop tune` on a real local Ray (a 2-node `ray.cluster_utils.Cluster`) and real MLflow.

One cluster is shared by the module (starting Ray costs seconds on 2 cores). Trials
run `tests/runners/sweeps/tune_task.py`, whose behaviour the sampled `seed` picks: a failing
trial, a NaN trial, noisy-label trials ASHA can stop, slow trials to kill mid-sweep.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runners.cli import main
from tracker.artifacts import load_per_class
from tracker.estimates import Estimates
from tracker.ideas import add_idea
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[3]
TASK = "tests.runners.sweeps.tune_task:make_task"


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes with one CPU each, on this machine; workers import this checkout."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    ray.init(address=c.address)
    yield c
    ray.shutdown()
    c.shutdown()


def _space(tmp_path, text: str) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def _tune(*args: str) -> list[str]:
    return ["tune", "--task", TASK, "--storage-path", os.path.join(os.getcwd(), "ray_results"), *args]


def _error(capsys) -> str:
    """The one `idealoop:` line on stderr (MLflow may log its own lines when it creates the DB)."""
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("idealoop:")]
    assert len(lines) == 1, lines
    return lines[0]


def _trials(store, sweep_id):
    return store.client.search_runs([store.experiment_id], f"tags.`idealoop.sweep_id` = '{sweep_id}'")


def _by_seed(runs):
    return {int(r.data.params["seed"]): r for r in runs}


@pytest.mark.parametrize(
    "text, says",
    [
        ("lr: {loguniform: [0, 0.1]}", "lr: loguniform needs 0 < low"),
        ("widht: {choice: [32, 64]}", "widht: unknown config key"),
        ("width: {choice: [0, 64]}", "width: value 0 is not allowed"),
        ("width: {uniform: [8, 64]}", "width: is int, but uniform samples floats"),
        ("lr: {normal: [0, 1]}", "lr: unknown distribution 'normal'"),
        ("epochs: {choice: [1, 2]}", "epochs: cannot be searched"),
        ("lr: [0.1, 0.2]", "lr: a list needs a distribution"),
    ],
)
def test_malformed_space_is_one_line_exit_2_before_ray(store, make_idea, tmp_path, capsys, text, says):
    assert main(_tune("--idea", make_idea(), "--space", _space(tmp_path, text))) == 2
    err = _error(capsys)
    assert err.startswith("idealoop: error: space.yaml: ")
    assert says in err
    # Nothing was created: no sweep run exists.
    assert not store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'sweep'")


@pytest.mark.parametrize(
    "args, says",
    [
        (["--resume", "0123456789abcdef"], "no sweep run '0123456789abcdef'"),
        (["--space", "examples/space.yaml"], "tune needs --idea ID and --space FILE"),
        (["--idea", "nosuchidea", "--space", str(ROOT / "examples" / "space.yaml")], "no idea 'nosuchidea'"),
        (["--stage", "overfit", "--idea", "x", "--space", "s.yaml"], "stage='overfit' cannot be swept"),
    ],
)
def test_bad_tune_arguments_are_one_line_exit_2(store, capsys, args, says):
    assert main(["tune", *args]) == 2
    assert says in _error(capsys)


def test_unreachable_address_is_one_line_exit_2(store, make_idea, tmp_path, capsys):
    space = _space(tmp_path, "lr: {loguniform: [0.001, 0.1]}")
    t0 = time.monotonic()
    assert main(_tune("--idea", make_idea(), "--space", space, "--address", "127.0.0.1:9")) == 2
    assert "idealoop: error: cannot reach the Ray cluster at 127.0.0.1:9" in _error(capsys)
    assert time.monotonic() - t0 < 10  # fails fast, not after Ray's minutes of retries


def test_resources_no_node_has_are_refused(cluster, store, make_idea, tmp_path, capsys):
    space = _space(tmp_path, "lr: {loguniform: [0.001, 0.1]}")
    assert main(_tune("--idea", make_idea(), "--space", space, "--gpus-per-trial", "0.5")) == 2
    assert "gpus_per_trial=0.5 but the largest node has 0 GPUs" in _error(capsys)


def test_sweep_nests_trials_records_why_each_ended_and_uses_both_nodes(
    cluster, store, make_idea, tmp_path, capsys, doubled
):
    idea = make_idea()
    # Seeds 0-5: increasingly noisy val labels (ASHA's prey); 7 goes NaN; 13 raises.
    space = _space(
        tmp_path, "seed: {grid: [0, 1, 2, 3, 4, 5, 7, 13]}\nwidth: 16\nhist_every: 0\nn_samples: 4"
    )
    # A prefix of the idea's id: the driver resolves it once, and every trial (another process,
    # on either node) is tagged with the full id (asserted below), never the prefix.
    args = ["--idea", idea[:8], "--space", space, "--num-samples", "1", "--max-concurrent", "2"]
    args += [
        "--max-iterations",
        "4",
        "--grace-period",
        "1",
        "--reduction-factor",
        "2",
        "--set",
        "batch_size=64",
    ]
    assert main(_tune(*args)) == 0
    captured = capsys.readouterr()
    sweep_id = captured.out.strip().splitlines()[-1]
    sweep = store.client.get_run(sweep_id)
    assert sweep.info.status == "FINISHED" and sweep.data.tags["idealoop.kind"] == "sweep"
    assert sweep.data.tags["mlflow.parentRunId"] == idea
    assert "stopped" in captured.err and "best val/accuracy" in captured.err  # the progress lines

    trials = _by_seed(_trials(store, sweep_id))
    assert sorted(trials) == [0, 1, 2, 3, 4, 5, 7, 13]
    for run in trials.values():
        assert run.info.status != "RUNNING"
        assert run.data.tags["mlflow.parentRunId"] == sweep_id and run.data.tags["idealoop.idea_id"] == idea
    # Each trial's run is named by what the sweep sampled for it (the fixed width=16 is not named),
    # not by Ray's `train_trial_<id>`; Ray's trial id stays in a tag.
    assert {s: r.info.run_name for s, r in trials.items()} == {s: f"seed={s}" for s in trials}
    assert all(r.data.tags["idealoop.trial_id"] for r in trials.values())
    reasons = {s: r.data.tags["idealoop.end_reason"] for s, r in trials.items()}
    assert reasons[13] == "failed" and trials[13].info.status == "FAILED"
    assert "boom" in trials[13].data.tags["idealoop.error"]
    assert reasons[7] == "nan_loss" and trials[7].info.status == "FAILED"
    stopped = [s for s, why in reasons.items() if why == "stopped_by_asha"]
    assert stopped, reasons  # ASHA stopped at least one of the six healthy trials
    for s in stopped:
        assert trials[s].info.status == "FINISHED"
        assert 1 <= int(trials[s].data.tags["idealoop.asha_iteration"]) < 4
    assert set(reasons.values()) <= {"completed", "stopped_by_asha", "failed", "nan_loss"}
    # The full telemetry contract in a completed trial: a train/loss point per batch.
    done = next(r for s, r in trials.items() if reasons[s] == "completed")
    assert len(store.client.get_metric_history(done.info.run_id, "train/loss")) == 4 * 4
    assert len(store.client.get_metric_history(done.info.run_id, "val/accuracy")) == 5  # epoch 0 + 4
    # A trial's metrics are the headline ones; its per-class F1s are rows of its per-class file.
    assert not [k for k in done.data.metrics if k.startswith(("val/f1/", "hist/"))]
    rows = load_per_class(store, done.info.run_id)
    assert sorted((r["epoch"], r["class"]) for r in rows) == [(e, c) for e in range(5) for c in "01"]
    # No key holds two values at one step (best/<target> was once logged twice at a completed
    # trial's last step: by the epoch's report and again when the stage ended).
    assert {s: doubled(r.info.run_id) for s, r in trials.items()} == {s: {} for s in trials}
    # The sweep records its best trial, which is one of its own (epoch 0, before training, is no result).
    best = sweep.data.tags["idealoop.best_trial"]
    assert best in {r.info.run_id for r in trials.values()}
    trained = [m.value for m in store.client.get_metric_history(best, "val/accuracy") if m.step > 0]
    assert sweep.data.metrics["best/accuracy"] == pytest.approx(max(trained))
    # Both nodes of the cluster ran trials.
    assert len({r.data.tags["idealoop.ray_node"] for r in trials.values()}) == 2
    # `idea show` lists the sweep and its trials with why each ended.
    assert main(["idea", "show", idea]) == 0
    shown = capsys.readouterr().out
    assert f"best trial {best}" in shown and "stopped_by_asha@" in shown and "nan_loss" in shown


def test_trials_pack_their_seeds_and_a_later_trial_reuses_the_first_ones_actor(
    cluster, store, make_idea, tmp_path, capsys
):
    from tests.runners.sweeps.tune_task import pid_file

    # Seeds >= 1000 write their process's PID when the model is built; 2 slow steps of 50 ms each.
    first = 1000 + 10 * (os.getpid() % 500)  # a file of its own per test process
    trial_seeds = [first, first + 5]
    space = _space(tmp_path, f"seed: {{grid: {trial_seeds}}}\nwidth: 8\nhist_every: 0\nn_samples: 0")
    args = ["--idea", make_idea(), "--space", space, "--num-samples", "1", "--max-concurrent", "1"]
    args += ["--max-iterations", "2", "--grace-period", "2", "--seeds", "2", "--set", "batch_size=128"]
    assert main(_tune(*args)) == 0
    sweep_id = capsys.readouterr().out.strip().splitlines()[-1]
    trials = _by_seed(_trials(store, sweep_id))
    assert sorted(trials) == trial_seeds
    for seed, trial in trials.items():
        assert trial.data.tags["idealoop.end_reason"] == "completed"
        assert trial.data.tags["idealoop.seed_packing"] == "vmap"
        kids = store.client.search_runs(
            [store.experiment_id], f"tags.`mlflow.parentRunId` = '{trial.info.run_id}'"
        )
        # Each trial trained its two seeds, each with its own complete run, ended with the trial.
        assert sorted(int(k.data.tags["idealoop.seed"]) for k in kids) == [seed, seed + 1]
        assert all(k.info.status == "FINISHED" and k.data.tags["idealoop.kind"] == "seed" for k in kids)
        assert all(len(store.client.get_metric_history(k.info.run_id, "train/loss")) == 4 for k in kids)
        # What ASHA was given and the trial logs is the mean over its seeds.
        mean = sum(k.data.metrics["val/accuracy"] for k in kids) / 2
        assert trial.data.metrics["val/accuracy"] == pytest.approx(mean)
        assert "best_std/accuracy" in trial.data.metrics
    sweep = store.client.get_run(sweep_id)
    best = store.client.get_run(sweep.data.tags["idealoop.best_trial"])
    assert sweep.data.metrics["best_std/accuracy"] == pytest.approx(best.data.metrics["best_std/accuracy"])
    # One trial at a time: the second ran in the first one's process (reuse_actors), not a new one.
    pids = [open(pid_file(s)).read() for s in trial_seeds]
    assert pids[0] == pids[1], pids


# Where the driver is SIGKILLed (issue 11): (what the test waits to see in MLflow, the epochs it
# may wait for, the range of the delay after it). A seeded RNG draws the epoch and the delay, so a
# run tries the same points every time. Trials train 32 steps of >= 50 ms an epoch (~2 s, more
# beside the hog) and flush telemetry every 0.5 s.
#   before-checkpoint: a trial has stored training steps of epoch 1; none has reported an epoch;
#   mid-epoch: a trial reported epoch 2, then 0.8-1.6 s more (well into epoch 3);
#   after-epoch: a trial's epoch 1 or 2 is stored, killed 0-0.15 s later: around its report and
#     checkpoint (where Ray once named a checkpoint it had already deleted).
KILL_POINTS = {
    "before-checkpoint": ("steps", (0,), (0.0, 0.4)),
    "mid-epoch": ("epoch", (2,), (0.8, 1.6)),
    "after-epoch": ("epoch", (1, 2), (0.0, 0.15)),
}
ON_POSTGRES = {"mid-epoch"}  # kill points tried on PostgreSQL (tests/db.py), the rest on SQLite
# More seeds, for a soak run: IDEALOOP_FAULT_SEEDS=0,1,2,3,4 pytest ... -k killed_driver
FAULT_SEEDS = [int(s) for s in os.environ.get("IDEALOOP_FAULT_SEEDS", "0").split(",")]


def _kill_point(kind: str, seed: int) -> tuple[str, int, float]:
    """(anchor, epoch, delay s): the same for the same (kind, seed)."""
    rng = random.Random(f"{kind}:{seed}")
    anchor, epochs, (low, high) = KILL_POINTS[kind]
    return anchor, rng.choice(epochs), rng.uniform(low, high)


@pytest.fixture
def cpu_hog():
    """A busy-loop process beside the test (2 cores): everything, Ray included, runs late."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield hog
    hog.kill()  # idempotent: a test may stop it early
    hog.wait(10)


def _progress(store, sweep_id) -> dict[str, tuple[int, int]]:
    """{trial run id: (last `epoch` stored, train/loss points stored)}."""
    runs = _trials(store, sweep_id)
    return {
        r.info.run_id: (
            int(r.data.metrics.get("epoch", 0)),
            len(store.client.get_metric_history(r.info.run_id, "train/loss")),
        )
        for r in runs
    }


def _checkpointed_iterations(ray_path: str, trial_id: str) -> int:
    """How many iterations a trial's last attempt started after, from Ray's own result.json:
    0 when it started from scratch, the checkpoint's iteration when Ray restored one."""
    import json

    for path in Path(ray_path).glob("*/result.json"):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if rows and rows[-1].get("trial_id") == trial_id:
            return rows[-1]["training_iteration"] - rows[-1]["iterations_since_restore"]
    raise AssertionError(f"no result.json of trial {trial_id} under {ray_path}")


@pytest.mark.parametrize("kind", sorted(KILL_POINTS))
@pytest.mark.parametrize("seed", FAULT_SEEDS)
def test_killed_driver_is_resumed_with_no_run_left_running(
    cluster, request, store, monkeypatch, tmp_path, doubled, cpu_hog, kind, seed
):
    # A broken implementation: leaves trial runs (or the sweep) RUNNING after the resume, restarts a
    # checkpointed trial from scratch (Ray's result.json says so; its iterations also overrun max_t,
    # so ASHA ends it `stopped_by_asha`: tried, it failed here), stores a replayed step twice
    # (`doubled`: tried, with SkipStored passing every point), makes a second run for a restored
    # trial, or cannot restore the Ray experiment at all.
    anchor, epoch, delay = _kill_point(kind, seed)
    if kind in ON_POSTGRES:  # a team's database: what the resume reads back must be there too
        uri = request.getfixturevalue("postgres_uri")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        store = Store(project=store.project, uri=uri)
    idea = add_idea(
        store, "killed driver", Estimates.parse(hours=1, complexity=1, impact=0.01, likelihood=0.5)
    )
    # 2 trials run at once; at one point a third is pending when the driver dies (on resume it
    # costs another trial process start, ~25 s with the hog, so only there).
    seeds = [100, 101, 102] if kind == "mid-epoch" else [100, 101]
    space = _space(tmp_path, f"seed: {{grid: {seeds}}}\nwidth: 8\nhist_every: 0\nn_samples: 2")
    cmd = [sys.executable, "-m", "runners.cli", *_tune("--idea", idea, "--space", space)]
    cmd += ["--num-samples", "1", "--max-concurrent", "2", "--max-iterations", "4", "--grace-period", "4"]
    cmd += ["--set", "batch_size=8", "--address", cluster.address]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        sweep_id, seen, reached = None, {}, False
        while not reached and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.1)
            found = store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'sweep'")
            if found:
                sweep_id = found[0].info.run_id
                seen = _progress(store, sweep_id)
                epochs = max((e for e, _ in seen.values()), default=0)
                stepped = any(n for _, n in seen.values())
                reached = (anchor == "steps" and stepped) or (anchor == "epoch" and epochs >= epoch)
        assert reached and driver.poll() is None, f"the kill point ({anchor} {epoch}) never came: {seen}"
        time.sleep(delay)
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
        cpu_hog.kill()  # it was there for the race; the resume only gets slower with it
    # Shown if the test fails: where it killed, as (epoch, steps stored) per trial run.
    print(f"kill point {kind}/{seed}: {anchor} {epoch} + {delay:.2f} s; seen then: {seen}")
    print(f"right after the kill: {_progress(store, sweep_id)}")
    # Trials the test saw at epoch >= 2 had reported epoch 1, checkpoint included, to the driver
    # (a report waits for the driver to take the previous one).
    ran = [run_id for run_id, (e, _) in seen.items() if e >= 2]
    left = store.client.search_runs([store.experiment_id], "attributes.status = 'RUNNING'")
    assert left  # the kill left the sweep (and trials) RUNNING: what resume must repair
    time.sleep(2)  # Ray notices the driver is gone and frees its trials' CPUs

    assert main(["tune", "--resume", sweep_id]) == 0
    runs = store.client.search_runs([store.experiment_id], "")
    assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
    trials = _by_seed(_trials(store, sweep_id))
    assert sorted(trials) == seeds  # one run per trial: a restored trial resumes its run
    assert {r.data.tags["idealoop.end_reason"] for r in trials.values()} == {"completed"}
    assert all(r.data.metrics["epoch"] == 4 for r in trials.values())
    # Trials that had trained 2 epochs continued from their checkpoint. MLflow cannot tell (a
    # restart from scratch stores nothing twice either: `SkipStored` drops the replayed steps),
    # so ask Ray: the last attempt's first iteration came after the checkpoint's.
    ray_path = store.client.get_run(sweep_id).data.tags["idealoop.ray_experiment"]
    for run_id in ran:
        trial_id = store.client.get_run(run_id).data.tags["idealoop.trial_id"]
        assert _checkpointed_iterations(ray_path, trial_id) >= 1, "restarted from scratch"
        epochs = [m.value for m in store.client.get_metric_history(run_id, "epoch")]
        assert epochs.count(0) == 1 and max(epochs) == 4, epochs
    for run in trials.values():
        # Steps the killed attempt stored past its checkpoint were replayed, not logged twice.
        steps = [m.step for m in store.client.get_metric_history(run.info.run_id, "train/loss")]
        assert len(steps) == len(set(steps)) and max(steps) == len(steps) - 1 == 4 * 32 - 1
    # Whether a trial restarted from its checkpoint or (none had reached Ray) from scratch, no key
    # holds two values at one step: not the replayed batches, not epoch metrics, not best/<target>.
    assert {s: doubled(r.info.run_id, store) for s, r in trials.items()} == {s: {} for s in trials}
    sweep = store.client.get_run(sweep_id)
    assert sweep.info.status == "FINISHED" and sweep.data.tags["idealoop.end_reason"] == "completed"
    assert sweep.data.tags["idealoop.best_trial"] in {r.info.run_id for r in trials.values()}


def test_a_killed_trial_process_ends_killed_and_the_sweep_goes_on(cluster, store, make_idea, tmp_path):
    # A broken implementation: reads Ray's "actor died" as the trial's own failure (`failed`, FAILED:
    # what it did before issue 11), leaves the dead trial's run RUNNING (no reconcile), or lets one
    # dead trial fail the whole sweep (exit != 0, sweep FAILED, the other trials never run).
    from tests.runners.sweeps.tune_task import pid_file

    victim = 1000 + os.getpid()  # seed >= 1000: the trial writes its PID; this test process's own file
    path = Path(pid_file(victim))
    path.unlink(missing_ok=True)
    idea = make_idea()
    space = _space(tmp_path, f"seed: {{grid: [{victim}, 101, 102]}}\nwidth: 8\nhist_every: 0\nn_samples: 2")
    args = ["--idea", idea, "--space", space, "--num-samples", "1", "--max-concurrent", "2"]
    args += ["--max-iterations", "3", "--grace-period", "3", "--set", "batch_size=16"]
    killed, problems = [], []

    def kill_the_victim() -> None:  # once it has reported an epoch: mid-sweep, mid-training
        try:
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline and not path.exists():
                time.sleep(0.1)
            pid = int(path.read_text())
            while time.monotonic() < deadline:
                found = store.client.search_runs([store.experiment_id], f"params.seed = '{victim}'")
                if found and found[0].data.metrics.get("epoch", 0) >= 1:
                    break
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            problems.append(repr(exc))

    killer = threading.Thread(target=kill_the_victim, daemon=True)
    killer.start()
    try:
        assert main(_tune(*args)) == 0
    finally:
        killer.join(5)
        path.unlink(missing_ok=True)
    assert killed and not problems, problems  # the victim ran this checkout's tune_task and was killed
    (sweep,) = store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'sweep'")
    assert sweep.info.status == "FINISHED"
    trials = _by_seed(_trials(store, sweep.info.run_id))
    assert sorted(trials) == [101, 102, victim]
    dead = trials[victim]
    assert (dead.info.status, dead.data.tags["idealoop.end_reason"]) == ("KILLED", "killed")
    assert dead.data.tags["idealoop.reconciled"] == "true"  # its process died: the driver ended its run
    # Ray 2.60's words for it: ActorDiedError ... "The actor is dead because its worker process has died."
    assert dead.data.tags["idealoop.error"].startswith("ActorDiedError: The actor died unexpectedly")
    assert f"pid: {killed[0]}" in dead.data.tags["idealoop.error"]
    for seed in (101, 102):  # the others ran to the end
        assert (trials[seed].info.status, trials[seed].data.tags["idealoop.end_reason"]) == (
            "FINISHED",
            "completed",
        )
    assert [
        r for r in store.client.search_runs([store.experiment_id], "") if r.info.status == "RUNNING"
    ] == []


def test_sigterm_ends_the_sweep_killed_with_exit_130(store, make_idea, tmp_path):
    # `kill` must act like Ctrl-C. From a terminal, Ray's core worker's C++ SIGTERM handler
    # aborted the driver (exit 134, or 1) and left the sweep RUNNING, which
    # runners.process.sigterm_as_interrupt (again after ray.init) fixes; under pytest that
    # abort did not reproduce, so this test holds the contract (exit 130, sweep KILLED,
    # no trial RUNNING), not the race.
    idea = make_idea()
    space = _space(tmp_path, "seed: {grid: [200, 201]}\nwidth: 8\nhist_every: 0\nn_samples: 2")
    cmd = [sys.executable, "-m", "runners.cli", *_tune("--idea", idea, "--space", space)]
    cmd += ["--num-samples", "1", "--max-concurrent", "1", "--max-iterations", "200", "--grace-period", "200"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        sweep_id = None
        while time.monotonic() < deadline and not sweep_id:  # signal once a trial is training
            found = store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'sweep'")
            if found and any(
                r.data.metrics.get("epoch", 0) >= 1 for r in _trials(store, found[0].info.run_id)
            ):
                sweep_id = found[0].info.run_id
            time.sleep(0.5)
        assert sweep_id, "no trial started training"
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 130, err[-2000:]
    assert "idealoop: interrupted" in err
    sweep = store.client.get_run(sweep_id)
    assert (sweep.info.status, sweep.data.tags["idealoop.end_reason"]) == ("KILLED", "killed")
    assert [r for r in _trials(store, sweep_id) if r.info.status == "RUNNING"] == []


def test_mlflow_run_tune_entry_point_sweeps_stage_scale(cluster, store, make_idea, tmp_path):
    idea = make_idea()
    space = _space(tmp_path, "seed: {grid: [0, 1]}\nwidth: 8\nhist_every: 0\nn_samples: 2")
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "tune", "--env-manager", "local"]
    for param in (
        f"idea={idea}",
        f"space={space}",
        f"task={TASK}",
        "stage=scale",
        "max_iterations=2",
        "num_samples=1",
        "grace_period=2",  # no ASHA stop: both trials reach the scale gate
        f"address={cluster.address}",
    ):
        cmd += ["-P", param]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IDEALOOP_RAY_STORAGE": str(tmp_path / "ray_results")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (sweep,) = store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'sweep'")
    assert sweep.data.tags["mlflow.parentRunId"] == idea and sweep.info.status == "FINISHED"
    trials = _trials(store, sweep.info.run_id)
    assert len(trials) == 2 and all(r.info.status == "FINISHED" for r in trials)
    # The trials ran stage_scale's code: its params and its gate are on each run.
    assert all(
        r.data.tags["idealoop.stage"] == "scale" and "idealoop.gate.scale" in r.data.tags for r in trials
    )
    assert all(r.data.params["lr_decay"] == "cosine" for r in trials)


def test_a_sweep_whose_trials_all_fail_alike_stops_early_with_one_line(
    cluster, store, make_idea, tmp_path, capsys
):
    # The task passes the first-batch checks (it breaks at step 3), so Ray starts; every trial
    # fails the same way. Before: 6 trials ran, Ray printed each traceback, and the trials a
    # stopped sweep left were tagged stopped_by_asha.
    idea = make_idea()
    space = _space(tmp_path, "lr: {loguniform: [0.0001, 0.01]}\nbatch_size: 8\nhist_every: 0\nn_samples: 0")
    task = "tests.runners.tasks.broken_tasks:shape_later"
    args = ["tune", "--task", task, "--storage-path", os.path.join(os.getcwd(), "ray_results")]
    args += ["--idea", idea, "--space", space, "--num-samples", "8", "--max-iterations", "2"]
    args += ["--max-concurrent", "3", "--cpus-per-trial", "0.5"]  # one wave of 3: the first 3 ends decide
    assert main(args) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("idealoop:")]
    assert len(lines) == 1 and "every trial failed the same way" in lines[0], lines
    assert "RuntimeError: The size of tensor" in lines[0] and "Traceback" not in err
    runs = store.search_all("tags.`idealoop.kind` = 'trial'")
    reasons = [r.data.tags.get("idealoop.end_reason") for r in runs]
    assert 3 <= len(runs) < 8, reasons  # stopped early: not every sampled trial ran
    assert set(reasons) == {"failed"} and {r.info.status for r in runs} == {"FAILED"}
