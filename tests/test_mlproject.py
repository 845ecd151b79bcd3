"""The MLproject entry point through the real `mlflow run` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _mlflow_run(*params: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "stage_overfit", "--env-manager", "local"]
    for p in params:
        cmd += ["-P", p]
    # The entry point runs `python` from PATH, as in the user's activated venv.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_mlflow_run_stage_overfit_nests_under_the_idea(store, make_idea):
    idea = make_idea("lower lr")
    out = _mlflow_run(f"idea={idea}")
    assert out.returncode == 0, out.stderr[-2000:]
    (run,) = store.client.search_runs([store.experiment_id], "tags.`idealoop.kind` = 'stage'")
    tags = run.data.tags
    assert tags["mlflow.parentRunId"] == idea and tags["idealoop.idea_id"] == idea
    assert tags["idealoop.gate.overfit_one"] == "passed" and tags["idealoop.gate.overfit_few"] == "passed"
    assert run.info.status == "FINISHED"
    steps = int(run.data.metrics["overfit_one/steps"] + run.data.metrics["overfit_few/steps"])
    assert len(store.client.get_metric_history(run.info.run_id, "train/loss")) == steps
    # The launcher MLflow created in `Default` points at the real run and is not left RUNNING.
    (launcher,) = store.client.search_runs(
        [store.client.get_experiment_by_name("Default").experiment_id],
        f"tags.`idealoop.stage_run_id` = '{run.info.run_id}'",
    )
    assert launcher.info.status == "FINISHED"


def test_mlflow_run_with_unknown_idea_fails_and_creates_no_stage_run(store):
    out = _mlflow_run("idea=" + "e" * 32)
    assert out.returncode != 0
    assert "no idea" in out.stderr
    assert store.client.search_runs([store.experiment_id]) == []


def test_every_entry_point_passes_the_task():
    import yaml

    from runners.stages import LADDER

    points = yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]
    for stage in LADDER:
        point = points[stage.entry_point]
        # `-P task=shapes` must reach the stage: a parameter, and forwarded on the command line.
        assert "task" in point["parameters"], stage.entry_point
        assert "--task {task}" in point["command"], stage.entry_point


def test_every_training_entry_point_passes_seeds():
    import yaml

    from runners.cli import build_parser
    from runners.stages import LADDER

    points = yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]
    names = [s.entry_point for s in LADDER if "seeds" in s.config.__dataclass_fields__] + ["tune"]
    assert {"stage_overfit", "stage_generalize", "stage_scale"} <= set(names)
    for name in names:
        # `-P seeds=8` must reach the command (a parameter, forwarded), and its default must parse.
        point = points[name]
        assert point["parameters"]["seeds"]["default"] == "1" and "--seeds {seeds}" in point["command"], name
    args = build_parser().parse_args(["run", "generalize", "--seeds", "4"])
    assert args.seeds == "4"
