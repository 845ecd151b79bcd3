"""Bulk metric inserts into MLflow's own SQL tables: the writer's fast path.

Why: `MlflowClient.log_batch` on a SQL store builds one SQLAlchemy ORM object per
point and flushes them through the unit of work, ~80 µs of Python per point
(measured, `bench/writer_throughput.py`). A per-batch `train/loss`, `val/loss_batch`
and timings on a 2 ms step is 5 points a step: MLflow's cost alone would be a fifth
of the training time, and in the training process it holds the GIL.

This sink writes the same rows MLflow would, into MLflow's tables as MLflow defines
them (`SqlMetric.__table__`, `SqlLatestMetric.__table__`, through the store's own
engine), with one executemany per batch: ~6 µs a point. What `log_batch` does and
this keeps: metric names validated (once per key); NaN stored as `is_nan` with value
0 and ±inf as ±max float; identical points in a batch written once; `latest_metrics`
advanced to the point with the greatest (step, timestamp, value); one transaction
per batch. A batch that collides with points already stored (a restored trial
re-logging a step with the same timestamp) is handed to `log_batch`, which dedups.

Only for SQL stores; an HTTP tracking server keeps `log_batch` (its cost lands on
the server). `open_sql_sink` returns None where the fast path does not apply.
"""

from __future__ import annotations

import math

import sqlalchemy as sa

_COLUMNS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")  # MLflow's declared order
MAX_BATCH = 1000  # MLflow's log_batch limit on metrics per call; writers flush at this size
MAX_FLOAT = 1.7976931348623157e308  # MLflow's stand-in for ±inf (SQL has no infinities)


def sanitize(value: float) -> tuple[float, bool]:
    """(stored value, is_nan), exactly as MLflow's SqlAlchemyStore stores a metric value."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (MAX_FLOAT if value > 0 else -MAX_FLOAT), False
    return value, False


class SqlMetricSink:
    """Writes (key, value, timestamp_ms, step) rows of one run in bulk; see the module doc."""

    def __init__(self, client, store, run_id: str) -> None:
        from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric

        self._client = client
        self._engine = store.engine
        self._run_id = run_id
        self._metrics = SqlMetric.__table__
        self._latest = SqlLatestMetric.__table__
        self._valid_keys: set[str] = set()
        self._run_checked = False
        # The insert as this database's driver spells it, run with executemany on plain
        # tuples: SQLAlchemy's per-row parameter processing was half of the cost.
        compiled = sa.insert(self._metrics).compile(dialect=self._engine.dialect)
        self._insert_sql = str(compiled)
        self._columns = compiled.positiontup if compiled.positional else None

    def write(self, rows: list[tuple]) -> None:
        """Store the rows in one transaction; raises on failure (the caller retries)."""
        from mlflow.utils.validation import _validate_metric

        run = self._run_id
        if not self._run_checked:  # as log_batch does: no points for a missing or deleted run
            info = self._client.get_run(run).info  # raises for a run that does not exist
            if info.lifecycle_stage != "active":
                raise ValueError(f"run {run} is deleted: its metrics cannot be logged")
            self._run_checked = True
        values = []  # in _COLUMNS order
        latest: dict[str, tuple] = {}
        for key, value, ts, step in rows:
            if key not in self._valid_keys:
                _validate_metric(key, value, ts, step)
                self._valid_keys.add(key)
            is_nan = False
            if value - value != 0:  # NaN or ±inf (finite values subtract to 0)
                value, is_nan = sanitize(value)
            values.append((key, value, ts, step, is_nan, run))
            order = (step, ts, value)
            if key not in latest or order > latest[key][0]:
                latest[key] = (order, is_nan)
        values = list(dict.fromkeys(values))  # identical points in one batch: stored once, like log_batch
        try:
            with self._engine.begin() as conn:
                conn.exec_driver_sql(self._insert_sql, self._driver_params(values))
                self._advance_latest(conn, latest)
        except sa.exc.IntegrityError:
            # Some points are stored already: MLflow's own path skips exactly those.
            from mlflow.entities import Metric

            self._client.log_batch(run, metrics=[Metric(*row) for row in rows], synchronous=True)

    def _driver_params(self, values: list[tuple]) -> list:
        if self._columns is None:  # a named paramstyle (e.g. psycopg2's %(key)s)
            return [dict(zip(_COLUMNS, v, strict=True)) for v in values]
        if tuple(self._columns) == _COLUMNS:
            return values
        order = [_COLUMNS.index(c) for c in self._columns]
        return [tuple(v[i] for i in order) for v in values]

    def _advance_latest(self, conn, latest: dict[str, tuple]) -> None:
        """One select, then one executemany each for new keys and advanced keys."""
        t, run = self._latest, self._run_id
        where = (t.c.run_uuid == run) & t.c.key.in_(list(latest))
        stored = {r.key: (r.step, r.timestamp or 0, r.value) for r in conn.execute(sa.select(t).where(where))}
        inserts, updates = [], []
        for key, ((step, ts, value), is_nan) in latest.items():
            if key not in stored:
                inserts.append(
                    {
                        "key": key,
                        "run_uuid": run,
                        "value": value,
                        "timestamp": ts,
                        "step": step,
                        "is_nan": is_nan,
                    }
                )
            elif (step, ts, value) > stored[key]:
                updates.append({"k": key, "v": value, "ts": ts, "s": step, "nan": is_nan})
        if inserts:
            conn.execute(sa.insert(t), inserts)
        if updates:
            values = {"value": sa.bindparam("v"), "timestamp": sa.bindparam("ts"), "step": sa.bindparam("s"),
                      "is_nan": sa.bindparam("nan")}  # fmt: skip
            conn.execute(
                sa.update(t).where((t.c.run_uuid == run) & (t.c.key == sa.bindparam("k"))).values(values),
                updates,
            )


def store_rows(client, sink: SqlMetricSink | None, run_id: str, rows: list[tuple], retries: int = 8):
    """Store (key, value, timestamp_ms, step) rows: the bulk path when there is one, else
    `log_batch`. Retried with back-off (SQLite "database is locked" under concurrent
    writers); returns None once stored, or the last error after `retries` attempts."""
    import time

    from mlflow.entities import Metric

    delay, attempts, error = 0.05, max(retries, 1), None
    for attempt in range(attempts):
        try:
            if sink is not None:
                sink.write(rows)
            else:
                client.log_batch(run_id, metrics=[Metric(*row) for row in rows], synchronous=True)
            return None
        except Exception as exc:  # noqa: BLE001 - retried, then returned to the caller to report
            error = exc
            if attempt < attempts - 1:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
    return error


def sql_backend(client):
    """MLflow's SqlAlchemyStore behind the client, or None (e.g. an HTTP tracking server)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    backend = getattr(getattr(client, "_tracking_client", None), "store", None)
    return backend if isinstance(backend, SqlAlchemyStore) else None


def open_sql_sink(client, run_id: str) -> SqlMetricSink | None:
    """The fast path for this client's store, or None (an HTTP server, or an unknown store)."""
    backend = sql_backend(client)
    return SqlMetricSink(client, backend, run_id) if backend is not None else None
