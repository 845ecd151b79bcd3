"""Bulk metric inserts into MLflow's own SQL tables: the writer's fast path.

Why: `MlflowClient.log_batch` on a SQL store builds one SQLAlchemy ORM object per
point and flushes them through the unit of work, ~80 µs of Python per point
(measured, `bench/writer_throughput.py`). A per-batch `train/loss`, `val/loss_batch`
and timings on a 2 ms step is 5 points a step: MLflow's cost alone would be a fifth
of the training time, and in the training process it holds the GIL.

This sink writes the same rows MLflow would, into MLflow's tables as MLflow defines
them (`SqlMetric.__table__`, `SqlLatestMetric.__table__`, statements built and quoted
by SQLAlchemy Core for the store's own engine), one bulk insert per batch: an
executemany, or COPY on PostgreSQL through psycopg 3. What `log_batch` does and this
keeps: metric names validated (once per key); NaN stored as `is_nan` with value 0 and
±inf as ±max float; identical points in a batch written once; `latest_metrics`
advanced to the point with the greatest (step, timestamp, value), its rows locked
(SELECT ... FOR UPDATE, in key order) as MLflow locks them, a deadlock retried; one
transaction per batch.

It writes into tables it does not own, so it trusts them only after a check at open
(`schema_problem`): MLflow's schema revision must be one this path was verified on
(CHECKED_REVISIONS) and both tables must hold exactly the columns it fills (WRITTEN).
On any mismatch, with `IDEALOOP_SQL_FASTPATH=0`, or against an HTTP server,
`open_sql_sink` returns None and the writer uses `log_batch`; a mismatch is said once,
as a warning. At write time any database error hands the batch to `log_batch`: a batch
that collides with stored points (a restored trial re-logging a step) is deduped there;
an error that says the database refused the statement itself (a column, a value) also
turns the sink off for good, said once; if `log_batch` fails as well (a connection or
lock error), the error is raised for the caller to retry (tracker/retry.py).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time

import sqlalchemy as sa

WRITTEN = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")  # the columns filled, both tables
# MLflow schema heads (alembic revisions) the fast path was checked on: MLflow 3.17 (pyproject's range).
CHECKED_REVISIONS = ("dc11669786a5",)
FASTPATH_ENV = "IDEALOOP_SQL_FASTPATH"  # 0: always log_batch
MAX_BATCH = 1000  # MLflow's log_batch limit on metrics per call; writers flush at this size
MAX_FLOAT = 1.7976931348623157e308  # MLflow's stand-in for ±inf (SQL has no infinities)
DEADLOCK_RETRIES = 3  # a transaction a deadlock rolled back is run again this often
_RETRIED_CODES = {"40P01", "40001", 1213, 1205}  # PostgreSQL deadlock/serialization; MySQL deadlock/lock wait

_log = logging.getLogger(__name__)
_said: set[str] = set()


def warn_once(message: str) -> None:
    """A warning this process says once, however many runs it writes."""
    if message not in _said:
        _said.add(message)
        _log.warning("idealoop: %s", message)


def fastpath_enabled() -> bool:
    """`IDEALOOP_SQL_FASTPATH`: unset or 1 (the default) uses the fast path, 0 turns it off."""
    value = os.environ.get(FASTPATH_ENV, "1").strip().lower()
    if value in ("", "1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"{FASTPATH_ENV}={value!r}: expected 1 (on, the default) or 0 (off: MLflow's log_batch)")


def sanitize(value: float) -> tuple[float, bool]:
    """(stored value, is_nan), exactly as MLflow's SqlAlchemyStore stores a metric value."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (MAX_FLOAT if value > 0 else -MAX_FLOAT), False
    return value, False


