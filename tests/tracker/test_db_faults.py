"""Faults on a real PostgreSQL: the database unreachable for 10 s while a writer stores points.

Why: a sweep on a team's database outlives network blips and database restarts; the
telemetry writer must wait them out (retrying with back-off) and store every point, or fail
the run loudly, never leave a silent gap in a curve. The database is cut off for real,
through a proxy (tests/tracker/db_proxy.py), without stopping the machine's server.
"""

from __future__ import annotations

import threading
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
    with pytest.raises(MlflowException) as refused:  # MLflow's own calls fail at once, no retry
        store.client.set_tag(run_id, "outage", "yes")
    assert unreachable(refused.value)  # and the writer knows this error as "wait it out"
    writer.log_series("train/loss", [float(i) for i in range(500, 2500)], first_step=500)
    restore = threading.Timer(OUTAGE_S, proxy.restore)
    restore.start()
    try:
        writer.close()  # waits the outage out; raises TelemetryError if a point was lost
    finally:
        restore.cancel()
        proxy.restore()
    assert proxy.refused > 0  # the writer did meet the outage
    assert writer.written == 2500
    direct = Store(project=project, uri=postgres_uri).client
    history = direct.get_metric_history(run_id, "train/loss")
    assert sorted(m.step for m in history) == list(range(2500))
    assert all(m.value == float(m.step) for m in history)
    assert direct.get_run(run_id).data.metrics["train/loss"] == 2499.0
