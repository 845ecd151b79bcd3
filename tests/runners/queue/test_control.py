"""One driver a session (runners/queue/control.py), without Ray: a live driver refuses a second one,
a dead one's session is continued, and `queue stop` with neither driver nor Ray accounts for
what was running."""

from __future__ import annotations

import os
import socket
import time

import pytest

from runners.cli import main
from runners.queue.control import open_or_continue
from tracker import queue_items as qi
from tracker import queue_sessions as qs
from tracker.store import TAG_QUEUE_DRIVER, TAG_QUEUE_HEARTBEAT


def as_driver(store, session: str, pid: int) -> None:
    """Make `pid` on this host the session's driver, seen just now."""
    store.client.set_tag(session, TAG_QUEUE_DRIVER, f"{socket.gethostname()}:{pid}")
    store.client.set_tag(session, TAG_QUEUE_HEARTBEAT, str(int(time.time() * 1000)))


def test_a_live_driver_refuses_a_second_and_a_dead_one_s_session_is_continued(store):
    until = int(time.time() * 1000) + 600_000
    session, continued = open_or_continue(store, until, None)
    assert not continued
    as_driver(store, session, os.getppid())  # a process that is alive: the driver is running
    with pytest.raises(qi.QueueError, match="a queue driver is already running"):
        open_or_continue(store, until + 1, None)
    as_driver(store, session, 2**22 + 7)  # no such process: its driver is gone
    assert open_or_continue(store, until + 2, 1.5) == (session, True)
    s = qs.get_session(store, session)
    assert (s.until_ms, s.budget) == (until + 2, 1.5)  # the new --until and budget apply
    assert len(qs.sessions(store)) == 1


def test_stop_with_no_driver_and_no_ray_ends_what_ran_killed(store, make_idea, capsys):
    from tracker.store import TAG_QUEUE_ITEM

    item = qi.add_item(store, idea_id=make_idea("i"), what="baseline", stage="baseline", task="digits")
    waiting = qi.add_item(store, idea_id=make_idea("j"), what="baseline", stage="baseline", task="digits")
    session, _ = open_or_continue(store, int(time.time() * 1000) + 600_000, None)
    qs.update_session(store, session, dashboard="http://127.0.0.1:9")  # nothing answers there
    qi.set_state(store, item, "running", session=session, started=int(time.time() * 1000))
    run = store.client.create_run(store.experiment_id, tags={TAG_QUEUE_ITEM: item})  # its run, RUNNING
    assert main(["queue", "stop", "--wait", "1"]) == 0
    assert qi.get_item(store, item).state == "killed"
    assert qi.get_item(store, waiting).state == "queued"  # for the next night
    assert store.client.get_run(run.info.run_id).info.status == "KILLED"
    assert qs.get_session(store, session).state == "stopped"
    assert main(["queue", "stop"]) == 1  # nothing runs any more
    assert "no session is running" in capsys.readouterr().err
