"""`idealoop tune` on a real local Ray (a 2-node `ray.cluster_utils.Cluster`) and real MLflow.

One cluster is shared by the module (starting Ray costs seconds on 2 cores). Trials
run `tests/runners/sweeps/tune_task.py`, whose behaviour the sampled `seed` picks: a failing
trial, a NaN trial, noisy-label trials ASHA can stop, slow trials to kill mid-sweep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners.cli import main

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


def test_killed_driver_is_resumed_with_no_run_left_running(cluster, store, make_idea, tmp_path, doubled):
    idea = make_idea()
    space = _space(tmp_path, "seed: {grid: [100, 101, 102, 103]}\nwidth: 8\nhist_every: 0\nn_samples: 2")
    cmd = [sys.executable, "-m", "runners.cli", *_tune("--idea", idea, "--space", space)]
    cmd += ["--num-samples", "1", "--max-concurrent", "2", "--max-iterations", "6", "--grace-period", "6"]
    cmd += ["--address", cluster.address]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        sweep_id = None
        while time.monotonic() < deadline:  # kill once a trial has checkpointed 2 epochs
            found = store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'sweep'")
            if found:
                sweep_id = found[0].info.run_id
                epochs = [r.data.metrics.get("epoch", 0) for r in _trials(store, sweep_id)]
                if max(epochs, default=0) >= 2:
                    break
            time.sleep(0.5)
        assert sweep_id, "the sweep never started"
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    ran = [r.info.run_id for r in _trials(store, sweep_id) if r.data.metrics.get("epoch", 0) >= 2]
    left = store.client.search_runs([store.experiment_id], "attributes.status = 'RUNNING'")
    assert left  # the kill left the sweep (and trials) RUNNING: what resume must repair
    time.sleep(2)  # Ray notices the driver is gone and frees its trials' CPUs

    assert main(["tune", "--resume", sweep_id]) == 0
    runs = store.client.search_runs([store.experiment_id], "")
    assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
    trials = _by_seed(_trials(store, sweep_id))
    assert sorted(trials) == [100, 101, 102, 103]  # one run per trial: a restored trial resumes its run
    assert {r.data.tags["idealoop.end_reason"] for r in trials.values()} == {"completed"}
    assert all(r.data.metrics["epoch"] == 6 for r in trials.values())
    # Trials that had trained 2 epochs continued from their checkpoint: a restart from
    # scratch would log the untrained evaluation (epoch 0) a second time.
    for run_id in ran:
        epochs = [m.value for m in store.client.get_metric_history(run_id, "epoch")]
        assert epochs.count(0) == 1 and max(epochs) == 6, epochs
        # Steps the killed attempt stored past its checkpoint were replayed, not logged twice.
        steps = [m.step for m in store.client.get_metric_history(run_id, "train/loss")]
        assert len(steps) == len(set(steps)) and max(steps) == len(steps) - 1
    # Whether a trial restarted from its checkpoint or (none had reached Ray) from scratch, no key
    # holds two values at one step: not the replayed batches, not epoch metrics, not best/<target>.
    assert {s: doubled(r.info.run_id) for s, r in trials.items()} == {s: {} for s in trials}
    assert store.client.get_run(sweep_id).info.status == "FINISHED"


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
