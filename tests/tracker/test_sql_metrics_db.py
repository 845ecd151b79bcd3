"""The fast path on every database idealoop supports: what it writes reads back through
MLflow's own API exactly as `log_batch` stores it, and it locks `latest_metrics` as MLflow does.

SQLite is the session's store; PostgreSQL and MariaDB are fresh databases of this test
session (tests/db.py), skipped only where no server answers.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow.entities import Metric

from tracker.sql_metrics import open_sql_sink, sql_backend
from tracker.store import Store

SPECIAL = [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.7976931348623157e308, 5e-324]
POINT = st.tuples(
    st.sampled_from(["train/loss", "val/loss_batch", "time/data_s"]),
    st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True)),
    st.integers(1000, 1002),  # few timestamps: equal ones are common
    st.integers(0, 4),  # few steps: repeated ones are common
)
# One or two batches: the second repeats some points the first stored (a restored trial).
BATCHES = st.lists(st.lists(POINT, min_size=1, max_size=30), min_size=1, max_size=2).map(
    lambda bs: bs if len(bs) < 2 else [bs[0], bs[1] + bs[0][:5]]
)


def stored(client, run_id: str) -> tuple[list, list]:
    """Every point of the run through MlflowClient.get_metric_history, and its latest metrics."""
    run = client.get_run(run_id)
    keys = sorted(run.data.metrics)
    points = [(key, m) for key in keys for m in client.get_metric_history(run_id, key)]
    history = sorted(repr((key, m.step, m.timestamp, m.value)) for key, m in points)
    latest = sorted(repr((m.key, m.step, m.timestamp, m.value)) for m in run.data.to_proto().metrics)
    return history, latest  # repr: NaN equals NaN, -0.0 differs from 0.0


@settings(
    max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=BATCHES)
def test_fast_path_reads_back_as_log_batch_stores_it(db_store, batches):
    client = db_store.client
    ours, theirs = (client.create_run(db_store.experiment_id).info.run_id for _ in range(2))
    sink = open_sql_sink(client, ours)
    assert sink is not None and sink.active
    for batch in batches:
        sink.write(batch)
        client.log_batch(theirs, metrics=[Metric(*point) for point in batch], synchronous=True)
    assert stored(client, ours) == stored(client, theirs)
    assert sink.active  # nothing made it stand down: every batch went the fast way (or MLflow's dedup)


def _server_store(request, kind: str, monkeypatch, tracking_dir) -> Store:
    import uuid

    monkeypatch.chdir(tracking_dir)
    uri = request.getfixturevalue({"postgresql": "postgres_uri", "mariadb": "mariadb_uri"}[kind])
    return Store(project=f"test-{uuid.uuid4().hex[:8]}", uri=uri)


WAITING = {  # statements that count this database's transactions waiting for a row lock
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock'",
    "mariadb": "SELECT count(*) FROM information_schema.innodb_trx t JOIN information_schema.processlist p "
    "ON p.id = t.trx_mysql_thread_id WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()",
}


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_latest_metrics_rows_are_locked_while_the_writer_decides(request, kind, monkeypatch, tracking_dir):
    # Another transaction holds the run's latest_metrics row and moves it to step 9. The writer,
    # storing a step-7 point, must wait for it and then leave step 9 alone. Without FOR UPDATE
    # it read step 5, waited only at its UPDATE, and then overwrote 9 with 7: a lost update.
    store = _server_store(request, kind, monkeypatch, tracking_dir)
    client = store.client
    run_id = client.create_run(store.experiment_id).info.run_id
    sink = open_sql_sink(client, run_id)
    sink.write([("loss", 1.0, 1000, 5)])
    engine = sql_backend(client).engine
    latest = sa.table("latest_metrics", sa.column("run_uuid"), sa.column("key"), sa.column("step"),
                      sa.column("value"))  # fmt: skip
    mine = (latest.c.run_uuid == run_id) & (latest.c.key == "loss")
    errors: list[BaseException] = []
    with engine.connect() as other, engine.connect() as watch:
        tx = other.begin()
        other.execute(sa.select(latest.c.step).where(mine).with_for_update())
        other.execute(sa.update(latest).where(mine).values(step=9, value=9.0))
        writer = threading.Thread(target=lambda: _catch(errors, sink.write, [("loss", 2.0, 1000, 7)]))
        writer.start()
        assert _waits_for_a_lock(watch, kind), f"the writer never waited for the row lock: {errors}"
        tx.commit()
        writer.join(60)
    assert not errors
    got = client.get_run(run_id).data.to_proto().metrics
    assert [(m.step, m.value) for m in got] == [(9, 9.0)]  # the other transaction's row survived
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == [5, 7]


def _waits_for_a_lock(watch, kind: str, timeout_s: float = 60) -> bool:
    """Whether a transaction of this database waits for a row lock (looked for up to `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = watch.exec_driver_sql(WAITING[kind]).scalar()
        watch.rollback()  # a fresh snapshot for the next look
        if waiting:
            return True
        time.sleep(0.25)  # InnoDB refreshes innodb_trx only when it was not read for 0.1 s
    return False


def _catch(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        errors.append(exc)


def test_a_deadlocked_batch_is_run_again(request, monkeypatch, tracking_dir):
    # A real deadlock on PostgreSQL: another transaction holds the run's latest_metrics row, the
    # writer (having inserted its metrics row) waits for it, and the other one then inserts that
    # same metrics row. PostgreSQL aborts the writer, which waited first; the writer runs its
    # batch again, as MLflow's own store does, instead of failing it.
    store = _server_store(request, "postgresql", monkeypatch, tracking_dir)
    client = store.client
    run_id = client.create_run(store.experiment_id).info.run_id
    sink = open_sql_sink(client, run_id)
    sink.write([("loss", 0.0, 1000, 0)])
    engine = sql_backend(client).engine
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    with engine.connect() as watch:
        before = watch.exec_driver_sql(deadlocks).scalar()
        watch.rollback()
    errors: list[BaseException] = []
    with engine.connect() as other, engine.connect() as watch:
        tx = other.begin()
        other.exec_driver_sql("SELECT step FROM latest_metrics WHERE run_uuid = %s FOR UPDATE", (run_id,))
        writer = threading.Thread(target=lambda: _catch(errors, sink.write, [("loss", 2.0, 1000, 2)]))
        writer.start()
        assert _waits_for_a_lock(watch, "postgresql")
        other.exec_driver_sql(
            "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            ("loss", 2.0, 1000, 2, False, run_id),
        )  # waits for the writer's row: a deadlock, which PostgreSQL breaks by aborting the writer
        tx.commit()
        writer.join(60)
    assert not errors, errors
    with engine.connect() as watch:
        assert watch.exec_driver_sql(deadlocks).scalar() > before  # there was one
    # Run again, the batch met the row the other transaction stored and went to log_batch's dedup.
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == [0, 2]
