"""The mistakes a new user makes inside a task (issue 18's "Why"): one line each, non-zero exit,
in seconds, from `idealoop run`, `mlflow run` and `idealoop tune`; and stage_check end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runners.cli import main

BROKEN = "tests.runners.tasks.broken_tasks"
ROOT = Path(__file__).resolve().parents[3]


def _lines(capsys) -> tuple[list[str], str]:
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if line.startswith("idealoop:")], err


MISTAKES = [
    ("missing_metric", "target metric 'rmse' is not among the metrics the task computes"),
    ("wide_output", "outputs (8, 3) float32, targets (8, 1) float32"),
    ("default_kind", "a regression? set kind='regression'"),
    ("unknown_kind", "unknown kind 'regresion'; known:"),
    ("as_dict", "returned a dict, not a runners.tasks.base.Task"),
]


@pytest.mark.parametrize("stage", ["baseline", "generalize"])
@pytest.mark.parametrize(("name", "says"), MISTAKES)
def test_each_task_mistake_is_one_line_exit_2_and_no_run(store, capsys, stage, name, says):
    # Before: baseline printed "nan is the score to beat" and exited 0; generalize passed a
    # (N, 3)-vs-(N, 1) regression with a broadcast warning; the default kind crashed after an epoch.
    assert main(["run", stage, "--task", f"{BROKEN}:{name}", "--no-progress"]) == 2
    lines, err = _lines(capsys)
    assert len(lines) == 1 and says in lines[0], err
    assert store.search_all("") == []  # nothing half-written


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("shape_later", "RuntimeError: The size of tensor"),
        ("nan_later", "NonFiniteLoss: train loss became nan"),
    ],
)
def test_a_failure_inside_training_is_one_line_with_step_run_and_traceback_artifact(
    store, capsys, name, says
):
    code = main(["run", "generalize", "--task", f"{BROKEN}:{name}", "--no-progress", "--set", "batch_size=8"])
    lines, err = _lines(capsys)
    (run,) = store.search_all("")
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert says in lines[0] and "at step 3" in lines[0]
    assert f"run {run.info.run_id} is FAILED" in lines[0] and "error/traceback.txt" in lines[0]
    assert run.info.status == "FAILED"


def test_tune_refuses_a_broken_task_before_ray_starts(store, make_idea, tmp_path, capsys):
    import ray

    space = tmp_path / "space.yaml"
    space.write_text("lr: {loguniform: [0.0001, 0.01]}\n")
    args = ["tune", "--idea", make_idea(), "--space", str(space), "--task", f"{BROKEN}:missing_metric"]
    assert main(args) == 2
    lines, err = _lines(capsys)
    assert len(lines) == 1 and "target metric 'rmse'" in lines[0], err
    assert not ray.is_initialized()  # before: a minute inside Ray and an 84-line traceback


def test_mlflow_run_says_the_same_one_line(store, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IDEALOOP_DEBUG": ""}
    env.pop("MLFLOW_RUN_ID", None)
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "stage_generalize", "--env-manager"]
    cmd += ["local", "--experiment-name", store.project, "-P", f"task={BROKEN}:wide_output"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("idealoop:")]
    assert done.returncode != 0 and len(lines) == 1 and "outputs (8, 3) float32" in lines[0], done.stderr


def test_stage_check_records_each_check_as_a_gate_with_its_reason(store, capsys):
    assert main(["run", "check", "--no-progress"]) == 0
    (run,) = store.search_all("")
    tags, metrics = run.data.tags, run.data.metrics
    names = [
        "outputs",
        "target_metric",
        "init_loss",
        "gradients",
        "batch_independence",
        "gradcheck",
        "determinism",
    ]
    assert {f"idealoop.gate.check_{n}" for n in names} <= set(tags) and tags[
        "idealoop.gate.check"
    ] == "passed"
    assert "expected 2.303" in tags["idealoop.check.init_loss"]  # ln 10 for the ten digits
    assert metrics["check/batch_leak"] == 0 and metrics["check/params_without_grad"] == 0


def test_stage_check_fails_a_seeded_bug_and_says_which(store, capsys):
    assert main(["run", "check", "--task", f"{BROKEN}:wide_output", "--no-progress"]) == 0
    (run,) = store.search_all("")
    assert run.data.tags["idealoop.gate.check"] == "failed"
    assert "needs outputs of the targets' shape" in run.data.tags["idealoop.check.outputs"]
    assert "check outputs: FAILED" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["shapes", "denoise"])
def test_the_other_built_in_tasks_pass_every_check(name):
    from runners.stages.check import run_all
    from runners.stages.config import CheckConfig
    from runners.tasks.base import load_task

    results = run_all(CheckConfig(task=name, width=16, batch_size=8), load_task(name))
    assert [(r.name, r.reason) for r in results if not r.passed] == []
