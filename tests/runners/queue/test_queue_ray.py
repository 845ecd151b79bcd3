"""`idealoop queue start` on a real local Ray (a `ray start --head` the queue starts, with its
jobs API) and a real MLflow store: one night of six items, end to end.

The driver runs as a separate process, as a user runs it, and is killed twice: once with
SIGKILL mid-queue, once with SIGTERM; each restart continues the same session from what
MLflow and Ray hold. The third driver gets a deadline a few seconds away, which stops the
last running item. The items are tiny (the digits baseline, a failing task) except one long
generalize run, mostly asleep, that only the deadline ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners.cli import main

ROOT = Path(__file__).resolve().parents[3]
SLOW = "tests.runners.sweeps.tune_task:make_task"
HEAD = ["--num-cpus", "3", "--num-gpus", "1"]  # a declared GPU: Ray schedules it, nothing uses it


def driver(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "runners.cli", "queue", "start", *HEAD, "--poll", "1", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(what, timeout_s: float, proc: subprocess.Popen | None = None):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the driver exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what.__doc__}")


def add(capsys, *args: str) -> str:
    assert main(["queue", "add", *args]) == 0
    return capsys.readouterr().out.strip()


def test_a_night_runs_in_rank_order_packs_survives_restarts_and_accounts_for_every_item(
    store, make_idea, capsys
):
    from runners.queue.ray_head import is_ray_head
    from tracker import queue_items as qi
    from tracker import queue_sessions as qs
    from tracker.queries import run_row
    from tracker.queue_report import queue_rows

    # Ideas of falling score: the queue runs their items best first.
    ideas = [make_idea(f"idea {n}", impact=0.1 / (n + 1)) for n in range(5)]
    base = ["--stage", "baseline", "--minutes", "0.5"]
    # The long one sleeps 50 ms a step (tune_task's seed >= 100): it holds its CPU, it does not burn it.
    long = add(capsys, "--idea", ideas[4], "--stage", "generalize", "--task", SLOW, "--set", "seed=100",
               "--set", "epochs=300", "--minutes", "0.5", "--priority", "5")  # fmt: skip
    b = add(capsys, "--idea", ideas[0], *base, "--cpus", "1")
    c = add(capsys, "--idea", ideas[1], *base, "--cpus", "0.5", "--gpus", "0.5")
    d = add(capsys, "--idea", ideas[2], *base, "--cpus", "0.5", "--gpus", "0.5")
    # Added behind the CLI's checks: a task that does not exist fails only when it runs.
    f = qi.add_item(store, idea_id=ideas[4], what="baseline", stage="baseline", task="no_such_task",
                    overrides={"task": "no_such_task"}, cpus=0.5, minutes=0.5)  # fmt: skip
    g = add(capsys, "--idea", ideas[0], "--stage", "baseline", "--minutes", "600")  # cannot finish by then
    order = [r.item.id for r in queue_rows(store)]
    assert order[:2] == [long, b]  # the explicit priority first, then the best idea
    assert set(order) == {long, b, c, d, f, g}

    def state():
        return {i.id: i.state for i in qi.list_items(store)}

    first = driver("--until", "+10m")
    wait_for(lambda: state()[long] == "running" and "done" in state().values(), 120, first)
    first.kill()  # SIGKILL: no goodbye; its jobs go on in Ray
    first.wait()
    second = driver("--until", "+10m")
    ended = ("done", "failed", "skipped")

    def short_items_ended():
        """every item but the long one ended"""
        return all(s in ended for i, s in state().items() if i != long)

    wait_for(short_items_ended, 150, second)
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 130
    third = driver("--until", "+3s")  # the deadline stops the long run
    assert third.wait(120) == 0, third.stderr.read()[-2000:]

    items = {i.id: i for i in qi.list_items(store)}
    assert {k: i.state for k, i in items.items()} == {
        long: "killed",
        b: "done",
        c: "done",
        d: "done",
        f: "failed",
        g: "skipped",
    }
    assert items[long].reason == "deadline"
    assert items[g].reason.startswith("deadline: needs ~600 min")
    assert "no_such_task" in items[f].reason and "no_such_task" in qi.log_tail(store, f)
    # The long run was stopped cleanly, and says why.
    (run,) = qi.runs_of(store, long)
    row = run_row(run)
    assert (row.status, row.end_reason) == ("KILLED", "deadline")
    assert all(run_row(r).status == "FINISHED" for i in (b, c, d) for r in qi.runs_of(store, i))

    # One session, continued twice; it ended and took its Ray head down with it.
    (session,) = qs.sessions(store)
    assert session.state == "finished" and session.capacity == {"CPU": 3.0, "GPU": 1.0}
    wait_for(lambda: not is_ray_head(session.head_pid), 30)  # gone (reaped by whoever adopted it)
    assert {i.session for i in items.values()} == {session.id}

    # Nothing ran twice: one stage run per item that ran (Ray refused a second job per item).
    assert {k: len(qi.runs_of(store, k)) for k in (long, b, c, d)} == dict.fromkeys((long, b, c, d), 1)

    # Rank order: priority, then score per GPU-hour (a GPU costs 8 CPUs): long, b, f, c, d. The first
    # four fill the 3 CPUs; d waited until one of them had ended.
    assert order == [long, b, f, c, d, g]
    starts = {i: items[i].started_ms for i in order if items[i].started_ms}
    assert sorted(starts, key=starts.get) == [long, b, f, c, d]
    assert starts[d] >= min(items[i].ended_ms for i in (b, f, c)) - 1000  # Ray's clock vs ours: 1 s
    # Packed: never more held than the cluster has, and more than one item at a time.
    events = sorted([(starts[i], 1, i) for i in starts] + [(items[i].ended_ms, -1, i) for i in starts])
    held, peak_cpus = {"CPU": 0.0, "GPU": 0.0}, 0.0
    for _, sign, i in events:
        cpus, gpus = items[i].held
        held = {"CPU": held["CPU"] + sign * cpus, "GPU": held["GPU"] + sign * gpus}
        assert held["CPU"] <= 3 + 1e-9 and held["GPU"] <= 1 + 1e-9, (i, held)
        peak_cpus = max(peak_cpus, held["CPU"])
    assert peak_cpus == 3  # the long run, b, f and c together

    assert main(["queue", "report"]) == 0
    text = capsys.readouterr().out
    for i in (long, b, c, d, f, g):
        assert i[:8] in text
    assert "CPU-hours used" in text and "log tail of" in text


def test_the_gpu_hour_budget_skips_what_would_overrun_it_and_stops_gpu_items_once_spent(
    store, make_idea, capsys
):
    from tracker import queue_items as qi
    from tracker import queue_sessions as qs
    from tracker.queries import run_row

    budget = (
        0.0015  # GPU-hours: 21.6 s of a quarter of the declared GPU (its run exists by then, even under load)
    )
    idea = make_idea("budget")
    # Estimated at 6 min of a whole GPU: 0.1 GPU-hours, never started (it would finish by the deadline).
    big = add(capsys, "--idea", idea, "--stage", "baseline", "--gpus", "1", "--minutes", "6")
    # Estimated at 3 s of a quarter GPU (within the budget), but it runs for minutes: the budget stops it.
    slow = add(capsys, "--idea", idea, "--stage", "generalize", "--task", SLOW, "--set", "seed=100",
               "--set", "epochs=300", "--gpus", "0.25", "--minutes", "0.05")  # fmt: skip
    cpu = add(capsys, "--idea", idea, "--stage", "baseline", "--cpus", "1", "--minutes", "0.5")  # costs none
    proc = driver("--until", "+10m", "--budget-gpu-hours", str(budget))
    assert proc.wait(180) == 0, proc.stderr.read()[-2000:]

    items = {i.id: i for i in qi.list_items(store)}
    assert (items[big].state, items[slow].state, items[cpu].state) == ("skipped", "killed", "done")
    assert items[big].reason.startswith("budget: needs ~0.1 GPU-hours")
    assert items[slow].reason == "budget"
    (run,) = qi.runs_of(store, slow)
    assert (run_row(run).status, run_row(run).end_reason) == ("KILLED", "budget")
    (session,) = qs.sessions(store)
    assert session.state == "finished"
    capsys.readouterr()
    assert main(["queue", "report", "--json"]) == 0
    used = json.loads(capsys.readouterr().out)["usage"]["gpu_used"]
    assert budget <= used < budget + 0.25 * 10 / 3600  # spent, and stopped within a few polls of it
