"""A separate process that stores a run's telemetry, so MLflow's cost never holds the GIL.

Why: against a tracking server every batch is a `log_batch` request, encoded in Python
(and, on a SQL store reached without the bulk path, ~80 µs of SQLAlchemy ORM work per
point). In a thread of the training process that time holds the GIL. In a child
process it runs beside training; the training process only pickles compact tuples
into a pipe. Used by default against a server (`tracker.telemetry.use_process`), and
with `IDEALOOP_TELEMETRY=process`; on a SQL store it writes through the bulk path too.

Protocol (stdin of `python -m tracker.shipper`): length-prefixed pickles. The first is
`("s", store, run_id, retries)`: the run's `Store` itself (tracker/store.py), so the
shipper writes where the trainer would, with no URI on its command line or in its
environment. Then each `("m", [(key, value, ts_ms, step), ...])`, `("a", artifact_file,
bytes)` or `("f",)`. A flush makes the shipper write everything it holds and answer one JSON
line on stdout, so `TelemetryWriter.flush()` means "stored", not just "sent" (a Ray
trial flushes before each report: ASHA may tear its process down right after). On
end of input it writes what is left, prints the JSON report
`{"written": n, "lost": m, "error": "..."}` and exits.

A tracking server (or database) that goes away (restarted, a proxy reloading) costs no point:
a batch is kept and sent again, with MLflow's own per-request back-off inside, for up to
IDEALOOP_SERVER_PATIENCE_S (600 s, tracker/retry.py); past that its points are reported lost
and the writer's close() raises, so the run fails loudly rather than missing a stretch of its
curves.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading

from tracker.retry import Patience, store_rows
from tracker.store import Store

_HEADER = struct.Struct("!I")


class ProcessSink:
    """Parent side: starts the shipper and feeds it; `close()` returns its report."""

    def __init__(self, store: Store, run_id: str, retries: int = 8) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MLFLOW_RUN_ID", None)  # the shipper must never adopt a launcher run
        self._stderr = tempfile.TemporaryFile()  # a file, so a chatty child can never block on it
        self._lock = threading.Lock()  # the writer thread and flush() both send
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tracker.shipper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self._send(("s", store, run_id, retries))

    def _send(self, message: tuple) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._proc.stdin.write(_HEADER.pack(len(data)) + data)
            if message[0] in ("s", "f"):  # the child connects while training starts; a flush waits
                self._proc.stdin.flush()

    def flush(self) -> dict:
        """Wait until the shipper has stored everything sent so far; returns its running report."""
        self._send(("f",))
        line = self._proc.stdout.readline()
        return json.loads(line) if line else {"written": 0, "lost": -1, "error": "telemetry shipper died"}

    def metrics(self, rows: list[tuple]) -> None:
        self._send(("m", rows))

    def artifact(self, artifact_file: str, payload: bytes) -> None:
        self._send(("a", artifact_file, payload))

    def close(self) -> dict:
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        out = self._proc.stdout.read()
        self._proc.wait()
        self._stderr.seek(0)
        err = self._stderr.read()
        self._stderr.close()
        lines = out.decode().strip().splitlines()
        if self._proc.returncode != 0 or not lines:
            tail = err.decode().strip().splitlines()[-1:] or [f"exit code {self._proc.returncode}"]
            return {"written": 0, "lost": -1, "error": f"telemetry shipper died: {tail[0]}"}
        return json.loads(lines[-1])


def _read(stream):
    while True:
        header = stream.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        yield pickle.loads(stream.read(size))


def _log_batch(client, sql, run_id: str, rows: list[tuple], report: dict, retries: int, patience) -> None:
    # A store that is down (a tracking server restarting, a proxy reloading, a database failing
    # over) is waited out by store_rows for up to IDEALOOP_SERVER_PATIENCE_S (tracker/retry.py).
    error = store_rows(client, sql, run_id, rows, retries, patience)
    if error is None:
        report["written"] += len(rows)
    else:
        report["lost"] += len(rows)
        report["error"] = f"{type(error).__name__}: {error}".splitlines()[0]


def main(stream) -> None:
    from tracker.sql_metrics import MAX_BATCH, open_sql_sink

    patience = Patience()  # one outage is waited out once, not once a batch
    messages = _read(stream)
    opening = next(messages, None)
    if opening is None or opening[0] != "s":
        raise SystemExit("tracker.shipper: the first message must name the store and the run")
    _, store, run_id, retries = opening
    client = store.client
    sql = open_sql_sink(client, run_id)
    report = {"written": 0, "lost": 0, "error": ""}
    pending: list[tuple] = []
    for message in messages:
        if message[0] == "f":
            if pending:
                _log_batch(client, sql, run_id, pending, report, retries, patience)
                pending = []
            print(json.dumps(report), flush=True)
            continue
        if message[0] == "m":
            pending.extend(message[1])
            while len(pending) >= MAX_BATCH:
                _log_batch(client, sql, run_id, pending[:MAX_BATCH], report, retries, patience)
                pending = pending[MAX_BATCH:]
            continue
        if pending:  # metrics queued before the artifact go first
            _log_batch(client, sql, run_id, pending, report, retries, patience)
            pending = []
        _, artifact_file, payload = message
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, os.path.basename(artifact_file))
                with open(path, "wb") as f:
                    f.write(payload)
                client.log_artifact(run_id, path, os.path.dirname(artifact_file) or None)
        except Exception as exc:  # noqa: BLE001
            report["lost"] += 1
            report["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if pending:
        _log_batch(client, sql, run_id, pending, report, retries, patience)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.stdin.buffer)
