"""Faults on a real PostgreSQL: the database unreachable for 10 s while a writer stores points.

Why: a sweep on a team's database outlives network blips and database restarts; the
telemetry writer must wait them out (retrying with back-off) and store every point, or fail
the run loudly, never leave a silent gap in a curve. The database is cut off for real,
through a proxy (tests/tracker/db_proxy.py), without stopping the machine's server.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from mlflow.exceptions import MlflowException

from tests.tracker.db_proxy import DatabaseProxy
from tracker.retry import unreachable
from tracker.store import Store

OUTAGE_S = 10


@pytest.fixture
def proxy(postgres_uri):
    assert Store(project="schema", uri=postgres_uri).experiment_id  # MLflow's tables exist before the cut
    p = DatabaseProxy(postgres_uri)
    yield p
    p.close()


def test_writer_stores_every_point_through_a_10_s_postgres_outage(proxy, postgres_uri, monkeypatch):
    from tracker.telemetry import TelemetryWriter

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    project = f"outage-{uuid.uuid4().hex[:6]}"
    store = Store(project=project, uri=proxy.uri)
    run_id = store.client.create_run(store.experiment_id).info.run_id
    writer = TelemetryWriter(store, run_id, process=False)
    writer.log_series("train/loss", [float(i) for i in range(500)], first_step=0)
    writer.flush()  # stored before the outage
    proxy.cut()
    with pytest.raises(MlflowException) as refused:  # MLflow's own client fails at once, no retry
        store.client._client.set_tag(run_id, "outage", "yes")
    assert unreachable(refused.value)  # and idealoop knows this error as "wait it out"
    writer.log_series("train/loss", [float(i) for i in range(500, 2500)], first_step=500)
    restore = threading.Timer(OUTAGE_S, proxy.restore)
    restore.start()
    try:
        t0 = time.monotonic()
        store.client.set_tag(run_id, "outage", "waited")  # the patient client waits the outage out
        waited = time.monotonic() - t0
        writer.close()  # waits the outage out; raises TelemetryError if a point was lost
    finally:
        restore.cancel()
        proxy.restore()
    assert proxy.refused > 0 and waited > OUTAGE_S / 2  # both did meet the outage
    assert writer.written == 2500
    direct = Store(project=project, uri=postgres_uri).client
    history = direct.get_metric_history(run_id, "train/loss")
    assert sorted(m.step for m in history) == list(range(2500))
    assert all(m.value == float(m.step) for m in history)
    assert direct.get_run(run_id).data.metrics["train/loss"] == 2499.0
    assert direct.get_run(run_id).data.tags["outage"] == "waited"


def test_a_read_gives_up_sooner_and_a_refusal_is_not_waited_out(proxy, monkeypatch, capsys):
    # A broken PatientClient: waits out reads as long as writes (a board pointed at a store that
    # is down hangs for ten minutes), or waits out errors that are not an outage.
    import tracker.retry as retry

    monkeypatch.setattr(retry, "READ_PATIENCE_S", 3.0)
    monkeypatch.setattr(retry, "RETRY_PAUSE_S", 0.5)
    store = Store(project=f"read-{uuid.uuid4().hex[:6]}", uri=proxy.uri)
    run_id = store.client.create_run(store.experiment_id).info.run_id
    t0 = time.monotonic()
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        store.client.get_run("0" * 32)  # the store answers "no": raised at once
    assert time.monotonic() - t0 < 2
    proxy.cut()
    t0 = time.monotonic()
    with pytest.raises(MlflowException) as down:
        store.client.get_run(run_id)
    assert unreachable(down.value) and 3.0 <= time.monotonic() - t0 < 10
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("idealoop:")]
    assert said == [
        "idealoop: the tracking store does not answer; retrying for up to 3 s (IDEALOOP_SERVER_PATIENCE_S)"
    ]
