"""One telemetry writer per run: a second one refuses loudly, in this process or another,
until the first closes, dies, or hands the run over (the data-parallel parent to rank 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from tracker import claims
from tracker.claims import RunClaimedError
from tracker.telemetry import TelemetryError, TelemetryWriter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Another process opens a writer on the run: prints "opened" (and holds it until stdin closes) or
# the one-line refusal.
OTHER = textwrap.dedent(
    """
    import sys
    from tracker.claims import RunClaimedError
    from tracker.store import Store
    from tracker.telemetry import TelemetryWriter
    try:
        writer = TelemetryWriter(Store(project=sys.argv[1], uri=sys.argv[2]), sys.argv[3])
    except RunClaimedError as exc:
        print("refused:", exc, flush=True)
        sys.exit(3)
    print("opened", flush=True)
    sys.stdin.read()
    writer.log("train/loss", 1.0, step=100)
    writer.close()
    """
)


def _other(store, run_id: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.Popen(
        [sys.executable, "-c", OTHER, store.project, store.uri, run_id],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_a_second_writer_in_this_process_is_refused(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store, run_id) as first:
        with pytest.raises(RunClaimedError, match=f"run {run_id} already has an open telemetry writer"):
            TelemetryWriter(store, run_id)
        first.log("train/loss", 1.0, step=0)
    with TelemetryWriter(store, run_id) as again:  # closed: the run is free
        again.log("train/loss", 2.0, step=1)
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 2


def test_a_writer_in_another_process_holds_the_run_until_it_dies(store, monkeypatch):
    # kill -9 runs no cleanup: the kernel drops the lock with the process, so the run can be resumed.
    monkeypatch.setattr(claims, "CLAIM_WAIT_S", 0.5)  # a claim held elsewhere is waited for this long
    run_id = store.client.create_run(store.experiment_id).info.run_id
    holder = _other(store, run_id)
    assert holder.stdout.readline().strip() == "opened"
    with pytest.raises(RunClaimedError, match=f"in another process \\(pid {holder.pid}; waited 0.5 s\\)"):
        TelemetryWriter(store, run_id)
    holder.send_signal(signal.SIGKILL)
    holder.wait(60)
    TelemetryWriter(store, run_id).close()


def test_a_claim_held_by_a_process_on_its_way_out_is_waited_for(store):
    # A trial Ray restores while its earlier attempt's process is still exiting gets the run then.
    run_id = store.client.create_run(store.experiment_id).info.run_id
    holder = _other(store, run_id)
    assert holder.stdout.readline().strip() == "opened"
    threading.Timer(1.0, holder.stdin.close).start()  # it logs a point and closes its writer
    with TelemetryWriter(store, run_id) as writer:  # waits, then writes
        writer.log("train/loss", 2.0, step=101)
    holder.wait(60)
    assert sorted(m.step for m in store.client.get_metric_history(run_id, "train/loss")) == [100, 101]


def test_a_run_handed_over_is_written_by_the_borrower_then_taken_back(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store, run_id) as parent:
        parent.log("train/loss", 0.5, step=0)
        with parent.handed_over():  # what runners/stages/parallel.py does around its ranks
            with pytest.raises(TelemetryError, match="handed over"):
                parent.log("train/loss", 9.9, step=50)  # meanwhile the parent may not log
            rank0 = _other(store, run_id)
            assert rank0.stdout.readline().strip() == "opened"
            rank0.communicate("", timeout=120)  # it logs step 100 and closes
            assert rank0.returncode == 0
        parent.log("train/loss", 0.25, step=200)  # taken back
    steps = sorted(m.step for m in store.client.get_metric_history(run_id, "train/loss"))
    assert steps == [0, 100, 200]


def test_taking_back_a_run_the_borrower_still_holds_fails_loudly(store):
    run_id = store.client.create_run(store.experiment_id).info.run_id
    with TelemetryWriter(store, run_id) as parent:
        with pytest.raises(RunClaimedError, match="already has an open telemetry writer"):
            with parent.handed_over():
                borrower = TelemetryWriter(store, run_id)  # never closed inside the block
        borrower.close()
        with parent.handed_over():  # closed in time: taken back
            TelemetryWriter(store, run_id).close()
        parent.log("train/loss", 1.0, step=0)
    assert len(store.client.get_metric_history(run_id, "train/loss")) == 1
