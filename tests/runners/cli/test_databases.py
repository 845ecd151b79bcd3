"""The CLI on PostgreSQL and MariaDB: `MLFLOW_TRACKING_URI=postgresql://...` (psycopg 3) and
`mysql+pymysql://...` work for idea commands and a stage run, and the board's readers (curves,
run counts, the runs table) read back what the stage wrote, fast path and all.

Each database is a fresh one of this test session (tests/db.py).
"""

from __future__ import annotations

import uuid

import pytest

from runners.cli import main
from tracker.curves import read_curve, read_points, summarize
from tracker.queries import project_runs, ranked_ideas
from tracker.sql_metrics import open_sql_sink
from tracker.store import Store

GOOD = ["--title", "t", "--hours", "1", "--complexity", "1", "--impact", "0.01", "--likelihood", "0.5"]
SHORT = ["--set", "one_max_steps=60", "--set", "few_max_steps=60", "--set", "hist_every=20", "--no-progress"]


@pytest.mark.parametrize("fixture", ["postgres_uri", "mariadb_uri"])
def test_a_stage_runs_and_the_board_reads_it_back(request, fixture, tracking_dir, monkeypatch, capsys):
    uri = request.getfixturevalue(fixture)
    project = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("IDEALOOP_PROJECT", project)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("IDEALOOP_SQL_FASTPATH", raising=False)
    monkeypatch.chdir(tracking_dir)
    assert main(["idea", "add", *GOOD]) == 0
    idea = capsys.readouterr().out.strip()
    assert main(["run", "overfit", "--idea", idea, *SHORT]) == 0
    run_id = capsys.readouterr().out.strip()
    store = Store(project=project, uri=uri)
    client = store.client
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["idealoop.idea_id"] == idea
    history = sorted(client.get_metric_history(run_id, "train/loss"), key=lambda m: m.step)
    assert len(history) > 60  # one point per batch of both checks
    # The board's curve reader (its quoted SQL: `key` is reserved in MySQL) agrees with MLflow's API.
    steps, values = read_points(store, run_id, "train/loss")
    assert list(steps) == [m.step for m in history] and list(values) == [m.value for m in history]
    curve = read_curve(store, run_id, "train/loss", max_points=16)
    assert curve.downsampled and curve.total_points == len(history)
    assert summarize(store, run_id, "time/compute_s").count == len(history)
    rows, titles = project_runs(store)
    assert [r.id for r in rows] == [run_id] and titles == {idea: "t"}
    assert [(i.id, n) for i, n in ranked_ideas(store)] == [(idea, 1)]  # its run counted in SQL
    assert main(["idea", "show", idea]) == 0
    assert run_id in capsys.readouterr().out
    assert open_sql_sink(client, run_id) is not None  # the stage wrote through the fast path: tables checked