def schema_problem(engine) -> str | None:
    """Why the fast path must not write into this database, or None when its tables are the
    ones it was checked on: a known MLflow schema revision, and exactly WRITTEN's columns
    in MLflow's `metrics` and `latest_metrics` models and in the database's own tables."""
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric

    try:
        with engine.connect() as conn:
            version = sa.table("alembic_version", sa.column("version_num"))
            revision = conn.execute(sa.select(version.c.version_num)).scalar()
            stored = {
                model.__table__.name: {c["name"] for c in sa.inspect(conn).get_columns(model.__table__.name)}
                for model in (SqlMetric, SqlLatestMetric)
            }
    except sa.exc.SQLAlchemyError as exc:
        return f"its tables could not be inspected ({_first_line(exc)})"
    if revision not in CHECKED_REVISIONS:
        checked = ", ".join(CHECKED_REVISIONS)
        return f"MLflow schema revision {revision} is not one it was checked on ({checked})"
    for model in (SqlMetric, SqlLatestMetric):
        name, declared = model.__table__.name, {c.name for c in model.__table__.columns}
        for what, columns in (("MLflow's model of", declared), ("the database's", stored[name])):
            extra, missing = sorted(columns - set(WRITTEN)), sorted(set(WRITTEN) - columns)
            if extra or missing:
                return (f"{what} table {name} has columns it does not fill {extra}"
                        f" or lacks columns it writes {missing}")  # fmt: skip
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class SqlMetricSink:
    """Writes (key, value, timestamp_ms, step) rows of one run in bulk; see the module doc.

    Build it with `open_sql_sink`, which checks the tables first. `active` turns False when
    the database refused a statement: the rest of the run goes through `log_batch`.
    """

    def __init__(self, client, store, run_id: str) -> None:
        from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric

        self._client = client
        self._engine = engine = store.engine
        self._run_id = run_id
        self._metrics = SqlMetric.__table__
        self._latest = SqlLatestMetric.__table__
        self._valid_keys: set[str] = set()
        self._run_checked = False
        self.active = True
        self._dbapi = engine.dialect.dbapi
        quote = engine.dialect.identifier_preparer
        # PostgreSQL through psycopg 3: COPY, ~1.7x an executemany there. Elsewhere the insert as
        # this driver spells it, run with executemany on plain tuples (SQLAlchemy's per-row
        # parameter processing was half of the cost).
        self._copy = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        self._multirow = engine.dialect.driver == "pymysql"
        columns = ", ".join(quote.quote(c) for c in WRITTEN)
        if self._copy:
            self._insert_sql = f"COPY {quote.format_table(self._metrics)} ({columns}) FROM STDIN"
        elif self._multirow:
            self._insert_sql = f"INSERT INTO {quote.format_table(self._metrics)} ({columns}) VALUES "
            self._literals: dict[str, str] = {}  # key -> the driver's escaped literal
        else:
            compiled = sa.insert(self._metrics).compile(dialect=engine.dialect)
            self._insert_sql = str(compiled)
            self._columns = tuple(compiled.positiontup) if compiled.positional else None

    def write(self, rows: list[tuple]) -> None:
        """Store the rows in one transaction; raises on failure (the caller retries)."""
        if not self.active:
            return self._log_batch(rows)
        values, latest = self._prepare(rows)
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                with self._engine.begin() as conn:
                    self._insert(conn, values)
                    self._advance_latest(conn, latest)
                return None
            except Exception as exc:  # noqa: BLE001 - sorted below by what the database said
                error = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
                if isinstance(error, self._dbapi.IntegrityError):
                    # Some points are stored already: MLflow's own path skips exactly those.
                    return self._log_batch(rows)
                if _retried(error) and attempt < DEADLOCK_RETRIES:
                    time.sleep(0.05 * 2**attempt + random.uniform(0, 0.05))  # jitter: the other goes first
                    continue
                if not isinstance(error, self._dbapi.Error):
                    raise
                self._log_batch(rows)  # MLflow's own path; if it fails too, the caller retries
                if self._refused(error):  # the tables are not what the fast path writes: off for good
                    self.active = False
                    warn_once(f"the SQL fast path stopped ({_first_line(error)}); metrics go to log_batch")
                return None
        return None

    def _refused(self, error: BaseException) -> bool:
        """The database refused the statement itself (a column, a table, a value), not the moment
        (a lock, a connection): what a schema that changed under a running writer raises."""
        dbapi = self._dbapi
        kinds = (dbapi.ProgrammingError, dbapi.DataError, dbapi.InternalError, dbapi.NotSupportedError)
        return isinstance(error, kinds) or error.args[:1] in ((1054,), (1146,), (1364,))  # MySQL's

    def _log_batch(self, rows: list[tuple]) -> None:
        from mlflow.entities import Metric

        self._client.log_batch(self._run_id, metrics=[Metric(*row) for row in rows], synchronous=True)

    def _prepare(self, rows: list[tuple]) -> tuple[list[tuple], dict[str, tuple]]:
        """The rows as stored (in WRITTEN order, sanitized, each once) and each key's latest point."""
        from mlflow.utils.validation import _validate_metric

        run = self._run_id
        if not self._run_checked:  # as log_batch does: no points for a missing or deleted run
            info = self._client.get_run(run).info  # raises for a run that does not exist
            if info.lifecycle_stage != "active":
                raise ValueError(f"run {run} is deleted: its metrics cannot be logged")
            self._run_checked = True
        values = []
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
        return list(dict.fromkeys(values)), latest  # identical points in a batch: stored once, as log_batch

    def _insert(self, conn, values: list[tuple]) -> None:
        if self._copy:
            with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(self._insert_sql) as copy:
                for row in values:
                    copy.write_row(row)
            return
        if self._multirow:
            self._insert_multirow(conn, values)
            return
        if self._columns is None:  # a named paramstyle (psycopg2's %(key)s)
            params = [dict(zip(WRITTEN, v, strict=True)) for v in values]
        elif self._columns == WRITTEN:
            params = values
        else:
            order = [WRITTEN.index(c) for c in self._columns]
            params = [tuple(v[i] for i in order) for v in values]
        conn.exec_driver_sql(self._insert_sql, params)

    def _insert_multirow(self, conn, values: list[tuple]) -> None:
        """PyMySQL: one multi-row INSERT, as its executemany builds, without its per-value escaping
        (half the time): strings (each key once, the run id) escaped by the driver, floats as
        their exact repr marked as double (`e0`, as PyMySQL does), integers and flags as digits."""
        raw = conn.connection.dbapi_connection
        literals, run = self._literals, raw.escape(self._run_id)
        rows = []
        for key, value, ts, step, is_nan, _ in values:
            if key not in literals:
                literals[key] = raw.escape(key)
            number = repr(float(value))
            rows.append(f"({literals[key]},{number if 'e' in number else number + 'e0'},"
                        f"{int(ts)},{int(step)},{int(bool(is_nan))},{run})")  # fmt: skip
        with raw.cursor() as cursor:  # no parameters: the driver formats nothing into the statement
            cursor.execute(self._insert_sql + ",".join(rows))

    def _advance_latest(self, conn, latest: dict[str, tuple]) -> None:
        """As MLflow does: find which keys have a row, lock those rows (FOR UPDATE, in key order,
        so concurrent writers queue instead of deadlocking; no lock on absent rows, which would
        take gap locks in MySQL), then one executemany each for new and advanced keys."""
        t, run = self._latest, self._run_id
        keys = sorted(latest)
        mine = t.c.run_uuid == run
        present = [r[0] for r in conn.execute(sa.select(t.c.key).where(mine & t.c.key.in_(keys)))]
        stored = {}
        if present:
            locked = (
                sa.select(t.c.key, t.c.step, t.c.timestamp, t.c.value)
                .where(mine & t.c.key.in_(present))
                .order_by(t.c.run_uuid, t.c.key)
                .with_for_update()  # SQLite has no row locks (and needs none: one writer at a time)
            )
            stored = {key: (step, ts or 0, value) for key, step, ts, value in conn.execute(locked)}
        inserts, updates = [], []
        for key, ((step, ts, value), is_nan) in latest.items():  # new rows in first-seen order, as MLflow
            if key not in stored:
                inserts.append({"key": key, "run_uuid": run, "value": value, "timestamp": ts, "step": step,
                                "is_nan": is_nan})  # fmt: skip
            elif (step, ts, value) > stored[key]:
                updates.append({"k": key, "v": value, "ts": ts, "s": step, "nan": is_nan})
        if inserts:
            conn.execute(sa.insert(t), inserts)
        if updates:
            values = {"value": sa.bindparam("v"), "timestamp": sa.bindparam("ts"), "step": sa.bindparam("s"),
                      "is_nan": sa.bindparam("nan")}  # fmt: skip
            conn.execute(sa.update(t).where(mine & (t.c.key == sa.bindparam("k"))).values(values), updates)


