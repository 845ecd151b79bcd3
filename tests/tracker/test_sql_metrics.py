"""The bulk metric path stores exactly what MLflow's own log_batch stores, read back through MLflow."""

from __future__ import annotations

import math

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from tracker.sql_metrics import open_sql_sink

# Out-of-order steps, NaN, ±inf, a repeated step with a new value, and an exact duplicate.
ROWS = [
    ("train/loss", 2.0, 1000, 0),
    ("train/loss", 1.5, 1000, 1),
    ("train/loss", float("nan"), 1001, 2),
    ("train/loss", 0.5, 999, 5),
    ("train/loss", 0.7, 1002, 3),
    ("val/loss_batch", float("inf"), 1000, 0),
    ("val/loss_batch", float("-inf"), 1000, 1),
    ("val/loss_batch", 3.0, 1000, 1),
    ("time/data_s", 0.001, 1000, 0),
    ("time/data_s", 0.001, 1000, 0),
]
LATER = [("train/loss", 0.25, 1003, 4), ("time/data_s", 0.002, 1005, 9), ("hist/acts/1/mean", 0.1, 1005, 9)]


def _stored(client, run_id):
    run = client.get_run(run_id)
    history = {
        key: sorted(
            ((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)), key=repr
        )
        for key in {r[0] for r in ROWS + LATER}
    }
    return history, run.data.metrics


def _same(a, b):
    return repr(a) == repr(b)  # NaN == NaN here, as it should be for "stored the same"


def test_bulk_path_stores_what_log_batch_stores(store):
    client = store.client
    ours = client.create_run(store.experiment_id).info.run_id
    theirs = client.create_run(store.experiment_id).info.run_id
    sink = open_sql_sink(client, ours)
    assert sink is not None
    for batch in (ROWS, LATER):
        sink.write(batch)
        client.log_batch(theirs, metrics=[Metric(*r) for r in batch], synchronous=True)
    got, want = _stored(client, ours), _stored(client, theirs)
    assert _same(got[0], want[0])  # every point, NaN and the ±inf stand-ins included
    assert _same(got[1], want[1])  # latest_metrics: the greatest (step, timestamp, value) per key
    assert got[1]["train/loss"] == 0.5 and math.isnan(got[0]["train/loss"][2][2])
    assert len(got[0]["time/data_s"]) == 2  # the exact duplicate is stored once


def test_rewriting_stored_points_falls_back_to_mlflow_dedup(store):
    # A restored sweep trial may re-send points it already stored: no error, no duplicates.
    run_id = store.client.create_run(store.experiment_id).info.run_id
    sink = open_sql_sink(store.client, run_id)
    sink.write(ROWS)
    sink.write(ROWS + LATER)
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 6


def test_missing_run_and_bad_key_are_refused(store):
    with pytest.raises(MlflowException):
        open_sql_sink(store.client, "0" * 32).write(ROWS[:1])
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with pytest.raises(MlflowException, match="escape"):
        open_sql_sink(store.client, run_id).write([("../escape", 1.0, 1000, 0)])
    store.client.delete_run(run_id)
    with pytest.raises(ValueError, match="is deleted"):
        open_sql_sink(store.client, run_id).write(ROWS[:1])
