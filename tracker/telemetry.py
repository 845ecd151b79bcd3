"""The telemetry writer: per-batch metrics into MLflow without stalling training.

Why a writer of our own: a synchronous `log_metric` per batch manages ~300 points/s
into SQLite (far slower against a server), which would make logging the cost of
training; even `MlflowClient.log_batch` (~13,000 points/s) spends ~80 µs of Python a
point. So the training thread only appends to a bounded buffer; one background thread
drains it in batches of at most 1,000: on a SQL store through the bulk path
(`tracker/sql_metrics.py`, ~6 µs a point), otherwise through `log_batch` — from a
shipper process against a server (`use_process`).

Guarantees:
- nothing is dropped: when the buffer is full, `log` waits (back-pressure) rather
  than discarding; `close()` (also on an exception, via the context manager)
  drains everything before returning;
- a failed write is retried with back-off (SQLite "database is locked" under
  concurrent writers), and a database or server that is down is waited out for up
  to 10 minutes (tracker/retry.py); if it still fails, `close()` raises, so a lost
  point is never silent;
- one writer per run: a second writer on a run that has an open one, in this process or
  another on this machine, refuses loudly at open (tracker/claims.py); a process that lends its
  run to another one for a while (the data-parallel parent to rank 0) uses `handed_over`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tracker.claims import RunClaim
from tracker.retry import Patience, store_rows
from tracker.shipper import ProcessSink
from tracker.sql_metrics import MAX_BATCH, open_sql_sink
from tracker.store import Store


@dataclass
class _Artifact:
    write: Callable[[str], None]
    artifact_file: str


class TelemetryError(RuntimeError):
    """The writer could not store some points; the message says how many and why."""


class TelemetryWriter:
    """Buffer metrics from the training thread; a daemon thread writes them in batches.

    The buffer is a deque (appends are atomic under the GIL, so the training thread
    takes no lock per point); the writer thread wakes every `flush_interval_s`, or at
    once when a full batch is waiting, and drains it in `log_batch` calls.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        max_queue: int = 200_000,  # points held before `log` applies back-pressure
        flush_interval_s: float = 0.5,  # longest a point waits before being written
        retries: int = 8,  # attempts per batch before giving up
        process: bool | None = None,  # write from a shipper process; default: see `use_process`
    ) -> None:
        self._claim = RunClaim(run_id)  # first: a second writer on the run refuses before doing anything
        self._client = client = store.client
        self._run_id = run_id
        try:
            self._sql = open_sql_sink(client, run_id)
            if process is None:
                process = use_process(self._sql is not None)
            self._sink = ProcessSink(store, run_id, retries) if process else None
        except BaseException:
            self._claim.release()
            raise
        self._buf: deque = deque()
        self._max = max_queue
        self._cv = threading.Condition()
        self._flush_interval = flush_interval_s
        self._retries = retries
        self._patience = Patience()  # one outage is waited out once, not once a batch
        self._error: BaseException | None = None
        self._lost = 0
        self.written = 0
        self._busy = False  # the writer thread holds items taken from the buffer
        self._stop = False
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="idealoop-telemetry", daemon=True)
        self._thread.start()

    # -- training-thread side -------------------------------------------------
    def _wait_for_room(self) -> None:
        """Back-pressure: a full buffer makes the training thread wait, never drop."""
        with self._cv:
            self._cv.notify_all()
            while len(self._buf) >= self._max and self._thread.is_alive():
                self._cv.wait(0.05)

    def log(self, key: str, value: float, step: int, timestamp_ms: int | None = None) -> None:
        ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        self._extend([(key, float(value), ts, int(step))])

    def log_series(self, key: str, values: Iterable[float], first_step: int) -> None:
        """Log consecutive steps at once (e.g. a chunk of per-batch losses read back together)."""
        ts = int(time.time() * 1000)
        self._extend([(key, float(v), ts, first_step + i) for i, v in enumerate(values)])

    def _extend(self, items: list) -> None:
        """Queue points with one deque call (atomic under the GIL); wake the writer when a
        full batch is waiting; wait (never drop) while the buffer is full."""
        if self._claim.lent:
            raise TelemetryError(f"run {self._run_id} is handed over to another writer: this one may not log")
        if len(self._buf) >= self._max:
            self._wait_for_room()
        before = len(self._buf)
        self._buf.extend(items)
        if (before + len(items)) // MAX_BATCH > before // MAX_BATCH:  # a full batch is waiting
            with self._cv:
                self._cv.notify_all()

    def log_dict(self, values: dict[str, float], step: int) -> None:
        ts = int(time.time() * 1000)
        self._extend([(k, float(v), ts, int(step)) for k, v in values.items()])

    def log_artifact(self, write, artifact_file: str) -> None:
        """Store an artifact off the training thread. `write(path)` writes the file's bytes.

        Used for histogram JSONs and sample PNGs: rendering and upload happen in the
        writer thread, in order with the metrics.
        """
        self._extend([_Artifact(write, artifact_file)])

    def log_json(self, data: dict, artifact_file: str) -> None:
        """Encoded now, on the caller's thread: later changes to `data` cannot leak into the
        artifact, and the encoding counts in the caller's own time (a histogram snapshot's
        time budget, runners/training/histograms.py) rather than hiding in the writer's."""
        payload = json.dumps(data).encode()
        self.log_artifact(lambda path: Path(path).write_bytes(payload), artifact_file)

    def flush(self) -> None:
        """Block until every point queued so far is stored in MLflow (or has failed)."""
        with self._cv:
            self._cv.notify_all()
            while (self._buf or self._busy) and self._thread.is_alive():
                self._cv.wait(0.05)
        if self._sink is not None:
            try:
                self._sink.flush()
            except (BrokenPipeError, OSError) as exc:  # the shipper died: close() reports it
                self._error = self._error or exc

    @contextlib.contextmanager
    def handed_over(self) -> Iterator[None]:
        """Lend the run to another process's writer (the data-parallel rank 0) for the block:
        everything queued is stored first, this writer refuses points meanwhile, and takes
        the run back after (raising if the other writer still holds it)."""
        self.flush()
        self._claim.lend()
        try:
            yield
        finally:
            self._claim.take_back()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._finish()
        finally:
            self._claim.release()  # after the shipper too: it writes the run until its report

    def _finish(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join()
        if self._sink is not None:
            report = self._sink.close()
            self.written = report["written"]
            if report["lost"]:
                self._lost += max(report["lost"], 0)
                self._error = self._error or RuntimeError(report["error"])
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
        while True:
            with self._cv:
                if not self._stop and len(self._buf) < MAX_BATCH:
                    self._cv.wait(self._flush_interval)
                stop = self._stop
                self._busy = bool(self._buf)
            self._drain_buffer()
            with self._cv:
                self._busy = False
                self._cv.notify_all()
            if stop and not self._buf:
                return

    def _drain_buffer(self) -> None:
        """Write what is buffered: metrics first, in full batches, then the artifacts.

        Every metric queued before an artifact is stored before it (what a reader of the
        run can rely on), without an artifact cutting a batch short: a histogram
        snapshot's 100 summary points would otherwise be a transaction of their own.
        """
        pending: list[tuple] = []
        artifacts: list[_Artifact] = []
        while self._buf:
            item = self._buf.popleft()
            if isinstance(item, _Artifact):
                artifacts.append(item)
                continue
            pending.append(item)
            if len(pending) == MAX_BATCH:
                self._write(pending)
                pending = []
        self._write(pending)
        for item in artifacts:
            self._write_artifact(item)

    def _write_artifact(self, item: _Artifact) -> None:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, os.path.basename(item.artifact_file))
                item.write(path)
                if self._sink is not None:
                    self._sink.artifact(item.artifact_file, Path(path).read_bytes())
                    return
                folder = os.path.dirname(item.artifact_file) or None
                self._client.log_artifact(self._run_id, path, folder)
        except Exception as exc:  # noqa: BLE001 - reported at close(), never silent
            self._error = exc
            self._lost += 1

    def _write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self._sink is not None:
            try:
                self._sink.metrics(rows)
            except (BrokenPipeError, OSError) as exc:  # the shipper died: report at close()
                self._error = self._error or exc
                self._lost += len(rows)
            return
        error = store_rows(self._client, self._sql, self._run_id, rows, self._retries, self._patience)
        if error is None:
            self.written += len(rows)
        else:  # reported at close(), never silent
            self._error = error
            self._lost += len(rows)


def use_process(sql_store: bool) -> bool:
    """Whether a writer stores from a shipper process (True) or a thread of this process.

    `IDEALOOP_TELEMETRY=thread|process` decides when set. Otherwise: a SQL store gets the
    bulk path (tracker/sql_metrics.py, ~7 µs a point), cheap enough for a thread and with
    no process to start; any other store (an HTTP server) gets the shipper, so encoding
    requests never holds the training process's GIL.
    """
    mode = os.environ.get("IDEALOOP_TELEMETRY", "auto")
    if mode not in ("auto", "thread", "process"):
        raise ValueError(f"IDEALOOP_TELEMETRY={mode!r}: expected auto, thread or process")
    return mode == "process" or (mode == "auto" and not sql_store)


class NullWriter:
    """The writer's interface, writing nothing: for ranks that must not log, and benchmarks."""

    written = 0

    def log(self, *args, **kwargs) -> None:
        pass

    log_series = log_dict = log_artifact = log_json = flush = close = log

    def handed_over(self):
        return contextlib.nullcontext()

    def __enter__(self) -> NullWriter:
        return self

    def __exit__(self, *exc) -> None:
        pass
