"""The fast path writes into MLflow's tables only where they are the ones it was checked on;
anywhere else (or when switched off) MLflow's own log_batch stores every point, said once.

The mismatches are made with real DDL on each database, and undone after the test.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tracker.sql_metrics import CHECKED_REVISIONS, FASTPATH_ENV, open_sql_sink, sql_backend
from tracker.telemetry import TelemetryWriter

ROOT = Path(__file__).resolve().parents[2]


def _ddl(store, *statements: str) -> None:
    with sql_backend(store.client).engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _write_through_a_writer(store, run_id: str, n: int = 1500) -> TelemetryWriter:
    with TelemetryWriter(store, run_id, flush_interval_s=0.05, process=False) as writer:
        writer.log_series("train/loss", [float(i) for i in range(n)], first_step=0)
        writer.log("train/loss", float("nan"), step=n)
    history = store.client.get_metric_history(run_id, "train/loss")
    assert sorted(m.step for m in history) == list(range(n + 1))
    return writer


def _said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "fast path is off" in r.getMessage()]


def test_an_extra_column_turns_the_fast_path_off_and_log_batch_stores_everything(db_store, caplog):
    # A future MLflow that adds a column to `metrics` (here with a default, so MLflow's own
    # inserts still work): the fast path would not fill it, so it must not write at all.
    client = db_store.client
    run_id = client.create_run(db_store.experiment_id).info.run_id
    _ddl(db_store, "ALTER TABLE metrics ADD COLUMN tenant INTEGER DEFAULT 0 NOT NULL")
    try:
        with caplog.at_level(logging.WARNING, logger="tracker.sql_metrics"):
            assert open_sql_sink(client, run_id) is None
            writer = _write_through_a_writer(db_store, run_id)
        assert writer._sql is None  # MLflow's log_batch stored them
        said = _said(caplog)
        assert len(said) == 1, said  # once per process, however many writers open
        assert "table metrics has columns it does not fill ['tenant']" in said[0] and "log_batch" in said[0]
    finally:
        _ddl(db_store, "ALTER TABLE metrics DROP COLUMN tenant")
    assert open_sql_sink(client, run_id) is not None  # the tables it knows again: the fast path is back


def test_an_unchecked_schema_revision_turns_the_fast_path_off(db_store, caplog):
    # MLflow upgraded past the revisions the fast path was checked on (MLflow itself verified
    # its schema when the store opened; the fast path looks again at every open).
    client = db_store.client
    run_id = client.create_run(db_store.experiment_id).info.run_id
    _ddl(db_store, "UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    try:
        with caplog.at_level(logging.WARNING, logger="tracker.sql_metrics"):
            assert open_sql_sink(client, run_id) is None
            writer = _write_through_a_writer(db_store, run_id, n=200)
        assert writer._sql is None
        said = _said(caplog)
        assert len(said) == 1 and "schema revision f00dfeedbeef is not one it was checked on" in said[0]
    finally:
        _ddl(db_store, f"UPDATE alembic_version SET version_num = '{CHECKED_REVISIONS[0]}'")


def test_the_switch_turns_the_fast_path_off(store, monkeypatch):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    monkeypatch.setenv(FASTPATH_ENV, "0")
    assert open_sql_sink(store.client, run_id) is None
    assert _write_through_a_writer(store, run_id, n=300)._sql is None
    monkeypatch.setenv(FASTPATH_ENV, "1")
    assert open_sql_sink(store.client, run_id) is not None
    monkeypatch.setenv(FASTPATH_ENV, "maybe")
    with pytest.raises(ValueError, match="IDEALOOP_SQL_FASTPATH='maybe': expected 1 .* or 0"):
        open_sql_sink(store.client, run_id)


def test_the_installed_mlflow_is_in_the_range_the_fast_path_was_checked_on():
    from mlflow.store.db.utils import _get_latest_schema_revision

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [Requirement(d) for d in project["dependencies"] + project["optional-dependencies"]["team"]]
    pins = [r for r in pins if r.name == "mlflow"]
    assert len(pins) == 2 and pins[0].specifier == pins[1].specifier  # the team extra pins the same range
    spec = pins[0].specifier
    assert any(s.operator == "<" for s in spec), f"mlflow{spec} has no upper bound"
    assert Version(mlflow.__version__) in spec, f"mlflow {mlflow.__version__} is outside mlflow{spec}"
    # The schema of the installed MLflow is one the fast path was checked on: within the range, an
    # MLflow release that changed its tables would fail here before it fell back in production.
    assert _get_latest_schema_revision() in CHECKED_REVISIONS
