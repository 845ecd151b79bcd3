"""The telemetry writer loses nothing: every point lands, with its step, or close() says why."""

from __future__ import annotations

import pytest

from tracker.telemetry import TelemetryError, TelemetryWriter, use_process

# Both ways of storing: a thread of the training process (the default on a SQL store) and
# the shipper process (the default against a tracking server; IDEALOOP_TELEMETRY=process).
MODES = pytest.mark.parametrize("process", [False, True], ids=["thread", "shipper"])


@MODES
def test_every_point_lands_across_several_batches(store, process, tmp_path, monkeypatch):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    # The shipper is handed the writer's Store through its pipe: the environment it inherits
    # (here pointing at another database) is never read.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///decoy.db")
    with TelemetryWriter(store, run_id, flush_interval_s=0.05, process=process) as w:
        w.log_series("train/loss", [float(i) for i in range(2500)], first_step=0)  # > 2 log_batch calls
        w.log("val/loss_batch", 1.5, step=7)
    history = store.client.get_metric_history(run_id, "train/loss")
    assert len(history) == 2500
    assert sorted(m.step for m in history) == list(range(2500))
    assert {m.step: m.value for m in history}[1234] == 1234.0
    assert store.client.get_metric_history(run_id, "val/loss_batch")[0].step == 7
    assert not (tmp_path / "decoy.db").exists()


def test_flush_on_exception_inside_the_context(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with pytest.raises(RuntimeError):
        with TelemetryWriter(store, run_id, flush_interval_s=10) as w:
            w.log_series("train/loss", [0.5] * 10, first_step=0)
            raise RuntimeError("training crashed")
    # A 10 s flush interval would have held these back; close() on the way out wrote them.
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 10


@MODES
def test_a_write_that_keeps_failing_is_reported_not_dropped(store, process):
    writer = TelemetryWriter(store, "0" * 32, retries=2, process=process)  # no such run
    writer.log("train/loss", 1.0, step=0)
    with pytest.raises(TelemetryError, match="1 telemetry points could not be written"):
        writer.close()


@MODES
def test_flush_means_stored_not_just_sent(store, process):
    # A Ray trial flushes before each report because ASHA may kill its process right after:
    # flush() must return only once the points are in the store.
    run_id = store.client.create_run(store.experiment_id).info.run_id
    writer = TelemetryWriter(store, run_id, flush_interval_s=10, process=process)
    writer.log_series("train/loss", [1.0] * 1500, first_step=0)
    writer.flush()
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1500
    writer.log("train/loss", 2.0, step=1500)
    writer.close()
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1501


@MODES
def test_metrics_and_artifacts_land_in_either_mode(store, process):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store, run_id, process=process) as w:
        w.log_series("train/loss", [0.5] * 1200, first_step=0)
        w.log_json({"a": 1}, "histograms/step_00000000.json")
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1200
    assert [f.path for f in store.client.list_artifacts(run_id, "histograms")] == [
        "histograms/step_00000000.json"
    ]


def test_a_sql_store_writes_from_a_thread_and_a_server_from_the_shipper(monkeypatch):
    monkeypatch.delenv("IDEALOOP_TELEMETRY", raising=False)
    assert use_process(sql_store=True) is False and use_process(sql_store=False) is True
    monkeypatch.setenv("IDEALOOP_TELEMETRY", "process")
    assert use_process(sql_store=True) is True
    monkeypatch.setenv("IDEALOOP_TELEMETRY", "threads")
    with pytest.raises(ValueError, match="IDEALOOP_TELEMETRY='threads': expected auto, thread or process"):
        use_process(sql_store=True)


def test_a_full_buffer_makes_the_trainer_wait_and_loses_nothing(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store, run_id, max_queue=50, flush_interval_s=0.01, process=False) as w:
        peak = 0
        for chunk in range(40):  # 40 chunks of 25 points through a buffer of 50
            w.log_series("train/loss", [float(chunk)] * 25, first_step=chunk * 25)
            w.log("val/loss_batch", float(chunk), step=chunk)
            peak = max(peak, len(w._buf))
    assert peak <= 50 + 25  # bounded: at most one chunk past the limit
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1000
    assert len(store.client.get_metric_history(run_id, "val/loss_batch")) == 40
