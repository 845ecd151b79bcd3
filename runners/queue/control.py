"""Starting and stopping a queue session: one driver at a time, continued after a crash, stopped
on request (`idealoop queue start` / `queue stop`).

A session's driver is alive while its heartbeat is fresh (on this host: while its process
exists); `queue start` refuses a second driver, and continues a session whose driver is
gone. `queue stop` asks a live driver to stop its items and end the session, or does it
itself through the session's Ray when the driver is gone.
"""

from __future__ import annotations

import os
import socket
import time

from runners.queue import ray_head
from runners.queue.driver import POLL_S, STALE_S, Driver, now_ms, run
from tracker import queue_items as qi
from tracker import queue_sessions as qs


def driver_alive(session: qs.Session) -> bool:
    if not session.driver:
        return False
    host, _, pid = session.driver.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return int(pid) != os.getpid() and now_ms() - session.heartbeat_ms < 10 * STALE_S * 1000
    return now_ms() - session.heartbeat_ms < STALE_S * 1000


def open_or_continue(store, until_ms: int, budget: float | None) -> tuple[str, bool]:
    """(session id, continued?): the running session whose driver is gone, or a new one."""
    running = [s for s in qs.sessions(store) if s.state == "running"]
    if running:
        s = running[-1]
        if driver_alive(s):
            ago = (now_ms() - s.heartbeat_ms) / 1000
            raise qi.QueueError(
                f"a queue driver is already running ({s.driver}, heartbeat {ago:.0f} s ago); "
                "`idealoop queue stop` stops it"
            )
        qs.update_session(store, s.id, until=until_ms, budget="" if budget is None else budget, stop="")
        return s.id, True
    return qs.open_session(store, until_ms=until_ms, budget=budget), False


def stop_queue(store, *, wait_s: float = 120.0, say=print, poll_s: float = POLL_S) -> bool:
    """`queue stop`: ask the running session's driver to stop its items and end; with no live
    driver, stop them from here (through the session's Ray). False when no session runs."""
    running = [s for s in qs.sessions(store) if s.state == "running"]
    if not running:
        say("queue: no session is running")
        return False
    session = running[-1]
    qs.update_session(store, session.id, stop="requested")
    if driver_alive(session):
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            if qs.get_session(store, session.id).state != "running":
                say(f"queue: session {session.id} stopped")
                return True
            time.sleep(poll_s / 2)
        say(f"queue: stop requested; the driver ({session.driver}) has not finished within {wait_s:g} s")
        return True
    if not session.dashboard or not ray_head.answers(session.dashboard):
        for item in qi.list_items(store, qi.ACTIVE):
            qs.end_item_runs(store, item.id, "stopped")
            qi.set_state(store, item.id, "killed", "stopped; its Ray was gone", ended=now_ms())
        qs.update_session(store, session.id, state="stopped", reason="stopped", ended=now_ms())
        say(f"queue: session {session.id} stopped (its Ray was gone)")
        return True
    run(Driver(store, session.id, say=say), poll_s)
    return True
