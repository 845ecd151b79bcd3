"""A whole sweep through a 10 s PostgreSQL outage (issue 14): trials and driver wait it out.

Why: a team's sweep writes to a shared database for hours; a restart or a network blip in
the middle must cost a pause, not a failed trial or a gap in a curve. The database is cut
off for real, through a proxy (tests/tracker/db_proxy.py), while the trials train and end:
their points, their end-of-run tags and status, and the driver's own records all go through
the outage. A broken implementation (MLflow's calls not retried) fails the trials that end
during the cut, or the sweep run itself, and leaves runs RUNNING.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

from runners.cli import main
from tests.tracker.db_proxy import DatabaseProxy
from tracker.estimates import Estimates
from tracker.ideas import add_idea
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[3]
TASK = "tests.runners.sweeps.tune_task:make_task"
OUTAGE_S = 10
SECOND_S = 4
FIRST_TRY_S = 60  # the longest the first cut waits for the sweep to reach for the database
EPOCHS, STEPS = 4, 32  # tune_task: 256 samples, batch 8; seeds >= 100 sleep 50 ms a step


def _poll(found, what: str, deadline: float):
    while time.monotonic() < deadline:
        if found():
            return True
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}")


def _cut_twice(proxy: DatabaseProxy, direct: Store, seen: dict) -> None:
    """Cut the database off (watching it directly, not through the proxy) twice: for OUTAGE_S
    as soon as the sweep run exists, while the driver records it and the trials create their
    runs; then for SECOND_S once trials have stored training points, while they train."""
    deadline = time.monotonic() + 180

    def runs(kind):
        return direct.client.search_runs([direct.experiment_id], f"tags.`idealoop.kind` = '{kind}'")

    def points():
        return sum(len(direct.client.get_metric_history(r.info.run_id, "train/loss")) for r in runs("trial"))

    try:
        _poll(lambda: runs("sweep"), "the sweep run", deadline)
        seen["trials_before_first_cut"] = len(runs("trial"))
        proxy.cut()
        # The outage starts for the sweep when it first reaches for the database: on a loaded
        # machine Ray's start can take longer than OUTAGE_S, and an outage no one met tests nothing.
        noticed = time.monotonic() + FIRST_TRY_S
        while proxy.refused == 0 and time.monotonic() < noticed:
            time.sleep(0.1)
        time.sleep(OUTAGE_S)
        proxy.restore()
        seen["refused_in_first_cut"] = proxy.refused
        _poll(points, "a training point", deadline)
        seen["points_before_second_cut"] = points()
        proxy.cut()
        time.sleep(SECOND_S)
    finally:
        proxy.restore()


def test_a_sweep_stores_every_point_through_a_10_s_postgres_outage(
    postgres_uri, tmp_path, monkeypatch, capsys
):
    assert Store(project="schema", uri=postgres_uri).experiment_id  # MLflow's tables exist before the cut
    proxy = DatabaseProxy(postgres_uri)
    project = f"outage-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.uri)
    monkeypatch.setenv("IDEALOOP_PROJECT", project)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    )
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(tmp_path)
    store = Store(project=project, uri=proxy.uri)
    est = Estimates.parse(hours=1, complexity=1, impact=0.01, likelihood=0.5)
    idea = add_idea(store, "outage", est)
    (tmp_path / "space.yaml").write_text("seed: {grid: [100, 101]}\nwidth: 8\nhist_every: 0\nn_samples: 2")
    direct = Store(project=project, uri=postgres_uri)  # the test's own view, not through the proxy
    seen: dict = {}
    cutter = threading.Thread(target=_cut_twice, args=(proxy, direct, seen), daemon=True)
    cutter.start()
    try:
        args = ["tune", "--task", TASK, "--idea", idea, "--space", "space.yaml", "--num-samples", "1"]
        args += ["--max-concurrent", "2", "--max-iterations", str(EPOCHS), "--grace-period", str(EPOCHS)]
        args += ["--set", "batch_size=8", "--storage-path", str(tmp_path / "ray_results")]
        code = main(args)
        cutter.join(FIRST_TRY_S + OUTAGE_S + SECOND_S + 5)
    finally:
        proxy.restore()
        proxy.close()
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    # Both cuts came where meant: before any trial had a run, and while trials were storing points.
    assert seen["trials_before_first_cut"] == 0 and seen["refused_in_first_cut"] > 0, seen
    assert 0 < seen["points_before_second_cut"] < 2 * EPOCHS * STEPS, seen
    assert proxy.refused > seen["refused_in_first_cut"], "nothing met the second cut"
    (sweep,) = direct.client.search_runs([direct.experiment_id], "tags.`idealoop.kind` = 'sweep'")
    assert sweep.info.status == "FINISHED" and sweep.data.tags["idealoop.end_reason"] == "completed"
    trials = direct.client.search_runs([direct.experiment_id], "tags.`idealoop.kind` = 'trial'")
    assert len(trials) == 2
    for run in trials:
        assert (run.info.status, run.data.tags["idealoop.end_reason"]) == ("FINISHED", "completed")
        # Every batch's point, before, during and after the outage, once each.
        steps = sorted(m.step for m in direct.client.get_metric_history(run.info.run_id, "train/loss"))
        assert steps == list(range(EPOCHS * STEPS)), (len(steps), steps[:5], steps[-5:])
        epochs = sorted(m.value for m in direct.client.get_metric_history(run.info.run_id, "epoch"))
        assert epochs == [float(e) for e in range(EPOCHS + 1)]
    assert sweep.data.tags["idealoop.best_trial"] in {r.info.run_id for r in trials}
