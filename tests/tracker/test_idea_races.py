"""Concurrent edits of one idea on PostgreSQL and MariaDB: no revision lost, none overwritten.

Why: on a team database two board sessions and a sweep's outcome write the same idea at
the same moment. Each revision claims an immutable param `revision.NNNN`; the loser of a
race must see the conflict and claim the next number (tracker/ideas.py). On SQLite one
writer at a time makes that easy; here the databases run the transactions truly at once
(row locks, unique-key races, MariaDB's repeatable read), so this counts every revision.
"""

from __future__ import annotations

import threading

import pytest

from tracker.estimates import Estimates
from tracker.ideas import add_idea, get_idea, update_idea
from tracker.store import Store

EDITS = 40  # per board session
ACCEPTS = 20  # evidence revisions from the sweep's side
ACCEPTED = {"status": "in_progress", "source": "evidence"}  # as tracker.outcomes.accept writes them


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_two_sessions_and_a_sweep_editing_one_idea_lose_no_revision(kind, request, monkeypatch, tracking_dir):
    uri = request.getfixturevalue(f"{'postgres' if kind == 'postgresql' else 'mariadb'}_uri")
    monkeypatch.chdir(tracking_dir)
    store = Store(project=f"race-{kind}", uri=uri)
    idea = add_idea(store, "raced", Estimates.parse(hours=2, complexity=2, impact=0.01, likelihood=0.5))
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def session(name: str, count: int, **edit) -> None:
        mine = Store(project=store.project, uri=uri)  # each session its own Store, as the board's
        start.wait()
        try:
            for i in range(count):
                update_idea(mine, idea, changes={"hours": 1 + i}, note=f"{name}-{i}", **edit)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=session, args=("alice", EDITS)),
        threading.Thread(target=session, args=("bob", EDITS), kwargs={"description": "edited by bob"}),
        threading.Thread(target=session, args=("sweep", ACCEPTS), kwargs=ACCEPTED),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    _, revisions, _ = get_idea(store, idea)
    notes = [r.note for r in revisions]
    counts = {"alice": EDITS, "bob": EDITS, "sweep": ACCEPTS}
    expected = {f"{name}-{i}" for name, count in counts.items() for i in range(count)}
    assert len(revisions) == 1 + 2 * EDITS + ACCEPTS  # the creation and every edit
    assert set(notes) - {"created"} == expected
    assert [r.number for r in revisions] == list(range(len(revisions)))  # unique numbers, no gap
    history = store.client.get_metric_history(idea, "estimate/hours")
    assert sorted(m.step for m in history) == list(range(len(revisions)))  # each revision's estimate
