"""Concurrent trial writers on one store (SQLite, PostgreSQL, MariaDB): points/s and lock errors.

Eight processes (like eight concurrent sweep trials) each log per-batch telemetry into
their own run of one SQLite file, the way a trial's writer does: one write per chunk
of steps, through `log_batch` and through the writer's bulk path (tracker/sql_metrics.py)
(5 keys a step: train/loss, val/loss_batch, time/data_s,
time/compute_s, throughput). Every call that fails is counted (by message) and
retried, so the totals compare the same work. Run once with SQLite's default
rollback journal and once with WAL (what `idealoop tune` switches on).

    PYTHONPATH=. python bench/sqlite_concurrency.py [--writers 8] [--steps 400] [--chunk 10]
        [--tracking-uri postgresql://postgres@127.0.0.1/DB | mysql+pymysql://root@127.0.0.1/DB]

With `--tracking-uri` naming a database (it must exist; MLflow makes its tables) the same
8 writers + 1 reader run there, through log_batch and through the bulk path, and every
database error any statement raised is counted by kind (a SQLAlchemy `handle_error` hook on
the engine, so a deadlock the bulk path retried itself is counted too): lock/deadlock
errors are the figure (target 0), and every point must be stored. Measured 2026-11-30 (load
~5-7, other test runs beside): PostgreSQL 15 log_batch 3,371, bulk 7,691 points/s; MariaDB
10.11 log_batch 2,976, bulk 5,318 points/s; 0 lock/deadlock errors, 16,000/16,000 stored each.

Measured 2026-11-26 on the 2-core CPU machine (MLflow 3.17.2), 8 writers + 1 reader:
chunk 10: rollback 723 points/s, WAL 744; chunk 1: rollback 563, WAL 676 points/s;
0 "database is locked" errors in every case (SQLite's 5 s busy wait absorbs the
contention), every point stored. WAL is on for sweeps anyway: readers (the board,
the driver) never block writers in WAL, and writes are ~5-20% faster here.
End to end, a real sweep of 8 concurrent trials (`--max-concurrent 8 --cpus-per-trial
0.25`, digits, 3 epochs of 40 batches, all 8 overlapping for ~11 s): every trial
completed with its 120 train/loss points, no "database is locked" anywhere in the log.
Re-measured after the bulk path (same machine, later run): log_batch rollback 3,235 / WAL
4,157 points/s; bulk rollback 6,511 / WAL 13,054 points/s; 0 "database is locked", every
point stored, in all four.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

KEYS = ("train/loss", "val/loss_batch", "time/data_s", "time/compute_s", "throughput/samples_per_s")


def worker(uri: str, run_id: str, steps: int, chunk: int, path: str) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from tracker.sql_metrics import open_sql_sink, sql_backend

    client = MlflowClient(tracking_uri=uri)
    sink = open_sql_sink(client, run_id) if path == "bulk" else None
    errors: dict[str, int] = {}
    backend = sql_backend(client)
    if backend is not None and not uri.startswith("sqlite"):  # every database error, retried or not

        def seen(context) -> None:
            kind = _kind(context.original_exception)
            errors[f"db: {kind}"] = errors.get(f"db: {kind}", 0) + 1

        sa.event.listen(backend.engine, "handle_error", seen)
    t0 = time.time()
    for first in range(0, steps, chunk):
        ts = int(time.time() * 1000)
        rows = [(k, 0.5, ts, s) for s in range(first, min(first + chunk, steps)) for k in KEYS]
        while True:
            try:
                if sink is not None:
                    sink.write(rows)
                else:
                    client.log_batch(run_id, metrics=[Metric(*r) for r in rows], synchronous=True)
                break
            except Exception as exc:  # noqa: BLE001 - counted, then retried
                key = _kind(exc)
                errors[key] = errors.get(key, 0) + 1
                time.sleep(0.05)
        time.sleep(0.01)  # the training step between flushes
    print(json.dumps({"points": steps * len(KEYS), "start": t0, "end": time.time(), "errors": errors}))


def _kind(exc: BaseException) -> str:
    """An error by kind: the lock and deadlock errors by name, anything else by its type."""
    text = str(exc).lower()
    for kind in ("database is locked", "deadlock", "lock wait timeout", "could not serialize"):
        if kind in text:
            return "database is locked" if kind == "database is locked" else f"lock: {kind}"
    return type(exc).__name__


def reader(uri: str, exp: str) -> None:
    """A board / driver polling the store while trials write: search runs, read a curve."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    errors = 0
    while True:
        try:
            for run in client.search_runs([exp]):
                client.get_metric_history(run.info.run_id, KEYS[0])
        except Exception:  # noqa: BLE001
            errors += 1
        time.sleep(0.2)


