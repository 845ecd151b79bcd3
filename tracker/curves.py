"""Reading long metric curves for display: fast, and without losing a single spike.

A per-batch `train/loss` has one point per batch: 200,000 points is an ordinary run.
Two things go wrong with the obvious read:

- speed: `MlflowClient.get_metric_history` builds one `Metric` object per point
  through the ORM (~3 s per 100,000 points on SQLite, worse over HTTP);
- shape: MLflow's own sampled read (`get_metric_history_bulk_interval`, what the
  MLflow UI uses) keeps evenly spaced points, so a one-batch loss spike between two
  kept points disappears from the chart.

So the board reads `(step, value)` columns straight from the SQL tracking store
through MLflow's own session and models (one light query, built and quoted by
SQLAlchemy Core for SQLite, PostgreSQL or MySQL alike, on the
`(run_uuid, key, step)` index, no per-point objects), and downsamples with
`minmax_downsample`: per bucket of steps it keeps the first, the minimum, the maximum
and the last point — every extreme survives, nothing is dropped at random. Against
an HTTP tracking server the SQL path is not available and the full history is read
through the client (slow for very long curves, but exact). `bench/board_scale.py`
measures both read paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from tracker.sql_metrics import sql_backend
from tracker.store import Store

DISPLAY_POINTS = 2000  # points a chart gets at most: ~4 per bucket, 500 buckets ≈ chart width


@dataclass(frozen=True)
class Curve:
    """One metric of one run, ready to plot: steps and values, plus how it was reduced."""

    run_id: str
    key: str
    steps: np.ndarray
    values: np.ndarray
    total_points: int  # points logged; len(steps) when nothing was downsampled

    @property
    def downsampled(self) -> bool:
        return len(self.steps) < self.total_points


def minmax_downsample(
    steps: np.ndarray, values: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a curve to at most `max_points`, keeping first, min, max and last of each bucket.

    Points must be ordered by step. Buckets hold equal numbers of consecutive points,
    and each contributes up to four of them (fewer where they coincide), in step
    order, so a line through the result traces the same envelope as the full curve.
    NaN values are kept as points of their own: a NaN loss is the spike that matters most.
    """
    steps, values = np.asarray(steps), np.asarray(values, dtype=float)
    n = len(steps)
    if max_points < 4:
        raise ValueError(f"max_points={max_points} is too small; allowed: >= 4")
    if n <= max_points:
        return steps, values
    buckets = max_points // 4
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    nan = np.isnan(values)
    # Per bucket argmin/argmax without a Python loop: reduceat over values with NaN masked out.
    lo_vals = np.where(nan, np.inf, values)
    hi_vals = np.where(nan, -np.inf, values)
    mins = np.minimum.reduceat(lo_vals, starts)
    maxs = np.maximum.reduceat(hi_vals, starts)
    bucket_of = np.repeat(np.arange(buckets), ends - starts)
    is_min = lo_vals == mins[bucket_of]
    is_max = hi_vals == maxs[bucket_of]
    keep = np.zeros(n, dtype=bool)
    keep[starts] = True
    keep[ends - 1] = True
    # First occurrence of the min and of the max in each bucket (ties keep one point).
    for mask in (is_min, is_max):
        idx = np.flatnonzero(mask)
        first_in_bucket = np.unique(bucket_of[idx], return_index=True)[1]
        keep[idx[first_in_bucket]] = True
    keep |= nan
    return steps[keep], values[keep]