def _retried(error: BaseException) -> bool:
    """A deadlock or serialization failure: the database rolled the transaction back, run it again."""
    codes = [getattr(error, "sqlstate", None), getattr(error, "pgcode", None), *error.args[:1]]
    known = any(isinstance(c, (str, int)) and c in _RETRIED_CODES for c in codes)
    return known or "deadlock" in str(error).lower()


def sql_backend(client):
    """MLflow's SqlAlchemyStore behind the client, or None (e.g. an HTTP tracking server)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    backend = getattr(getattr(client, "_tracking_client", None), "store", None)
    return backend if isinstance(backend, SqlAlchemyStore) else None


def open_sql_sink(client, run_id: str) -> SqlMetricSink | None:
    """The fast path for this client's store, or None: an HTTP server, `IDEALOOP_SQL_FASTPATH=0`,
    or tables that are not the ones it was checked on (said once, as a warning)."""
    backend = sql_backend(client)
    if backend is None or not fastpath_enabled():
        return None
    problem = schema_problem(backend.engine)
    if problem is not None:
        where = backend.engine.url.render_as_string(hide_password=True)
        warn_once(f"the SQL fast path is off for {where}: {problem}; metrics go through MLflow's log_batch")
        return None
    return SqlMetricSink(client, backend, run_id)