def measure(wal: bool, writers: int, steps: int, chunk: int, path: str, uri: str | None = None) -> dict:
    import uuid

    from mlflow.tracking import MlflowClient

    from tracker.store import enable_sqlite_wal

    folder = tempfile.mkdtemp(prefix="sqlite-bench-")
    uri = uri or f"sqlite:///{folder}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}", artifact_location=f"file://{folder}")
    runs = [client.create_run(exp).info.run_id for _ in range(writers)]
    if wal:
        enable_sqlite_wal(uri)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
    }
    poll = subprocess.Popen(
        [sys.executable, __file__, "--reader", uri, exp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", uri, run, str(steps), str(chunk), path],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )  # fmt: skip
        for run in runs
    ]
    reports = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    poll.terminate()
    poll.wait()
    # From the first writer's first point to the last one's last: process start-up excluded.
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    errors: dict[str, int] = {}
    for r in reports:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    stored = sum(len(client.get_metric_history(run, KEYS[0])) for run in runs) * len(KEYS)
    points = sum(r["points"] for r in reports)
    return {"wal": wal, "points": points, "stored": stored, "wall_s": wall, "errors": errors}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--tracking-uri", help="a PostgreSQL/MySQL database URI (default: new SQLite files)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument(
        "--chunk", type=int, default=10, help="steps per log_batch call (the writer's check_every)"
    )
    hidden = argparse.SUPPRESS
    p.add_argument("--worker", nargs=5, metavar=("URI", "RUN", "STEPS", "CHUNK", "PATH"), help=hidden)
    p.add_argument("--reader", nargs=2, metavar=("URI", "EXP"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.reader:
        reader(*args.reader)
        return
    if args.worker:
        uri, run, steps, chunk, path = args.worker
        worker(uri, run, int(steps), int(chunk), path)
        return
    print(f"{args.writers} writer processes x {args.steps} steps x {len(KEYS)} keys, "
          f"log_batch every {args.chunk} steps, 1 reader polling")  # fmt: skip
    modes = (False,) if args.tracking_uri else (False, True)
    for path, wal in [(path, wal) for path in ("log_batch", "bulk") for wal in modes]:
        r = measure(wal, args.writers, args.steps, args.chunk, path, args.tracking_uri)
        if args.tracking_uri:
            locks = sum(v for k, v in r["errors"].items() if "lock" in k)
            print(f"{path:>9}: {r['points'] / r['wall_s']:8.0f} points/s aggregate, {locks} lock/deadlock "
                  f"errors, all errors {r['errors'] or 0}, stored {r['stored']}/{r['points']}")  # fmt: skip
            continue
        locked = r["errors"].get("database is locked", 0)
        other = {k: v for k, v in r["errors"].items() if k != "database is locked"}
        print(
            f"{path:>9} {'WAL     ' if wal else 'rollback'}: "
            f"{r['points'] / r['wall_s']:8.0f} points/s aggregate, "
            f"{locked} 'database is locked' errors, other errors {other or 0}, "
            f"stored {r['stored']}/{r['points']}"
        )


if __name__ == "__main__":
    main()