def raw_query(session, sql: str, params: tuple) -> list[tuple]:
    """Run SQL on the session's DBAPI connection and return plain tuples.

    Why: the ORM (and even SQLAlchemy Core) build a Row object per result row; for
    200,000 points that alone takes ~1.7 s here, the bare cursor ~0.35 s. `{p}` in
    `sql` becomes the driver's placeholder (sqlite `?`, psycopg/pymysql `%s`).
    """
    style = session.get_bind().dialect.paramstyle
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":1"}.get(style)
    if marker is None:
        raise ValueError(f"unsupported DBAPI paramstyle {style!r}")
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql.replace("{p}", marker), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def core_query(session, statement) -> list[tuple]:
    """Run a SQLAlchemy Core statement on the session's DBAPI cursor and return plain tuples.

    The statement is compiled for the session's database, so every identifier is quoted as
    that database needs (`key` is reserved in MySQL); the rows skip SQLAlchemy's Row objects,
    for the speed `raw_query` has.
    """
    compiled = statement.compile(dialect=session.get_bind().dialect)
    params = compiled.construct_params()
    args = tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        return cursor.fetchall()
    finally:
        cursor.close()


def read_points(store: Store, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Every logged (step, value) of one metric, ordered by step (then time)."""
    backend = sql_backend(store.client)
    if backend is not None:
        from mlflow.store.tracking.dbmodels.models import SqlMetric

        t = SqlMetric.__table__
        query = sa.select(t.c.step, t.c.value, t.c.is_nan, t.c.timestamp).where(
            (t.c.run_uuid == run_id) & (t.c.key == key)
        )
        with backend.ManagedSessionMaker() as session:
            rows = core_query(session, query)
        table = np.fromiter(
            rows, dtype=[("step", "i8"), ("value", "f8"), ("nan", "?"), ("ts", "i8")], count=len(rows)
        )
        table.sort(order=["step", "ts"], kind="stable")  # numpy sorts faster than SQLite's ORDER BY here
        return table["step"].copy(), np.where(table["nan"], np.nan, table["value"])
    history = sorted(store.client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return (
        np.fromiter((m.step for m in history), dtype=np.int64, count=len(history)),
        np.fromiter((m.value for m in history), dtype=float, count=len(history)),
    )


def read_curve(store: Store, run_id: str, key: str, max_points: int = DISPLAY_POINTS) -> Curve:
    """One metric of one run, downsampled for display with every spike kept."""
    steps, values = read_points(store, run_id, key)
    shown_steps, shown_values = minmax_downsample(steps, values, max_points)
    return Curve(run_id, key, shown_steps, shown_values, total_points=len(steps))


def read_sampled_mlflow(store: Store, run_id: str, key: str, max_points: int = DISPLAY_POINTS) -> Curve:
    """MLflow's own sampled read (evenly spaced points, as the MLflow UI does).

    Kept for the benchmark, which compares it with `read_curve`: it is fast, but a
    spike between two sampled points is lost, which is why the board does not use it.
    """
    backend = sql_backend(store.client)
    if backend is None:
        raise ValueError("MLflow's sampled read is measured on SQL stores only")
    rows = backend.get_metric_history_bulk_interval([run_id], key, max_points, None, None)
    steps = np.asarray([r.step for r in rows], dtype=np.int64)
    values = np.asarray([r.value for r in rows], dtype=float)
    return Curve(run_id, key, steps, values, total_points=-1)


@dataclass(frozen=True)
class Summary:
    """Aggregate of one per-batch metric: enough for a timing breakdown."""

    count: int
    total: float
    mean: float


def summarize(store: Store, run_id: str, key: str) -> Summary:
    """Count, sum and mean of one metric over the whole run (NaN points ignored)."""
    backend = sql_backend(store.client)
    if backend is not None:
        from mlflow.store.tracking.dbmodels.models import SqlMetric
        from sqlalchemy import func

        with backend.ManagedSessionMaker() as session:
            count, total = (
                session.query(func.count(SqlMetric.value), func.sum(SqlMetric.value))
                .filter(SqlMetric.run_uuid == run_id, SqlMetric.key == key, SqlMetric.is_nan.is_(False))
                .one()
            )
        count, total = int(count or 0), float(total or 0.0)
    else:
        _, values = read_points(store, run_id, key)
        values = values[~np.isnan(values)]
        count, total = len(values), float(values.sum())
    return Summary(count, total, total / count if count else math.nan)
