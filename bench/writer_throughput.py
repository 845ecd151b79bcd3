"""Points/s into an MLflow store: idealoop's fast path and TelemetryWriter vs. MLflow called directly.

Any store: a new SQLite file (the default), or `--tracking-uri` naming an existing PostgreSQL
(`postgresql://...`) or MySQL/MariaDB (`mysql+pymysql://...`) database; each run of the script
makes its own project there. The ways to store the same metric points:
  direct   MlflowClient.log_batch with 1,000 metrics a call (MLflow's best)
  fast     the SQL fast path (tracker/sql_metrics.py) called directly, 1,000 points a batch,
           alternating batch by batch with `direct` (into another run) for a fair ratio
  writer   TelemetryWriter.log() per point, timed until close() has written everything:
           in-thread (the default on a SQL store: bulk inserts, tracker/sql_metrics.py)
           and through the shipper process (the default against a server); the shipper's
           start-up (a Python that imports mlflow, ~2 s once per run) is also timed alone
           and taken out
  async    MlflowClient.log_metric(..., synchronous=False) per point (MLflow's own async
           logging, its default buffering unless MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS is
           set), timed until every returned operation has finished
  sync     MlflowClient.log_metric per point (the naive way)
Targets: fast >= 5 x direct on each database; writer >= 0.9 x direct, and >= 30 x sync;
through a tracking server (`--tracking-uri http://...`, credentials from MLflow's
variables) the writer >= 0.8 x direct log_batch to the same server.

    python bench/writer_throughput.py [--points 20000] [--sync-points 500] [--async-points 5000]
                                      [--tracking-uri URI]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlflow.entities import Metric  # noqa: E402

from tracker.sql_metrics import open_sql_sink  # noqa: E402
from tracker.store import Store, absolute_uri, check_uri, redact_uri  # noqa: E402
from tracker.telemetry import TelemetryWriter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--sync-points", type=int, default=500)
    ap.add_argument("--async-points", type=int, default=5000)
    ap.add_argument("--tracking-uri", help="store to measure (default: a new SQLite file)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="idealoop-bench-")
    uri = absolute_uri(args.tracking_uri or f"sqlite:///{tmp}/mlflow.db")
    check_uri(uri, create=True)
    os.chdir(tmp)  # artifacts of a database store's new project land here
    store = Store(project=f"bench-{uuid.uuid4().hex[:8]}", uri=uri)
    client = store.client

    def new_run() -> str:
        return client.create_run(store.experiment_id).info.run_id

    # direct and fast alternate batch by batch, so a busy machine's drift weighs on both alike.
    run, fast_run = new_run(), new_run()
    sink = open_sql_sink(client, fast_run)
    now = int(time.time() * 1000)
    direct_s = fast_s = 0.0
    for i in range(0, args.points, 1000):
        rows = [("train/loss", float(j), now, j) for j in range(i, min(i + 1000, args.points))]
        t0 = time.perf_counter()
        client.log_batch(run, [Metric(*row) for row in rows])
        direct_s += time.perf_counter() - t0
        if sink is not None:
            t0 = time.perf_counter()
            sink.write(rows)
            fast_s += time.perf_counter() - t0
    direct = args.points / direct_s
    fast = args.points / fast_s if sink is not None else None
    if sink is not None:
        assert len(client.get_metric_history(fast_run, "train/loss")) == args.points, "fast path lost points"

    def through_writer(process: bool) -> tuple[float, float]:
        """Points/s from the first log() to everything stored, and training-thread us/point."""
        run = new_run()
        t0 = time.perf_counter()
        writer = TelemetryWriter(store, run, process=process)
        for j in range(args.points):
            writer.log("train/loss", float(j), j)
        enqueue_s = time.perf_counter() - t0
        writer.close()
        rate = args.points / (time.perf_counter() - t0)
        assert len(client.get_metric_history(run, "train/loss")) == args.points, "writer lost points"
        return rate, enqueue_s * 1e6 / args.points

    def startup(process: bool) -> float:
        """Seconds to open and close a writer that logs nothing: a one-time cost per run."""
        t0 = time.perf_counter()
        TelemetryWriter(store, new_run(), process=process).close()
        return time.perf_counter() - t0

    thread_rate, thread_us = through_writer(process=False)
    proc_rate, proc_us = through_writer(process=True)
    proc_start = startup(process=True)
    left = args.points / proc_rate - proc_start  # the start-up timed alone may vary by more on a busy machine
    proc_steady = args.points / left if left > 0.05 * args.points / proc_rate else float("nan")

    run = new_run()
    t0 = time.perf_counter()
    for j in range(args.sync_points):
        client.log_metric(run, "train/loss", float(j), step=j)
    sync = args.sync_points / (time.perf_counter() - t0)

    run = new_run()
    t0 = time.perf_counter()
    ops = [
        client.log_metric(run, "train/loss", float(j), step=j, synchronous=False)
        for j in range(args.async_points)
    ]
    for op in ops:
        op.wait()
    async_rate = args.async_points / (time.perf_counter() - t0)
    assert len(client.get_metric_history(run, "train/loss")) == args.async_points, "async logging lost points"

    print(f"store: {redact_uri(store.uri)}")
    print(f"direct log_batch : {direct:10,.0f} points/s  ({args.points:,} points)")
    if fast is None:
        print("fast path        :        off  (no SQL store, IDEALOOP_SQL_FASTPATH=0, or unchecked tables)")
    else:
        print(f"fast path        : {fast:10,.0f} points/s  (sink.write, 1,000 points a batch)")
    print(f"writer, thread   : {thread_rate:10,.0f} points/s  (training thread blocked "
          f"{thread_us:.1f} us/point)")  # fmt: skip
    print(f"writer, shipper  : {proc_rate:10,.0f} points/s  (blocked {proc_us:.1f} us/point; "
          f"includes {proc_start:.2f} s shipper start-up, once per run)")  # fmt: skip
    print(f"  ... steady     : {proc_steady:10,.0f} points/s  (start-up taken out)")
    print(
        f"async log_metric : {async_rate:10,.0f} points/s  ({args.async_points:,} points, synchronous=False)"
    )
    print(f"sync log_metric  : {sync:10,.0f} points/s  ({args.sync_points:,} points)")
    if fast is not None:
        print(f"fast / direct    : {fast / direct:.1f}x  (target >= 5x)")
    print(f"thread / direct  : {thread_rate / direct:.2f}   (target >= 0.9)")
    print(f"shipper steady / direct : {proc_steady / direct:.2f}")
    print(
        f"thread / async   : {thread_rate / async_rate:.1f}x   shipper / async: {proc_rate / async_rate:.1f}x"
    )
    print(f"thread / sync    : {thread_rate / sync:.1f}x  (target >= 30x)")
    print(f"shipper / sync   : {proc_rate / sync:.1f}x")


if __name__ == "__main__":
    main()
