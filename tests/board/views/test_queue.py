"""The Queue page in AppTest: the queue in run order, reordering, adding from an idea, the report.

The night itself is written as the driver writes it (tracker/queue_*), without Ray: the
driver on a real Ray is tests/runners/queue/test_queue_ray.py.
"""

from __future__ import annotations

import time

from tracker import queue_items as qi
from tracker import queue_sessions as qs


def queued_ids(at) -> list[str]:
    return list(at.dataframe[0].value["id"])


def test_the_queue_in_run_order_moves_and_adds_from_an_idea(store, make_idea, page):
    top = make_idea("Top idea", impact=0.1)
    low = make_idea("Low idea", impact=0.01)
    add = lambda idea: qi.add_item(
        store, idea_id=idea, what="baseline", stage="baseline", task="digits", minutes=1
    )  # noqa: E731
    a, b = add(low), add(top)
    at = page("queue")
    assert not at.exception
    assert queued_ids(at) == [b[:8], a[:8]]  # by the idea's score, not by when it was added
    at.selectbox(key="queue_pick").set_value(a)
    at = at.button(key="queue_up").click().run()
    assert queued_ids(at) == [a[:8], b[:8]]
    assert qi.get_item(store, a).priority > qi.get_item(store, b).priority

    # Add from an idea: the CLI's own checks run (a process), the item appears in the queue.
    at.selectbox[1].set_value(top)  # the form's idea
    at.text_area[0].set_value("epochs=1")
    at = at.button[3].click().run(timeout=180)
    assert not at.error, [e.value for e in at.error]
    (new,) = [i for i in qi.list_items(store) if i.id not in (a, b)]
    assert (new.what, new.idea_id, new.overrides) == ("generalize", top, {"epochs": "1", "task": "digits"})
    at = at.run()
    assert new.id[:8] in queued_ids(at)

    # A whole climb of the idea, as one item (the ladder up to generalize).
    at.selectbox[2].set_value("climb")  # the form's "Run"
    at.text_area[0].set_value("seed=2")
    at = at.button[3].click().run(timeout=180)
    assert not at.error, [e.value for e in at.error]
    (climb,) = [i for i in qi.list_items(store) if i.what == "climb"]
    want = ("generalize", top, {"seed": "2", "task": "digits"})
    assert (climb.stage, climb.idea_id, climb.overrides) == want


def test_the_morning_report_shows_each_fate_the_hours_and_a_failure_s_log(store, make_idea, page):
    idea = make_idea("Reported idea")
    done = qi.add_item(store, idea_id=idea, what="baseline", stage="baseline", task="digits")
    failed = qi.add_item(store, idea_id=idea, what="overfit", stage="overfit", task="digits")
    session = qs.open_session(store, until_ms=int(time.time() * 1000), budget=None)
    now = int(time.time() * 1000)
    qi.set_state(store, done, "done", "completed", session=session, started=now - 120_000, ended=now)
    qi.set_state(
        store, failed, "failed", "RuntimeError: out of memory", session=session, started=now, ended=now
    )
    qi.save_log_tail(store, failed, "Traceback ...\nidealoop: error: RuntimeError: out of memory")
    qs.update_session(store, session, state="finished", reason="queue empty", ended=now, capacity={"CPU": 2})
    qs.log_usage(store, session, {"cpu_used": 0.03, "cpu_idle": 0.5, "gpu_used": 0.0, "gpu_idle": 0.0})
    at = page("queue")
    assert not at.exception
    fates = at.dataframe[-1].value
    assert dict(zip(fates["id"], fates["fate"], strict=True)) == {done[:8]: "done", failed[:8]: "failed"}
    assert "RuntimeError: out of memory" in list(fates["why"])
    assert [m.value for m in at.metric][2:4] == ["0.03", "0.50"]  # CPU-hours used, idle
    assert "idealoop: error: RuntimeError: out of memory" in at.code[0].value
