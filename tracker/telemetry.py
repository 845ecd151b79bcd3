"""The telemetry writer: per-batch metrics into MLflow without stalling training.

Why a writer of our own: a synchronous `log_metric` per batch manages ~270 points/s
into SQLite (far slower against a server), which would make logging the cost of
training. `MlflowClient.log_batch` with 1,000 metrics a call does ~8,400 points/s.
So the training thread only appends to a bounded queue; one background thread
drains it in `log_batch` calls of at most 1,000 metrics.

Guarantees:
- nothing is dropped: when the queue is full, `log` waits (back-pressure) rather
  than discarding; `close()` (also on an exception, via the context manager)
  drains everything before returning;
- a failed write is retried with back-off (SQLite "database is locked" under
  concurrent writers); if it still fails, `close()` raises, so a lost point is
  never silent.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Metric

MAX_BATCH = 1000  # MLflow's log_batch limit on metrics per call
_STOP = object()


@dataclass
class _Artifact:
    write: Callable[[str], None]
    artifact_file: str


class TelemetryError(RuntimeError):
    """The writer could not store some points; the message says how many and why."""


class TelemetryWriter:
    """Queue metrics from the training thread; a daemon thread writes them in batches."""

    def __init__(
        self,
        client,
        run_id: str,
        *,
        max_queue: int = 200_000,  # points held before `log` applies back-pressure
        flush_interval_s: float = 0.5,  # longest a point waits before being written
        retries: int = 8,  # attempts per batch before giving up
    ) -> None:
        self._client = client
        self._run_id = run_id
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._flush_interval = flush_interval_s
        self._retries = retries
        self._error: BaseException | None = None
        self._lost = 0
        self.written = 0
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="idealoop-telemetry", daemon=True)
        self._thread.start()

    # -- training-thread side -------------------------------------------------
    def log(self, key: str, value: float, step: int, timestamp_ms: int | None = None) -> None:
        ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        self._queue.put(Metric(key, float(value), ts, int(step)))

    def log_series(self, key: str, values: Iterable[float], first_step: int) -> None:
        """Log consecutive steps at once (e.g. a chunk of per-batch losses read back together)."""
        ts = int(time.time() * 1000)
        for i, v in enumerate(values):
            self._queue.put(Metric(key, float(v), ts, first_step + i))

    def log_dict(self, values: dict[str, float], step: int) -> None:
        ts = int(time.time() * 1000)
        for k, v in values.items():
            self._queue.put(Metric(k, float(v), ts, int(step)))

    def log_artifact(self, write, artifact_file: str) -> None:
        """Store an artifact off the training thread. `write(path)` writes the file's bytes.

        Used for histogram JSONs and sample PNGs: rendering and upload happen in the
        writer thread, in order with the metrics.
        """
        self._queue.put(_Artifact(write, artifact_file))

    def log_json(self, data: dict, artifact_file: str) -> None:
        self.log_artifact(lambda path: Path(path).write_text(json.dumps(data)), artifact_file)

    def flush(self) -> None:
        """Block until every point queued so far is written (or has failed)."""
        self._queue.join()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            raise TelemetryError(
                f"{self._lost} telemetry points could not be written: {self._error}"
            ) from self._error

    def __enter__(self) -> TelemetryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- background side ------------------------------------------------------
    def _drain(self) -> None:
        pending: list[Metric] = []
        stop = False
        while not stop:
            deadline = time.monotonic() + self._flush_interval
            while len(pending) < MAX_BATCH:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.task_done()
                    stop = True
                    break
                if isinstance(item, _Artifact):
                    self._write(pending)  # keep order: metrics queued before it go first
                    self._queue_done(len(pending))
                    pending = []
                    self._write_artifact(item)
                    self._queue.task_done()
                    continue
                pending.append(item)
            if pending:
                self._write(pending)
                self._queue_done(len(pending))
                pending = []

    def _queue_done(self, n: int) -> None:
        for _ in range(n):
            self._queue.task_done()

    def _write_artifact(self, item: _Artifact) -> None:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, os.path.basename(item.artifact_file))
                item.write(path)
                folder = os.path.dirname(item.artifact_file) or None
                self._client.log_artifact(self._run_id, path, folder)
        except Exception as exc:  # noqa: BLE001 - reported at close(), never silent
            self._error = exc
            self._lost += 1

    def _write(self, metrics: list[Metric]) -> None:
        if not metrics:
            return
        delay = 0.05
        for attempt in range(self._retries):
            try:
                self._client.log_batch(self._run_id, metrics=metrics, synchronous=True)
                self.written += len(metrics)
                return
            except Exception as exc:  # noqa: BLE001 - retried, then reported at close()
                if attempt == self._retries - 1:
                    self._error = exc
                    self._lost += len(metrics)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
