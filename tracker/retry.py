"""Storing a batch of points through an outage: retry with back-off, wait out a store that is down.

Why: a team's runs write to a PostgreSQL/MySQL database or a tracking server that can go
away for a while (a restart, a failover, a network blip: seconds to a minute), and a sweep
must not lose a stretch of its curves to that, nor hide such a loss. So a batch is retried
with back-off (a lock, a dropped pooled connection); while the store does not answer at all
(`unreachable`: connection refused or closed, MLflow's TEMPORARILY_UNAVAILABLE, a gateway
error) the batch is kept and tried again every RETRY_PAUSE_S for up to
IDEALOOP_SERVER_PATIENCE_S (600 s). Past that it is reported lost and the writer's close()
raises: the run fails loudly. The patience is spent once per outage, not once per batch
(`Patience`, shared by one writer's batches), so a store that never comes back fails the
run in ten minutes, not ten minutes a batch. Any other error (a bad point, a deleted run,
401/403) is not waited out.

MLflow's own calls (create a run, set a tag, end a run, log an artifact) get the same
treatment through `PatientClient`, the client every `Store` hands out: a write waits the
outage out like a batch of points; a read (get_/search_/list_/download_) waits at most
READ_PATIENCE_S, so a board or CLI pointed at a store that is down says so in half a minute
rather than hanging for ten. A write retried after a dropped connection may, rarely, have
gone through the first time: tags and params are idempotent; a duplicate empty run is the
worst case, never a lost point.
"""

from __future__ import annotations

import os
import sys
import time

PATIENCE_ENV = "IDEALOOP_SERVER_PATIENCE_S"
PATIENCE_S = 600.0  # how long a writer waits for a database or tracking server that is down
RETRY_PAUSE_S = 2.0  # between tries while it is down
READ_PATIENCE_S = 30.0  # a read gives up sooner: someone is usually waiting on it
_READS = ("get_", "search_", "list_", "download_")
_UNREACHABLE = (  # how a store that is not there shows in errors (lower case)
    "connection", "connect to", "max retries exceeded", "timed out", "remote end closed",
    "server has gone away", "lost connection", "temporarily_unavailable",
    "error code 502", "error code 503", "error code 504", "too many 502", "too many 503", "too many 504",
)  # fmt: skip


def patience_s() -> float:
    """Seconds a writer may wait for its store to come back (IDEALOOP_SERVER_PATIENCE_S);
    past that the points count as lost and the run fails loudly at close."""
    try:
        return max(0.0, float(os.environ.get(PATIENCE_ENV, PATIENCE_S)))
    except ValueError:
        return PATIENCE_S


def unreachable(error: BaseException) -> bool:
    """The store did not answer (down, restarting, a dropped connection), as opposed to refusing."""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if str(getattr(error, "error_code", "")) == "TEMPORARILY_UNAVAILABLE":  # MLflow's OperationalError
        return True
    text = f"{type(error).__name__}: {error}".lower()
    return any(marker in text for marker in _UNREACHABLE)


class Patience:
    """How long one writer has waited for its store in the current outage."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = patience_s() if seconds is None else seconds
        self._since: float | None = None  # when the store stopped answering; None while it answers

    def stored(self) -> None:
        self._since = None

    def wait(self, limit: float | None = None) -> bool:
        """After an `unreachable` error: pause and say True (try again), or False once spent
        (`limit`, if given and shorter, caps the wait for this call)."""
        now = time.monotonic()
        seconds = self.seconds if limit is None else min(self.seconds, limit)
        if self._since is None:  # a new outage: say so once, someone may be watching a silent console
            self._since = now
            print(
                f"idealoop: the tracking store does not answer; retrying for up to {seconds:.0f} s "
                f"({PATIENCE_ENV})",
                file=sys.stderr,
                flush=True,
            )
        if now - self._since >= seconds:
            return False
        time.sleep(RETRY_PAUSE_S)
        return True


def store_rows(client, sink, run_id: str, rows: list[tuple], retries: int = 8, patience=None):
    """Store (key, value, timestamp_ms, step) rows: through `sink.write` (tracker/sql_metrics.py's
    bulk path) when there is one, else `log_batch`. Retried `retries` times with back-off, then,
    while the store is unreachable, until `patience` is spent (see the module doc). Returns None
    once stored, or the last error."""
    from mlflow.entities import Metric

    patience = patience or Patience()
    delay, attempt = 0.05, 0
    while True:
        try:
            if sink is not None:
                sink.write(rows)
            else:
                client.log_batch(run_id, metrics=[Metric(*row) for row in rows], synchronous=True)
            patience.stored()
            return None
        except Exception as error:  # noqa: BLE001 - retried, then returned to the caller to report
            attempt += 1
            if attempt < max(retries, 1):
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            elif not (unreachable(error) and patience.wait()):
                return error


class PatientClient:
    """An MlflowClient whose calls wait out an unreachable store (see the module doc).

    Everything else passes through unchanged: attributes, private members, and every error
    that is not `unreachable` (a missing run, a refused password) raises at once."""

    def __init__(self, client, patience: Patience | None = None) -> None:
        self._client = client
        self._patience = patience or Patience()

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr):
            return attr
        limit = READ_PATIENCE_S if name.startswith(_READS) else None
        patience = self._patience

        def patient_call(*args, **kwargs):
            while True:
                try:
                    result = attr(*args, **kwargs)
                except Exception as error:
                    if not (unreachable(error) and patience.wait(limit)):
                        raise
                    continue
                patience.stored()
                return result

        patient_call.__name__ = name
        patient_call.__doc__ = attr.__doc__
        return patient_call
