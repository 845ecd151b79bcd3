"""The telemetry writer loses nothing: every point lands, with its step, or close() says why."""

from __future__ import annotations

import pytest

from tracker.telemetry import TelemetryError, TelemetryWriter


def test_every_point_lands_across_several_batches(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store.client, run_id, flush_interval_s=0.05) as w:
        w.log_series("train/loss", [float(i) for i in range(2500)], first_step=0)  # > 2 log_batch calls
        w.log("val/loss_batch", 1.5, step=7)
    history = store.client.get_metric_history(run_id, "train/loss")
    assert len(history) == 2500
    assert sorted(m.step for m in history) == list(range(2500))
    assert {m.step: m.value for m in history}[1234] == 1234.0
    assert store.client.get_metric_history(run_id, "val/loss_batch")[0].step == 7


def test_flush_on_exception_inside_the_context(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with pytest.raises(RuntimeError):
        with TelemetryWriter(store.client, run_id, flush_interval_s=10) as w:
            w.log_series("train/loss", [0.5] * 10, first_step=0)
            raise RuntimeError("training crashed")
    # A 10 s flush interval would have held these back; close() on the way out wrote them.
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 10


def test_a_write_that_keeps_failing_is_reported_not_dropped(store):
    writer = TelemetryWriter(store.client, "0" * 32, retries=2)  # no such run
    writer.log("train/loss", 1.0, step=0)
    with pytest.raises(TelemetryError, match="1 telemetry points could not be written"):
        writer.close()


def test_flush_means_stored_not_just_sent(store):
    # A Ray trial flushes before each report because ASHA may kill its process right after:
    # flush() must return only once the points are in the store.
    run_id = store.client.create_run(store.experiment_id).info.run_id
    writer = TelemetryWriter(store.client, run_id, flush_interval_s=10)
    writer.log_series("train/loss", [1.0] * 1500, first_step=0)
    writer.flush()
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1500
    writer.log("train/loss", 2.0, step=1500)
    writer.close()
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1501


def test_thread_mode_writes_the_same(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store.client, run_id, process=False) as w:
        w.log_series("train/loss", [0.5] * 1200, first_step=0)
        w.log_json({"a": 1}, "histograms/step_00000000.json")
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1200
    assert [f.path for f in store.client.list_artifacts(run_id, "histograms")] == [
        "histograms/step_00000000.json"
    ]
